"""The `podwarden` command line: subcommands only.

Each part owns its subcommand in a `commands` module next to its code. The table
below lists them explicitly (no plugin discovery), and a subcommand's module is
imported only when that subcommand runs: `podwarden proxy` must not pay the
memory and start-up time of the webhook, the lab or the API clients.
"""

from __future__ import annotations

import importlib

import click

from podwarden import __version__

# name -> (module, attribute): the source of truth for what `podwarden` offers.
COMMANDS: dict[str, tuple[str, str]] = {
    "proxy": ("podwarden.metadata.commands", "proxy"),
    "identity": ("podwarden.metadata.identity.commands", "identity"),
    "agent": ("podwarden.agent.commands", "agent"),
    "rules": ("podwarden.netfilter.commands", "rules"),
    "probe": ("podwarden.probe.commands", "probe"),
    "check": ("podwarden.audit.commands", "check_command"),
    "audit": ("podwarden.audit.cluster_commands", "audit_command"),
    "webhook": ("podwarden.webhooks.commands", "webhook"),
    "nodeauth": ("podwarden.webhooks.nodeauth_commands", "nodeauth"),
    "lab": ("podwarden.lab.commands", "lab"),
    "demo": ("podwarden.lab.commands", "demo"),
}


class LazyGroup(click.Group):
    """A group that imports a subcommand's module on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module_name, attribute = target
        command = getattr(importlib.import_module(module_name), attribute)
        if not isinstance(command, click.Command):
            raise TypeError(f"{module_name}.{attribute} is not a click command")
        return command


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="podwarden")
def main() -> None:
    """Keep workloads on a shared host away from credentials that are not theirs."""
