"""Wiring for `podwarden nodeauth serve`: the cluster source, the engine, TLS, the listener.

`--kubeconfig` / `--in-cluster` follow the API server cluster-wide with kube/feed.py
(pods, nodes, PVs, PVCs, attachments, slices, service accounts, CSI drivers, RBAC);
`--cluster-file` reads the same kinds from a file and re-reads it when it changes (a
file that stops parsing keeps the last good view). The serving certificate is
reloaded when its files change, as the admission webhook does it (webhooks/tls.py).
`drain()` is the SIGTERM path: /readyz turns 503 at once, the listener closes
`drainSeconds` later, and requests in flight finish.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path

from aiohttp import web

from podwarden import logs
from podwarden.config import ConfigError
from podwarden.kube import client, feed, filesource, sync
from podwarden.nodeauth.engine import Engine
from podwarden.webhooks import authz_app, server, tls
from podwarden.webhooks.authz_settings import NodeAuthSettings
from podwarden.webhooks.authz_view import NodeAuthView

_log = logs.get("webhooks.nodeauth.server")


@dataclass
class Running:
    url: str
    server: authz_app.NodeAuthServer
    tls: tls.ReloadingContext
    runner: web.AppRunner
    drain_seconds: float
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    api: client.Api | None = None

    async def drain(self) -> None:
        self.server.draining = True
        await asyncio.sleep(self.drain_seconds)
        await self.stop()

    async def stop(self) -> None:
        await server.stop_serving(self.tasks, self.runner, self.api)


async def _follow_file(view: NodeAuthView, path: Path, poll_interval: float) -> None:
    seen = filesource.signature(path)
    while True:
        await asyncio.sleep(poll_interval)
        current = filesource.signature(path)
        if current == seen:
            continue
        seen = current
        try:
            count = view.load_file(path)
        except ConfigError as exc:
            _log.error("cluster file not reloaded; keeping the last good view", error=str(exc))
        else:
            _log.info("cluster file reloaded", path=str(path), objects=count)


async def start(
    *,
    host: str,
    port: int,
    tls_cert: Path,
    tls_key: Path,
    settings: NodeAuthSettings,
    kubeconfig: Path | None = None,
    cluster_file: Path | None = None,
    in_cluster: bool = False,
    poll_interval: float = 1.0,
) -> Running:
    """Start serving; raises ConfigError for unusable flags or files."""
    if sum((kubeconfig is not None, cluster_file is not None, in_cluster)) != 1:
        raise ValueError("exactly one of kubeconfig, cluster_file and in_cluster is required")
    context = tls.ReloadingContext(tls_cert, tls_key)
    view = NodeAuthView(audience_grants=settings.audience_grants_from_rbac)
    engine = Engine(
        view.state,
        rules=settings.rules,
        mode=settings.mode,
        scoped_accounts=frozenset(settings.node_scoped_service_accounts),
    )
    tasks: list[asyncio.Task[None]] = []
    api: client.Api | None = None
    if cluster_file is not None:
        count = view.load_file(cluster_file)
        _log.info("cluster file loaded", path=str(cluster_file), objects=count)
        tasks.append(asyncio.create_task(_follow_file(view, cluster_file, poll_interval)))
    else:
        api = sync.open_api(kubeconfig=kubeconfig, in_cluster=in_cluster)
        watched = feed.NODE_GRAPH + feed.RBAC
        source = feed.Feed(api, view, watched)

        async def mark_synced() -> None:
            await source.synced.wait()
            view.synced.set()
            _log.info("cluster listed", counts=view.state.graph.counts())

        tasks.append(asyncio.create_task(source.run(), name="nodeauth-feed"))
        tasks.append(asyncio.create_task(mark_synced(), name="nodeauth-synced"))
    tasks.append(asyncio.create_task(context.follow(poll_interval=poll_interval)))
    answering = authz_app.NodeAuthServer(view=view, engine=engine)
    runner = web.AppRunner(authz_app.build(answering), access_log=None, shutdown_timeout=5.0)
    await runner.setup()
    site = web.TCPSite(runner, host, port, ssl_context=context.context, backlog=1024)
    await site.start()
    port = port or int(runner.addresses[0][1])
    shown = f"[{host}]" if ":" in host else host
    url = f"https://{shown}:{port}"
    _log.info("nodeauth listening", url=url, mode=settings.mode, rules=settings.rules.label())
    return Running(url, answering, context, runner, settings.drain_seconds, tasks, api)
