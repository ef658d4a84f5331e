"""`podwarden probe`: run inside a pod; exit 1 when any secret is readable."""

from __future__ import annotations

import os
from pathlib import Path

import click

from podwarden.probe import checks, report, run


def _eks_token() -> str | None:
    """The pod's EKS Pod Identity token, as the AWS SDKs find it (file, then variable)."""
    path = os.environ.get("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE")
    if path:
        try:
            return Path(path).read_text().strip() or None
        except OSError:
            return None
    return os.environ.get("AWS_CONTAINER_AUTHORIZATION_TOKEN") or None


@click.command()
@click.option(
    "--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True
)
@click.option(
    "--timeout",
    type=click.FloatRange(0.05, 30.0),
    default=1.0,
    show_default=True,
    help="Seconds allowed per request; the whole probe takes at most 2.5 times this.",
)
def probe(fmt: str, timeout: float) -> None:
    """Try every cloud metadata endpoint from here and report what it exposes.

    Secrets are reported as "readable", never printed. Exit code 1 when any
    credential or secret is readable, 0 otherwise.
    """
    catalogue = checks.catalogue(
        ecs_relative_uri=os.environ.get("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"),
        eks_token=_eks_token(),
    )
    result = run.probe(catalogue, timeout=timeout)
    click.echo(report.as_json(result) if fmt == "json" else report.as_table(result))
    if result.exposed:
        raise SystemExit(1)
