"""`podwarden lab apiserver --listen HOST:PORT [--state FILE] [--sar-answers FILE]`."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from pathlib import Path

import click

from podwarden import logs
from podwarden.config import ConfigError, host_port
from podwarden.lab.apiserver.sar_answers import AnswerTable
from podwarden.lab.apiserver.server import LabApiServer


def _split_listen(value: str) -> tuple[str, int]:
    try:
        return host_port(value, key="--listen")
    except ConfigError as exc:
        raise click.BadParameter(str(exc)) from None


async def _serve(
    server: LabApiServer, host: str, port: int, tls_cert: Path | None, tls_key: Path | None
) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    url = await server.start(host, port, tls_cert=tls_cert, tls_key=tls_key)
    click.echo(f"serving the lab Kubernetes API at {url}", err=True)
    try:
        await stop.wait()
    finally:
        await server.stop()


@click.command()
@click.option("--listen", required=True, help="HOST:PORT to listen on (loopback is enough).")
@click.option(
    "--state",
    "state_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="JSON or YAML file loaded at start and rewritten after every change.",
)
@click.option(
    "--sar-answers",
    "sar_answers_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="YAML or JSON table of SubjectAccessReview answers (exact questions); "
    "every other question is denied.",
)
@click.option(
    "--tls-cert",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Serve HTTPS with this PEM certificate (chain).",
)
@click.option(
    "--tls-key",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The PEM private key of --tls-cert.",
)
@click.option(
    "--token",
    envvar="PODWARDEN_LAB_APISERVER_TOKEN",
    help="Require this bearer token on every request (default: no authentication).",
)
@click.option(
    "--auth-config",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Users (tokens), authorizer chain and admission webhooks (YAML, re-read on change).",
)
@click.option(
    "--history",
    default=10_000,
    show_default=True,
    help="Watch events kept; older resourceVersions get 410 Expired.",
)
@click.option(
    "--bookmark-interval",
    default=5.0,
    show_default=True,
    help="Seconds between BOOKMARK events on idle watches that asked for them.",
)
@click.option(
    "--watch-delay",
    default=0.0,
    show_default=True,
    help="Hold every watch event back this many seconds (to test late events).",
)
@click.option(
    "--pod-termination",
    default=0.0,
    show_default=True,
    help="Seconds (at most) a deleted pod stays Terminating, as if a kubelet ran it; "
    "0 deletes at once.",
)
def apiserver(
    listen: str,
    state_file: Path | None,
    sar_answers_file: Path | None,
    tls_cert: Path | None,
    tls_key: Path | None,
    token: str | None,
    auth_config: Path | None,
    history: int,
    bookmark_interval: float,
    watch_delay: float,
    pod_termination: float,
) -> None:
    """Serve an embedded Kubernetes API (what podwarden and kubectl use)."""
    if (tls_cert is None) != (tls_key is None):
        raise click.UsageError("--tls-cert and --tls-key go together")
    host, port = _split_listen(listen)
    logs.configure()
    try:
        server = LabApiServer(
            state_file=state_file,
            history=history,
            bookmark_interval=bookmark_interval,
            watch_delay=watch_delay,
            pod_termination=pod_termination,
            token=token,
            sar_answers=AnswerTable.load(sar_answers_file) if sar_answers_file else None,
            auth_config=auth_config,
        )
    except ConfigError as exc:
        # A bad fixture file (state, answer table, auth config) is a usage error: exit 2.
        raise click.UsageError(str(exc)) from None
    asyncio.run(_serve(server, host, port, tls_cert, tls_key))
