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

from podwarden import flags, logs
from podwarden.netfilter import backends, cgroup_match, reconcile, render, settings
from podwarden.netfilter.runner import NetfilterError, Runner

_BACKEND = click.Choice(list(backends.BACKENDS))


@click.group()
def rules() -> None:
    """Install, show or remove podwarden's interception rules."""


@rules.command("apply", cls=flags.SettingsCommand)
@flags.options(settings.RulesConfig, exclude=settings.FILE_ONLY)
@click.option("--config", "config_file", type=click.Path(path_type=Path, dir_okay=False))
def apply_command(config_file: Path | None, **values: object) -> None:
    """Apply the rule set atomically (replacing podwarden's previous rules).

    A bad setting exits 2 (`flags.SettingsCommand`); a failure to install exits 1.
    """
    logs.configure()
    merged = flags.load(settings.RulesConfig, values, config_file=config_file)
    spec = settings.rule_spec(merged)
    try:
        runner = Runner()
        installer = reconcile.Installer(
            backends.select(merged.backend, runner=runner),
            render.render(spec),
            runner,
            flush_conntrack=merged.flush_conntrack,
        )
        installer.install()
    except (NetfilterError, cgroup_match.CgroupError, OSError) as exc:
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
