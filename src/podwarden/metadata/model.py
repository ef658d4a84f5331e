"""Values passed between the pure firewall core and the proxy's I/O.

The proxy turns raw HTTP into a `RawRequest`, `request.canonicalise` turns that
into a `CanonicalRequest` (or raises `RequestRejected`), and a provider's
`Policy.decide` maps it to a `Decision`: forward it upstream, respond
with a fixed answer, or hand it to a named handler. Nothing here does I/O, so the same
objects drive unit tests, the fuzz target and the benchmark.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import ClassVar


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


class Outcome(enum.StrEnum):
    """What became of a request, as the access log and `/metrics` name it.

    These three strings are the `decision` label of `podwarden_requests_total`
    and the access log's "decision" member; alerts match on them.
    """

    ALLOW = "allow"  # forwarded upstream
    DENY = "deny"  # refused
    ANSWER = "answer"  # the proxy answered itself: a session token, a pod's own identity


ResponseTransform = Callable[[bytes], bytes]


@dataclass(frozen=True, slots=True)
class Forward:
    """Forward the rebuilt canonical request upstream.

    `upstream_target` is what is sent (path + query, encoded by the policy),
    `forward_headers` the only headers sent, `cache_ttl` > 0 marks immutable
    metadata and `transform` rewrites the upstream body (used to strip secrets
    from documents); `long_poll` marks a request the upstream holds until a
    value changes (GCE wait_for_change), which the proxy budgets apart.
    """

    rule_id: str
    upstream_target: str
    forward_headers: tuple[tuple[str, str], ...] = ()
    cache_ttl: float = 0.0
    transform: ResponseTransform | None = field(default=None, compare=False)
    long_poll: bool = False
    outcome: ClassVar[Outcome] = Outcome.ALLOW


@dataclass(frozen=True, slots=True)
class Respond:
    """Answer with this status and body, without asking upstream.

    `outcome` says what the answer is: a refusal (DENY, the default) or a
    served answer (ANSWER: a pod's own credentials, a directory listing).
    """

    rule_id: str
    status: int
    body: bytes = b""
    content_type: str = "text/plain; charset=utf-8"
    response_headers: tuple[tuple[str, str], ...] = ()
    outcome: Outcome = Outcome.DENY

    def __post_init__(self) -> None:
        if self.outcome is Outcome.ALLOW:
            raise ValueError(f"{self.rule_id}: a Respond is a refusal or an answer, not ALLOW")


@dataclass(frozen=True, slots=True)
class Handle:
    """Let a named proxy-side handler decide (e.g. "aws.token", "aws.credentials").

    A handler returns a `Forward` or a `Respond`; only those are outcomes.
    """

    rule_id: str
    handler: str


Decision = Forward | Respond | Handle
"""The policy's verdict for one canonical request; every variant names the rule that made it."""

Settled = Forward | Respond
"""A decision that is an outcome: what a handler returns for a `Handle`."""
