"""`podwarden proxy`: the metadata firewall's command (filled in by the proxy work)."""

from __future__ import annotations

import click


@click.command()
def proxy() -> None:
    """Run the metadata firewall proxy."""
    raise click.ClickException("not built yet")
