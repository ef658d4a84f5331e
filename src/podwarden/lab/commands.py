"""`podwarden lab …` and `podwarden demo` (the lab work fills in up/down/status/exec)."""

from __future__ import annotations

import click

from podwarden.lab.cloud import command as cloud_command


@click.group()
def lab() -> None:
    """A whole cloud node on one machine."""


lab.add_command(cloud_command.cloud)


@click.command()
def demo() -> None:
    """Run the demo."""
    raise click.ClickException("not built yet")
