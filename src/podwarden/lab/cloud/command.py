"""`podwarden lab cloud` (filled in by the emulator work)."""

from __future__ import annotations

import click


@click.command()
def cloud() -> None:
    """Serve an emulated cloud metadata service."""
    raise click.ClickException("not built yet")
