"""`podwarden agent`: the DaemonSet's entry point.

SIGTERM/SIGINT stop the proxy and the reconcile loop and exit 0, leaving the
rules in place (fail closed). Configuration errors exit 2 naming the flag or
key (`flags.SettingsCommand`). The identity flags are `podwarden proxy`'s
(given one cluster source, pods get their own cloud role); host-network
requests come from a node address no pod owns, so they get no identity:
benign metadata only.
"""

from __future__ import annotations

import asyncio
import signal
import sys
from pathlib import Path

import click

from podwarden import flags, logs
from podwarden.agent.settings import NOT_FLAGS, AgentConfig
from podwarden.netfilter import cgroup_match
from podwarden.netfilter.runner import NetfilterError


@click.command(cls=flags.SettingsCommand)
@flags.options(AgentConfig, exclude=NOT_FLAGS)
@click.option("--config", "config_file", type=click.Path(path_type=Path, dir_okay=False))
def agent(config_file: Path | None, **values: object) -> None:
    """Run the proxy, install the interception rules and keep them installed."""
    merged = flags.load(AgentConfig, values, config_file=config_file)
    merged.checked().identity_plan()
    logs.configure(level=merged.log_level)
    try:
        asyncio.run(_main(merged))
    except (NetfilterError, cgroup_match.CgroupError, OSError) as exc:
        click.echo(f"podwarden agent: {exc}", err=True)
        sys.exit(1)


async def _main(config: AgentConfig) -> None:
    from podwarden.agent import run as agent_run  # the proxy stack: only load it to run

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await agent_run.run(config, stop=stop)
