"""What an operator chooses for pod identity, validated once at start.

The numbers that keep SDKs happy live here: botocore refreshes IMDS
credentials when less than 15 minutes are left, so the proxy never serves
credentials with 15 minutes or less; a session must therefore last longer
than that plus a margin (20 minutes at least; STS allows up to 12 hours).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from podwarden.api import iamroles
from podwarden.config import ConfigError
from podwarden.metadata.model import ProviderName

SessionScope = Literal["pod", "role"]

MIN_SERVED_VALIDITY = 15 * 60.0  # botocore's refresh window: never serve less
SERVE_MARGIN = 60.0  # what a request in flight may cost before the client reads it
MIN_SESSION = 20 * 60.0
MAX_SESSION = 12 * 3600.0
GCP_MAX_LIFETIME = 3600.0  # generateAccessToken's default ceiling
DEFAULT_GCP_SCOPES = ("https://www.googleapis.com/auth/cloud-platform",)
_DURATION = re.compile(r"^(\d+(?:\.\d+)?)(ms|s|m|h)?$")


def parse_duration(text: str, *, key: str) -> float:
    """`90`, `90s`, `500ms`, `45m`, `1h` → seconds; ConfigError naming `key` otherwise."""
    found = _DURATION.match(text.strip())
    if not found:
        raise ConfigError(f"{text!r} is not a duration (e.g. 3600, 45m, 1h)", key=key)
    value = float(found.group(1))
    return value * {"ms": 0.001, "s": 1, "m": 60, "h": 3600}[found.group(2) or "s"]


@dataclass(frozen=True, slots=True)
class IdentitySettings:
    """Pod identity for one provider.

    `base_role_arn` completes role names (`arn:aws:iam::123456789012:role/`);
    `default_role` is given to pods without an annotation (still subject to
    the namespace restriction); `session_scope` "pod" makes one STS session per
    pod (session name and tags name it), "role" shares one per (role, external
    id) across pods. `address_wait` bounds how long a request from an unknown
    address waits for the cluster view (and, with an API, how long a
    credential request waits for the view to catch up with a consistent read).
    `verify_interval` spaces consistent reads of one address (the API server's
    protection from a pod polling its credentials); `verify_timeout` bounds one
    read (slower counts as an API error: refused).
    """

    provider: ProviderName
    base_role_arn: str | None = None
    default_role: str | None = None
    sts_endpoint: str | None = None
    sts_region: str = "us-east-1"
    session_duration: float = 3600.0
    session_tags: bool = False
    session_scope: SessionScope = "pod"
    restrict_namespaces: bool = True
    address_wait: float = 2.0
    prefetch: bool = True
    gcp_iam_endpoint: str = "https://iamcredentials.googleapis.com"
    gcp_scopes: tuple[str, ...] = DEFAULT_GCP_SCOPES
    gcp_lifetime: float = GCP_MAX_LIFETIME
    container_token_secret: bytes | None = None
    maintenance_interval: float = 30.0
    event_interval: float = 300.0
    verify_interval: float = 0.25
    verify_timeout: float = 2.0

    def __post_init__(self) -> None:
        if self.base_role_arn is not None:
            try:
                base = iamroles.parse_base(self.base_role_arn)
            except iamroles.RoleValueError as exc:
                raise ConfigError(str(exc), key="base_role_arn") from None
            object.__setattr__(self, "base_role_arn", base)
        if not MIN_SESSION <= self.session_duration <= MAX_SESSION:
            raise ConfigError(
                f"{self.session_duration:g}s is outside "
                f"{MIN_SESSION:g}s-{MAX_SESSION:g}s (credentials are served only with more "
                "than 15 minutes left, so a session must last at least 20 minutes)",
                key="session_duration",
            )
        if not MIN_SESSION <= self.gcp_lifetime <= GCP_MAX_LIFETIME:
            raise ConfigError(
                f"{self.gcp_lifetime:g}s is outside {MIN_SESSION:g}s-{GCP_MAX_LIFETIME:g}s",
                key="gcp_lifetime",
            )
        if self.session_scope not in ("pod", "role"):
            raise ConfigError(f"{self.session_scope!r} (accepted: pod, role)", key="session_scope")
        if self.session_tags and self.session_scope != "pod":
            raise ConfigError("tags name a pod, so they need session_scope pod", key="session_tags")
        if not 0 <= self.address_wait <= 30:
            raise ConfigError(f"{self.address_wait:g}s is outside 0-30s", key="address_wait")
        if not 0 <= self.verify_interval <= 10:
            raise ConfigError(f"{self.verify_interval:g}s is outside 0-10s", key="verify_interval")
        if not 0 < self.verify_timeout <= 30:
            raise ConfigError(f"{self.verify_timeout:g}s is outside (0, 30]s", key="verify_timeout")
        for name in ("maintenance_interval", "event_interval"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"must be > 0, got {getattr(self, name)}", key=name)
        if self.default_role is not None and not self.default_role.strip():
            raise ConfigError("must not be empty", key="default_role")

    @property
    def refresh_before(self) -> float:
        """Refresh ahead once this little validity is left (half the session, at least 20 min)."""
        return max(self.session_duration / 2, MIN_SERVED_VALIDITY + 5 * 60)

    @property
    def min_validity(self) -> float:
        """Credentials with this much validity or less are never served."""
        return MIN_SERVED_VALIDITY + SERVE_MARGIN
