"""What a cloud's metadata protocol looks like to the firewall.

Each provider module (`aws`, `gce`, `azure`) builds one `Profile`: the syntax
canonicalisation needs (query allowlist, case rules), the protocol checks run
before any rule (required headers, X-Forwarded-For), the strict preset, and
the provider's own wording for refusals. `firewall.build` picks a profile by
name from an explicit table; nothing is discovered by import side effects.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from podwarden.metadata.model import CanonicalRequest, Forward, ProviderName, Respond
from podwarden.metadata.policy import Responses, Rule
from podwarden.metadata.request import Syntax, encode_target

# Seconds an immutable answer (instance id, zone, ...) may be served from the
# proxy's cache. These values only change when the instance is replaced, which
# also replaces the node and its proxy; the TTL bounds staleness regardless.
IMMUTABLE_TTL = 300.0


@dataclass(frozen=True)
class Options:
    """Settings a policy file may change for a provider's built-in behaviour."""

    imdsv2_required: bool = False  # AWS: token-less GETs get IMDS's 401
    concealed_attributes: tuple[str, ...] = ()  # GCE: attributes concealed even when allowed
    allowed_attributes: tuple[str, ...] = ()  # GCE: instance attributes shown beyond GKE's
    allowed_project_attributes: tuple[str, ...] = ()  # GCE: project attributes shown (none)


ProtocolCheck = Callable[[CanonicalRequest, Options], Respond | None]


@dataclass(frozen=True)
class Profile:
    """One provider's protocol facts, preset and wording."""

    name: ProviderName
    syntax: Syntax
    always_headers: tuple[tuple[str, str], ...]
    forward_headers: tuple[tuple[str, str], ...]
    responses: Responses
    protocol: ProtocolCheck
    preset: Callable[[Options], tuple[Rule, ...]]
    rule_path: Callable[[str], str]  # how a policy file's path pattern is read


def allower(
    forward_headers: tuple[tuple[str, str], ...],
) -> Callable[[CanonicalRequest, Rule], Forward]:
    """The allow decision: forward the rebuilt canonical target with only `forward_headers`."""

    def allow(req: CanonicalRequest, rule: Rule) -> Forward:
        # A long-poll (GCE wait_for_change) is an answer about change: never cached,
        # and held upstream (any value but `false` counts: the server decides, not us).
        waits = req.query_value("wait_for_change")
        return Forward(
            rule_id=rule.id,
            upstream_target=encode_target(req.path, req.query),
            forward_headers=forward_headers,
            cache_ttl=0.0 if waits is not None else rule.cache_ttl,
            transform=rule.transform,
            long_poll=waits is not None and waits != "false",
        )

    return allow


def refusal(rule_id: str, status: int, body: str, *, content_type: str) -> Respond:
    """A refusal with an exact body."""
    return Respond(
        rule_id=rule_id,
        status=status,
        body=body.encode(),
        content_type=content_type,
    )
