"""`podwarden agent`: the DaemonSet's entry point.

SIGTERM/SIGINT stop the proxy and the reconcile loop and exit 0, leaving the
rules in place (fail closed). Configuration errors exit 2 with the key.
The identity flags are `podwarden proxy`'s (given one cluster source, pods
get their own cloud role); host-network requests come from a node address
no pod owns, so they get no identity: benign metadata only.
"""

from __future__ import annotations

import asyncio
import functools
import signal
import sys
from pathlib import Path

import click
from click.core import ParameterSource

from podwarden import logs
from podwarden.agent import settings as agent_settings
from podwarden.agent.settings import AgentConfig
from podwarden.config import ConfigError
from podwarden.metadata.identity import cli as identity_cli
from podwarden.netfilter import backends, cgroup_match
from podwarden.netfilter.runner import NetfilterError

EXIT_CONFIG = 2


@click.command()
@click.option(
    "--provider",
    type=click.Choice(["aws", "gce", "azure", "alibaba"]),
    help="alibaba is refused with a pointer to `rules apply` (the proxy has no preset)",
)
@click.option("--upstream", help="the metadata service, e.g. http://169.254.169.254")
@click.option("--listen", help="HOST:PORT pods are redirected to (a node address or 127.0.0.1)")
@click.option("--listen6", help="[ADDRESS]:PORT for IPv6 pods (else their traffic is refused)")
@click.option("--pod-interface", "pod_interface", multiple=True, help="e.g. cali+ (repeat)")
@click.option(
    "--pod-cgroup",
    help="pods' cgroup below the hierarchy root, e.g. kubepods.slice (v2; net_cls on v1)",
)
@click.option(
    "--exempt-cgroups",
    "exempt_cgroups",
    multiple=True,
    help="a subtree of --pod-cgroup that keeps node access, e.g. for aws-node (repeat)",
)
@click.option("--reconcile-period", type=float, help="seconds between checks (default 5)")
@click.option("--backend", type=click.Choice(list(backends.BACKENDS)))
@click.option("--policy", type=click.Path(path_type=Path, dir_okay=False))
@click.option(
    "--token-key-file",
    type=click.Path(path_type=Path, dir_okay=False),
    help="key for the proxy's IMDSv2 tokens (created 0600 if missing): they survive restarts",
)
@click.option("--metrics-listen", help="HOST:PORT for the proxy's /metrics")
@click.option("--health-listen", help="HOST:PORT for /healthz, /readyz and rule metrics")
@click.option("--log-level", type=click.Choice(["debug", "info", "warning", "error"]))
@click.option("--config", "config_file", type=click.Path(path_type=Path, dir_okay=False))
@identity_cli.options
def agent(config_file: Path | None, **flags: object) -> None:
    """Run the proxy, install the interception rules and keep them installed."""
    try:
        identity_given = _typed_identity_flags(flags)
        merged = agent_settings.merge(config_file, dict(flags), identity_given)
        merged.checked().identity_plan()
    except ConfigError as exc:
        click.echo(f"podwarden agent: configuration error:\n{exc}", err=True)
        sys.exit(EXIT_CONFIG)
    logs.configure(level=merged.log_level)
    try:
        asyncio.run(_main(merged))
    except ConfigError as exc:
        click.echo(f"podwarden agent: configuration error:\n{exc}", err=True)
        sys.exit(EXIT_CONFIG)
    except (NetfilterError, cgroup_match.CgroupError, OSError) as exc:
        click.echo(f"podwarden agent: {exc}", err=True)
        sys.exit(1)


def _typed_identity_flags(flags: dict[str, object]) -> dict[str, object]:
    """Take the identity flags out of `flags`; return those the user typed.

    Click's defaults are dropped so they never hide a key of the file. A flag
    `podwarden proxy` gained that the agent has no key for yet is ignored at
    its default (identity's own default applies) and refused when typed.
    """
    ctx = click.get_current_context()
    typed: dict[str, object] = {}
    for key in [k for k in flags if k in identity_names()]:
        value = flags.pop(key)
        if ctx.get_parameter_source(key) in (None, ParameterSource.DEFAULT):
            continue
        if key not in agent_settings.IDENTITY_KEYS:
            raise ConfigError(f"{key}: not an agent setting yet (use `podwarden proxy`)")
        typed[key] = value
    return typed


@functools.cache
def identity_names() -> frozenset[str]:
    """The parameter names of the identity flags (as `podwarden proxy` has them now)."""
    probe = identity_cli.options(click.command()(lambda **_: None))
    return frozenset(p.name for p in probe.params if p.name)


async def _main(config: AgentConfig) -> None:
    from podwarden.agent import run as agent_run  # the proxy stack: only load it to run

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await agent_run.run(config, stop=stop)
