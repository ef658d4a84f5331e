"""Values passed between the pure firewall core and the proxy's I/O.

The proxy turns raw HTTP into a `RawRequest`, `request.canonicalise` turns that
into a `CanonicalRequest` (or raises `RequestRejected`), and a provider's
`Policy.decide` maps it to a `Decision`. Nothing here does I/O, so the same
objects drive unit tests, the fuzz target and the benchmark.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field


class ProviderName(enum.StrEnum):
    """The clouds whose metadata protocols podwarden speaks."""

    AWS = "aws"
    GCE = "gce"
    AZURE = "azure"


@dataclass(frozen=True, slots=True)
class RawRequest:
    """What arrived on the wire, before any interpretation.

    `target` is the request-target exactly as sent (path and query, still
    percent-encoded); `headers` keeps every header line in order, names as sent.
    """

    method: str
    target: str
    headers: tuple[tuple[str, str], ...]
    client: str
    body: bytes = b""


@dataclass(frozen=True, slots=True)
class CanonicalRequest:
    """A request in the only spelling the policy ever sees.

    `path` is decoded and normalised (`/latest/meta-data/iam/info`); for AWS the
    version segment is kept as sent and `tree_path` holds the path below it so
    `latest` and dated versions are one tree. `query` keeps the caller's order;
    keys are unique by construction. `headers` maps lower-case names to values.
    """

    method: str
    path: str
    segments: tuple[str, ...]
    query: tuple[tuple[str, str], ...]
    headers: Mapping[str, str]
    client: str
    body: bytes = b""
    tree_path: str = ""

    def query_value(self, key: str) -> str | None:
        """The value of a query key, or None when absent."""
        for name, value in self.query:
            if name == key:
                return value
        return None


class RequestRejected(Exception):
    """The request is not canonical or breaks a protocol rule; answer `status`."""

    def __init__(
        self,
        status: int,
        reason: str,
        *,
        body: bytes | None = None,
        content_type: str = "text/plain; charset=utf-8",
    ) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.body = body if body is not None else (reason + "\n").encode()
        self.content_type = content_type


class Action(enum.StrEnum):
    """What the proxy does with a request."""

    ALLOW = "allow"  # forward the rebuilt canonical request upstream
    DENY = "deny"  # answer with the decision's status and body
    ANSWER = "answer"  # the proxy answers itself through a named handler


ResponseTransform = Callable[[bytes], bytes]


@dataclass(frozen=True, slots=True)
class Decision:
    """The policy's verdict for one canonical request.

    For ALLOW, `upstream_target` is what is sent upstream (path + query, encoded
    by the policy), `forward_headers` the only headers sent, `cache_ttl` > 0
    marks immutable metadata and `transform` rewrites the upstream body (used to
    strip secrets from documents); `long_poll` marks a request the upstream holds
    until a value changes (GCE wait_for_change), which the proxy budgets apart.
    For ANSWER, `handler` names a proxy-side handler (e.g. "aws.token"). Every
    decision names the `rule_id` that made it.
    """

    action: Action
    rule_id: str
    status: int = 200
    body: bytes = b""
    content_type: str = "text/plain; charset=utf-8"
    response_headers: tuple[tuple[str, str], ...] = ()
    upstream_target: str = ""
    forward_headers: tuple[tuple[str, str], ...] = ()
    cache_ttl: float = 0.0
    transform: ResponseTransform | None = field(default=None, compare=False)
    handler: str = ""
    long_poll: bool = False
