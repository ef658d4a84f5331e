"""`podwarden identity`: operator tools for pod identity (the serving side is `podwarden proxy`).

`container-token` gives a pod its AWS_CONTAINER_AUTHORIZATION_TOKEN for the
proxy's opt-in container-credentials endpoint. The proxy derives the same
value from the pod's uid and the secret file it was started with
(`--container-credentials-secret-file`), so the operator's tooling runs this
once the pod exists (its uid is known) and delivers the value to the pod —
e.g. as a Secret mounted at AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE, or in the
cluster file's pod environment on a plain Docker host.
"""

from __future__ import annotations

from pathlib import Path

import click

from podwarden.config import ConfigError
from podwarden.metadata.identity import container_tokens


@click.group()
def identity() -> None:
    """Pod identity tools (tokens for the container-credentials endpoint)."""


@identity.command("container-token")
@click.option(
    "--secret-file",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="The proxy's --container-credentials-secret-file.",
)
@click.option(
    "--pod-uid",
    required=True,
    help="The pod's metadata.uid (kubectl get pod P -o jsonpath='{.metadata.uid}').",
)
def container_token(*, secret_file: Path, pod_uid: str) -> None:
    """Print the pod's AWS_CONTAINER_AUTHORIZATION_TOKEN.

    \b
    The pod then needs:
      AWS_CONTAINER_CREDENTIALS_FULL_URI=http://169.254.170.23/v1/credentials
      AWS_CONTAINER_AUTHORIZATION_TOKEN=<this value>
        (or AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE=<a file holding it>)
    The agent redirects 169.254.170.23:80 to the proxy; the token is valid only
    for this uid, so a new pod (new uid) needs a new token.
    """
    if not pod_uid.strip():
        raise click.UsageError("--pod-uid: must not be empty")
    try:
        secret = container_tokens.read_secret(secret_file, option="--secret-file")
    except ConfigError as exc:
        raise click.UsageError(str(exc)) from None
    click.echo(container_tokens.container_token(secret, pod_uid.strip()))
