"""`podwarden proxy`: run the metadata firewall in front of one metadata service.

Parses flags into `ProxySettings`, configures JSON logs, runs the proxy on
uvloop when it is installed, and turns SIGTERM/SIGINT into a bounded drain
followed by exit 0. A bad policy file or flag exits 2 with the key and reason.
"""

from __future__ import annotations

import asyncio
import signal
import sys
from pathlib import Path
from typing import Any

import click

from podwarden import logs
from podwarden.config import ConfigError
from podwarden.metadata import proxy as proxy_server
from podwarden.metadata.identity import cli as identity_cli
from podwarden.metadata.model import ProviderName
from podwarden.metadata.settings import ProxySettings, parse_host_port

EXIT_CONFIG = 2


@click.command()
@click.option(
    "--provider",
    required=True,
    type=click.Choice([p.value for p in ProviderName]),
    help="Which cloud's metadata protocol to speak.",
)
@click.option("--upstream", required=True, help="The metadata service, e.g. http://169.254.169.254")
@click.option("--listen", required=True, help="HOST:PORT to serve pods on.")
@click.option(
    "--policy",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="YAML rules that extend or replace the provider's strict preset.",
)
@click.option("--metrics-listen", default=None, help="HOST:PORT for /metrics, /healthz, /readyz.")
@click.option(
    "--log-level",
    default="info",
    type=click.Choice(["debug", "info", "warning", "error"]),
    show_default=True,
)
@click.option("--upstream-timeout", default=5.0, show_default=True, help="Seconds per read.")
@click.option("--drain-timeout", default=10.0, show_default=True, help="Seconds to drain on stop.")
@click.option(
    "--header-timeout",
    default=10.0,
    show_default=True,
    help="Seconds a client has to send a whole request (slow clients are cut off).",
)
@click.option(
    "--max-connections",
    default=4096,
    show_default=True,
    help="Open client connections at most; more get 503 and are closed.",
)
@click.option(
    "--max-connections-per-client",
    default=256,
    show_default=True,
    help="Open connections one client address may hold.",
)
@click.option(
    "--long-polls-per-client",
    default=4,
    show_default=True,
    help="GCE wait_for_change requests one client address may hold at once.",
)
@click.option(
    "--long-poll-pool",
    default=32,
    show_default=True,
    help="GCE wait_for_change requests held upstream at once for all clients "
    "(their own connections, apart from ordinary requests).",
)
@click.option(
    "--token-key-file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Key for the IMDSv2 tokens the proxy issues (created 0600 if missing); "
    "with it, tokens survive a restart.",
)
@identity_cli.options
def proxy(
    provider: str,
    upstream: str,
    listen: str,
    policy: Path | None,
    metrics_listen: str | None,
    log_level: str,
    upstream_timeout: float,
    drain_timeout: float,
    header_timeout: float,
    max_connections: int,
    max_connections_per_client: int,
    long_polls_per_client: int,
    long_poll_pool: int,
    token_key_file: Path | None,
    **identity_flags: Any,
) -> None:
    """Run the metadata firewall proxy (deny by default, conceal node secrets)."""
    logs.configure(level=log_level)
    try:
        host, port = parse_host_port(listen, option="--listen")
        metrics_host, metrics_port = (
            parse_host_port(metrics_listen, option="--metrics-listen")
            if metrics_listen
            else (None, 0)
        )
        settings = ProxySettings(
            provider=ProviderName(provider),
            upstream_url=upstream,
            listen_host=host,
            listen_port=port,
            policy_file=policy,
            metrics_host=metrics_host,
            metrics_port=metrics_port,
            upstream_timeout=upstream_timeout,
            drain_timeout=drain_timeout,
            long_polls_per_client=long_polls_per_client,
            long_poll_pool_size=long_poll_pool,
            token_key_file=token_key_file,
            header_timeout=header_timeout,
            max_connections=max_connections,
            max_connections_per_client=max_connections_per_client,
        )
        identity = identity_cli.parse(settings.provider, identity_flags)
    except ConfigError as exc:
        _fail(str(exc))
    _install_uvloop()
    try:
        asyncio.run(_serve(settings, identity))
    except ConfigError as exc:
        _fail(str(exc))
    except OSError as exc:
        click.echo(f"podwarden proxy: cannot listen on {listen}: {exc.strerror or exc}", err=True)
        sys.exit(1)


async def _serve(settings: ProxySettings, identity: identity_cli.Plan | None = None) -> None:
    log = logs.get("metadata.proxy")
    pods = None
    if identity is not None:
        pods = await identity_cli.start(identity, upstream_url=settings.upstream_url)
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


def _fail(message: str) -> None:
    click.echo(f"podwarden proxy: configuration error:\n{message}", err=True)
    sys.exit(EXIT_CONFIG)
