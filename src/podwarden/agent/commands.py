"""`podwarden agent`: the DaemonSet's entry point.

SIGTERM/SIGINT stop the proxy and the reconcile loop and exit 0, leaving the
rules in place (fail closed). Configuration errors exit 2 with the key.
"""

from __future__ import annotations

import asyncio
import signal
import sys
from pathlib import Path

import click

from podwarden import logs
from podwarden.agent.settings import AgentConfig
from podwarden.config import ConfigError
from podwarden.netfilter import backends, settings
from podwarden.netfilter.runner import NetfilterError

EXIT_CONFIG = 2


@click.command()
@click.option("--provider", type=click.Choice(["aws", "gce", "azure"]))
@click.option("--upstream", help="the metadata service, e.g. http://169.254.169.254")
@click.option("--listen", help="HOST:PORT pods are redirected to (a node address or 127.0.0.1)")
@click.option("--listen6", help="[ADDRESS]:PORT for IPv6 pods (else their traffic is refused)")
@click.option("--pod-interface", "pod_interface", multiple=True, help="e.g. cali+ (repeat)")
@click.option("--pod-cgroup", help="cgroup v2 path of pods, e.g. kubepods.slice")
@click.option("--reconcile-period", type=float, help="seconds between checks (default 5)")
@click.option("--backend", type=click.Choice(list(backends.BACKENDS)))
@click.option("--policy", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--metrics-listen", help="HOST:PORT for the proxy's /metrics")
@click.option("--health-listen", help="HOST:PORT for /healthz, /readyz and rule metrics")
@click.option("--log-level", type=click.Choice(["debug", "info", "warning", "error"]))
@click.option("--config", "config_file", type=click.Path(path_type=Path, dir_okay=False))
def agent(config_file: Path | None, **flags: object) -> None:
    """Run the proxy, install the interception rules and keep them installed."""
    try:
        merged: AgentConfig = settings.merge(AgentConfig, config_file, dict(flags))
        merged.checked()
    except ConfigError as exc:
        click.echo(f"podwarden agent: configuration error:\n{exc}", err=True)
        sys.exit(EXIT_CONFIG)
    logs.configure(level=merged.log_level)
    try:
        asyncio.run(_main(merged))
    except ConfigError as exc:
        click.echo(f"podwarden agent: configuration error:\n{exc}", err=True)
        sys.exit(EXIT_CONFIG)
    except (NetfilterError, OSError) as exc:
        click.echo(f"podwarden agent: {exc}", err=True)
        sys.exit(1)


async def _main(config: AgentConfig) -> None:
    from podwarden.agent import run as agent_run  # the proxy stack: only load it to run

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await agent_run.run(config, stop=stop)
