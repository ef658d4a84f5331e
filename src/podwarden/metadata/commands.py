"""`podwarden proxy`: run the metadata firewall in front of one metadata service.

Parses flags into `ProxySettings`, configures JSON logs, runs the proxy on
uvloop when it is installed, and turns SIGTERM/SIGINT into a bounded drain
followed by exit 0. A bad policy file or flag exits 2 with the flag and reason
(`flags.SettingsCommand`).
"""

from __future__ import annotations

import asyncio
import signal
import sys
from typing import Any

import click

from podwarden import flags, logs
from podwarden.metadata import proxy as proxy_server
from podwarden.metadata.identity import serving
from podwarden.metadata.identity.config import IdentityConfig, Plan
from podwarden.metadata.settings import ProxyConfig, ProxySettings


class _Flags(IdentityConfig, ProxyConfig):
    """`podwarden proxy`'s flags: the proxy's and pod identity's."""


@click.command(cls=flags.SettingsCommand)
@flags.options(_Flags)
def proxy(**values: Any) -> None:
    """Run the metadata firewall proxy (deny by default, conceal node secrets)."""
    chosen = flags.load(_Flags, values)
    logs.configure(level=chosen.log_level)
    settings = chosen.settings()
    identity = chosen.plan(settings.provider)
    _install_uvloop()
    try:
        asyncio.run(_serve(settings, identity))
    except OSError as exc:
        click.echo(
            f"podwarden proxy: cannot listen on {chosen.listen}: {exc.strerror or exc}", err=True
        )
        sys.exit(1)


async def _serve(settings: ProxySettings, identity: Plan | None = None) -> None:
    log = logs.get("metadata.proxy")
    pods = None
    if identity is not None:
        pods = await serving.start(identity, upstream_url=settings.upstream_url)
    running = await proxy_server.start(settings, **(pods.proxy_kwargs(settings) if pods else {}))
    log.info(
        "listening",
        provider=settings.provider.value,
        listen=f"{settings.listen_host}:{running.port}",
        upstream=settings.upstream_url,
        metrics_port=running.metrics_port,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()
    log.info("draining", inflight=running.inflight, timeout=settings.drain_timeout)
    await running.stop()
    if pods is not None:
        await pods.close()
    log.info("stopped")


def _install_uvloop() -> None:
    try:
        import uvloop
    except ImportError:  # optional: plain asyncio works, just slower
        return
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
