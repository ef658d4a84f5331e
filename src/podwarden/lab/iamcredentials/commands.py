"""`podwarden lab iamcredentials`: serve the local IAM Credentials API until SIGTERM/SIGINT."""

from __future__ import annotations

import asyncio
import signal

import click

from podwarden import config, logs
from podwarden.lab.iamcredentials import app


def _grants(values: tuple[str, ...]) -> dict[str, set[str]]:
    grants: dict[str, set[str]] = {}
    for value in values:
        token, sep, emails = value.partition("=")
        if not sep or not token or not emails:
            raise click.BadParameter(f"{value!r}: expected CALLER_TOKEN=EMAIL[,EMAIL...] or =*")
        grants.setdefault(token, set()).update(e for e in emails.split(",") if e)
    return grants


async def _serve(state: app.IamState, host: str, port: int) -> None:
    runner = await app.start(state, host, port)
    logs.get("lab.iamcredentials").info("listening", host=host, port=port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()


@click.command()
@click.option("--listen", required=True, help="HOST:PORT to serve on.")
@click.option("--account", "accounts", multiple=True, help="A service account that exists.")
@click.option(
    "--grant",
    "grants",
    multiple=True,
    help="CALLER_TOKEN=EMAIL[,EMAIL]: that bearer may impersonate those accounts ('*': any).",
)
def iamcredentials(listen: str, accounts: tuple[str, ...], grants: tuple[str, ...]) -> None:
    """Serve a local Google IAM Credentials API (generateAccessToken)."""
    logs.configure()
    try:
        host, port = config.host_port(listen, key="--listen")
    except config.ConfigError as exc:
        raise click.BadParameter(str(exc)) from None
    state = app.IamState(grants=_grants(grants), accounts=set(accounts))
    asyncio.run(_serve(state, host, port))
