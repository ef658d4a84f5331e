"""Per-pod tokens for the AWS container-credentials endpoint (`GET /v1/credentials`).

Why a token at all: the endpoint already knows the pod by its address, but
botocore's container provider always sends AWS_CONTAINER_AUTHORIZATION_TOKEN
(or the content of AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE), and requiring a
token bound to the pod's uid means a request from a reused address, or from
a process that merely shares the network namespace, also needs the secret-
derived value. The token is an HMAC-SHA256 of the pod's uid under a node
secret: the proxy recomputes it, so nothing per pod is stored, and whoever
holds the secret file (the operator's tooling, `podwarden identity
container-token`) can hand each pod its own.
"""

from __future__ import annotations

import hmac
from hashlib import sha256
from pathlib import Path

from podwarden.config import ConfigError

MIN_SECRET_BYTES = 16


def container_token(secret: bytes, pod_uid: str) -> str:
    """The per-pod AWS_CONTAINER_AUTHORIZATION_TOKEN (hex HMAC-SHA256 of the pod's uid)."""
    return hmac.new(secret, pod_uid.encode(), sha256).hexdigest()


def read_secret(path: Path, *, option: str) -> bytes:
    """The node secret from `path` (surrounding whitespace ignored); ConfigError naming `option`."""
    try:
        secret = Path(path).read_bytes().strip()
    except OSError as exc:
        raise ConfigError(f"{option}: {path}: {exc.strerror or exc}") from None
    if len(secret) < MIN_SECRET_BYTES:
        raise ConfigError(
            f"{option}: {path} holds {len(secret)} bytes; "
            f"needs at least {MIN_SECRET_BYTES} (e.g. `head -c 32 /dev/urandom | base64`)"
        )
    return secret
