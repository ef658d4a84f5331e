"""The agent's life: proxy up, rules in, reconcile until told to stop.

Order matters for the exposure window. The proxy listens before the rules
are (re)applied, and the table is replaced atomically, so a restarting agent
never leaves a moment where pod traffic reaches the real service: while it
is down the DNAT still points at its closed port (TCP reset), and the
`refuse_metadata` chain rejects whatever was not redirected. On SIGTERM the
agent stops the proxy and leaves every rule in place; only `podwarden rules
remove` takes them out.

Pod identity (when a cluster source is configured) starts before the
proxies, exactly as `podwarden proxy` starts it, and serves both of them.
Host-network processes redirected from the pod cgroup arrive from a node
address that no pod owns: the resolver finds no pod, so they get benign
metadata and no role.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, Gauge, generate_latest

from podwarden import config as settings_files
from podwarden import logs
from podwarden.agent.settings import AgentConfig
from podwarden.metadata import proxy
from podwarden.metadata.identity import serving
from podwarden.netfilter import backends, reconcile, render, settings
from podwarden.netfilter.runner import Runner

_log = logs.get("agent")

READY = Gauge(
    "podwarden_agent_ready",
    "1 while this agent is ready (proxy serving, rules matching the rendered set), else 0;"
    " what /readyz answers, for alerts",
)


@dataclass
class AgentState:
    """What readiness looks at: proxy serving and rules matching the rendered set."""

    proxies: list[proxy.RunningProxy] = field(default_factory=list)
    rules_ok: bool = False
    started: float = field(default_factory=time.monotonic)

    def ready(self) -> bool:
        return bool(self.proxies) and self.rules_ok and not any(p.draining for p in self.proxies)

    def publish(self) -> None:
        """Copy readiness to the `podwarden_agent_ready` gauge (after every change)."""
        READY.set(1 if self.ready() else 0)


async def run(config: AgentConfig, *, stop: asyncio.Event, runner: Runner | None = None) -> None:
    """Run until `stop` is set; ConfigError / OSError / NetfilterError end it early."""
    config = config.checked()
    spec = settings.rule_spec(config, exempt_self=True)
    runner = runner or Runner()
    installer = reconcile.Installer(
        backends.select(config.backend, runner=runner),
        render.render(spec),
        runner,
        flush_conntrack=config.flush_conntrack,
    )
    plan = config.identity_plan()
    state = AgentState()
    state.publish()
    health = await _start_health(config, state)
    pods: serving.Running | None = None
    try:
        if plan is not None:
            pods = await serving.start(plan, upstream_url=str(config.upstream))
        listens = [listen for listen in (config.listen, config.listen6) if listen]
        for index, listen in enumerate(listens):
            wanted = config.proxy_settings(config.proxy_provider, listen=listen, metrics=index == 0)
            extra = pods.proxy_kwargs(wanted) if pods is not None else {}
            running = await proxy.start(wanted, **extra)
            state.proxies.append(running)
            _log.info("proxy listening", listen=listen, port=running.port)
        await asyncio.to_thread(installer.install)
        state.rules_ok = True
        state.publish()
        await _reconcile(installer, state, period=config.reconcile_period, stop=stop)
    finally:
        READY.set(0)
        for running in state.proxies:
            await running.stop(drain_timeout=2.0)
        if pods is not None:
            await pods.close()
        if health is not None:
            await health.cleanup()
        _log.info("agent stopped; interception rules left in place")


async def _reconcile(
    installer: reconcile.Installer, state: AgentState, *, period: float, stop: asyncio.Event
) -> None:
    while not stop.is_set():
        try:
            await asyncio.wait_for(stop.wait(), timeout=period)
            return
        except TimeoutError:
            pass
        try:
            await asyncio.to_thread(installer.reconcile_once)
            state.rules_ok = True
        except Exception as exc:  # a failed repair must not kill the proxy; retried next period
            state.rules_ok = False
            reconcile.CHECK_ERRORS.labels(installer.backend.name).inc()
            _log.error("reconcile failed", error=str(exc))
        state.publish()


async def _start_health(config: AgentConfig, state: AgentState) -> web.AppRunner | None:
    if not config.health_listen:
        return None
    host, port = settings_files.host_port(config.health_listen, key="health_listen")

    async def healthz(_: web.Request) -> web.Response:
        return web.Response(text="ok\n")

    async def readyz(_: web.Request) -> web.Response:
        ok = state.ready()
        return web.Response(status=200 if ok else 503, text="ready\n" if ok else "not ready\n")

    async def metrics(_: web.Request) -> web.Response:
        return web.Response(body=generate_latest(), headers={"Content-Type": CONTENT_TYPE_LATEST})

    app = web.Application()
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics)
    app_runner = web.AppRunner(app, access_log=None)
    await app_runner.setup()
    await web.TCPSite(app_runner, host, port).start()
    return app_runner
