"""`podwarden lab` and `podwarden demo` (filled in by the lab work)."""

from __future__ import annotations

import click


@click.group()
def lab() -> None:
    """A whole cloud node on one machine."""


@click.command()
def demo() -> None:
    """Run the demo."""
    raise click.ClickException("not built yet")
