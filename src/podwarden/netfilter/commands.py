"""`podwarden rules apply|remove|show`: the interception rules without the agent.

`apply --fail-closed-only` is the boot step (init container, systemd unit):
it refuses pod metadata traffic before any proxy exists. `remove` is the only
command that takes rules out.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import click

from podwarden import logs
from podwarden.config import ConfigError
from podwarden.netfilter import backends, cgroup_match, reconcile, render, settings
from podwarden.netfilter.runner import NetfilterError, Runner

_BACKEND = click.Choice(list(backends.BACKENDS))


@click.group()
def rules() -> None:
    """Install, show or remove podwarden's interception rules."""


@rules.command("apply")
@click.option("--provider", type=click.Choice(["aws", "gce", "azure", "alibaba"]))
@click.option("--pod-interface", "pod_interface", multiple=True, help="e.g. cali+ (repeat)")
@click.option("--proxy", help="HOST:PORT the pod traffic is redirected to")
@click.option("--proxy6", help="[ADDRESS]:PORT for IPv6 pod traffic (else refused)")
@click.option("--backend", type=_BACKEND)
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
@click.option("--fail-closed-only", is_flag=True, help="refuse only, redirect nothing (boot)")
@click.option("--config", "config_file", type=click.Path(path_type=Path, dir_okay=False))
def apply_command(config_file: Path | None, **flags: object) -> None:
    """Apply the rule set atomically (replacing podwarden's previous rules)."""
    logs.configure()
    try:
        merged = settings.merge(settings.RulesConfig, config_file, dict(flags))
        spec = settings.rule_spec(merged)
        runner = Runner()
        installer = reconcile.Installer(
            backends.select(merged.backend, runner=runner),
            render.render(spec),
            runner,
            flush_conntrack=merged.flush_conntrack,
        )
        installer.install()
    except (ConfigError, NetfilterError, cgroup_match.CgroupError, OSError) as exc:
        raise click.ClickException(str(exc)) from None


@rules.command("remove")
@click.option("--backend", type=_BACKEND, help="default: every backend where rules are found")
def remove_command(backend: str | None) -> None:
    """Remove podwarden's rules (and nothing else)."""
    logs.configure()
    runner = Runner()
    try:
        for name in _chosen(backend):
            reconcile.uninstall(backends.select(name, runner=runner), runner=runner)
    except (NetfilterError, OSError) as exc:  # OSError: the route_localnet record
        raise click.ClickException(str(exc)) from None


@rules.command("show")
@click.option("--backend", type=_BACKEND, help="default: every backend where rules are found")
@click.option("--signature", is_flag=True, help="print the comparison handles as JSON")
def show_command(backend: str | None, signature: bool) -> None:
    """Print the live podwarden rules."""
    runner = Runner()
    try:
        for name in _chosen(backend):
            chosen = backends.select(name, runner=runner)
            if signature:
                live = chosen.live_signature()
                if live is not None:
                    click.echo(json.dumps({name: live}, indent=2))
                continue
            text = chosen.show()
            if text:
                click.echo(f"# backend {name}\n{text}", nl=False)
    except NetfilterError as exc:
        raise click.ClickException(str(exc)) from None


def _chosen(backend: str | None) -> list[backends.BackendName]:
    if backend is not None:
        return [backend]  # type: ignore[list-item]
    found: list[backends.BackendName] = []
    if shutil.which("nft"):
        found.append("nft")
    if shutil.which("iptables-nft-restore"):
        found.append("iptables-nft")
    if shutil.which("iptables-legacy-restore"):
        found.append("iptables-legacy")
    return found
