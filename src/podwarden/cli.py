"""The `podwarden` command line: subcommands only.

Each part owns its subcommand in a `commands` module next to its code; this file
lists them explicitly (no plugin discovery), so `podwarden --help` shows exactly
what is registered here.
"""

from __future__ import annotations

import click

from podwarden import __version__


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="podwarden")
def main() -> None:
    """Keep workloads on a shared host away from credentials that are not theirs."""


def _register() -> None:
    """Attach every part's subcommand; the list is the source of truth."""
    from podwarden.agent import commands as agent_commands
    from podwarden.audit import commands as audit_commands
    from podwarden.lab import commands as lab_commands
    from podwarden.metadata import commands as metadata_commands
    from podwarden.netfilter import commands as netfilter_commands
    from podwarden.probe import commands as probe_commands
    from podwarden.webhooks import commands as webhook_commands

    main.add_command(metadata_commands.proxy)
    main.add_command(lab_commands.lab)
    main.add_command(lab_commands.demo)
    main.add_command(probe_commands.probe)
    main.add_command(netfilter_commands.rules)
    main.add_command(agent_commands.agent)
    main.add_command(audit_commands.check_command)
    main.add_command(webhook_commands.webhook)


_register()
