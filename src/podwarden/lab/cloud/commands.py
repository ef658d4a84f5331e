"""`podwarden lab cloud`: serve the emulated metadata services until SIGTERM/SIGINT.

`--listen` repeats; `PROVIDER=HOST:PORT` serves another provider on that
address from the same state, so one process can own 169.254.169.254:80 (`all`),
169.254.170.2:80 (`ecs`), 168.63.129.16:32526 (`hostgaplugin`) and the rest.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable
from pathlib import Path

import click
from aiohttp import web

from podwarden import config, logs
from podwarden.lab.cloud import server, state


def _loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop when installed (the emulator is the upstream of every benchmark)."""
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


def parse_listen(value: str, *, default_provider: str) -> tuple[str, str, int]:
    """`[PROVIDER=]HOST:PORT` (IPv6 as `[::1]:80`) → (provider, host, port)."""
    provider, _, address = value.rpartition("=")
    provider = provider or default_provider
    if provider not in server.PROVIDERS:
        expected = ", ".join(server.PROVIDERS)
        raise click.BadParameter(
            f"{value!r}: unknown provider {provider!r}; expected one of {expected}"
        )
    try:
        host, port = config.host_port(address, key="--listen", lowest_port=1)
    except config.ConfigError as exc:
        raise click.BadParameter(str(exc)) from None
    return provider, host, port


async def _serve(
    listens: list[tuple[str, str, int]], *, emulator: state.EmulatorState, imdsv2_required: bool
) -> None:
    log = logs.get("lab.cloud")
    by_provider: dict[str, list[tuple[str, int]]] = {}
    for provider, host, port in listens:
        by_provider.setdefault(provider, []).append((host, port))
    runners: list[web.AppRunner] = []
    shared: dict[str, server.Handler] = {}
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        for provider, addresses in by_provider.items():
            app = server.build_app(
                provider, imdsv2_required=imdsv2_required, state=emulator, shared=shared
            )
            runners.append(await server.serve(app, addresses))
            for host, port in addresses:
                log.info("listening", provider=provider, host=host, port=port)
        await stop.wait()
    finally:
        for runner in runners:
            await runner.cleanup()
        log.info("stopped")


@click.command()
@click.option(
    "--provider",
    type=click.Choice(server.PROVIDERS),
    default="all",
    show_default=True,
    help="What to serve on addresses given without a PROVIDER= prefix.",
)
@click.option(
    "--listen",
    "listen",
    multiple=True,
    required=True,
    help="[PROVIDER=]HOST:PORT to serve on; repeat for more addresses.",
)
@click.option(
    "--state",
    "state_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="YAML overriding the emulated node (ids, identities, keys).",
)
@click.option(
    "--aws-imdsv2",
    type=click.Choice(["optional", "required"]),
    default="optional",
    show_default=True,
    help="IMDSv2 mode: `required` answers token-less GETs with 401.",
)
def cloud(provider: str, listen: tuple[str, ...], state_file: Path | None, aws_imdsv2: str) -> None:
    """Serve an emulated cloud metadata service (AWS, GCE, Azure and friends)."""
    listens = [parse_listen(item, default_provider=provider) for item in listen]
    try:
        emulator = state.load(state_file) if state_file else state.EmulatorState()
    except config.ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    logs.configure()
    try:
        with asyncio.Runner(loop_factory=_loop_factory()) as runner:
            runner.run(_serve(listens, emulator=emulator, imdsv2_required=aws_imdsv2 == "required"))
    except OSError as exc:
        raise click.ClickException(f"cannot listen: {exc.strerror or exc}") from None
