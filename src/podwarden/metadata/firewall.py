"""The metadata firewall's pure core: raw request in, (canonical request, decision) out.

`build()` assembles, once at start, a provider's profile, its strict preset
and an optional policy file into an immutable `Firewall`; `Firewall.evaluate`
is what the proxy calls for every request. It never raises and does no I/O:

1. canonicalise (`request.py`); a non-canonical request is DENY 400 with a
   plain text reason (rule id "canonical");
2. the provider's protocol checks (required headers, X-Forwarded-For,
   api-version, IMDSv2 token rules) in that provider's exact wording;
3. the ordered rules: the file's rules, then the preset's (unless the file
   says `mode: replace`); no match is the provider's usual not-found.

ANSWER decisions name a proxy-side handler. In use: "aws.token" (PUT
/latest/api/token, TTL header already validated). Reserved for the pod-identity
work, and DENY until it lands: "aws.credentials" (meta-data/iam/security-
credentials/*), "gce.token" (service-accounts/<sa>/token), "azure.token"
(/metadata/identity/oauth2/token).
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from podwarden.config import ConfigError
from podwarden.metadata import policy, request, rules
from podwarden.metadata.model import (
    Action,
    CanonicalRequest,
    Decision,
    ProviderName,
    RawRequest,
    RequestRejected,
)
from podwarden.metadata.providers import Options, Profile, aws, azure, gce
from podwarden.metadata.request import Limits

__all__ = ["HANDLERS", "RESERVED_HANDLERS", "Firewall", "Limits", "build", "profile"]

PROFILES: dict[ProviderName, Profile] = {
    ProviderName.AWS: aws.PROFILE,
    ProviderName.GCE: gce.PROFILE,
    ProviderName.AZURE: azure.PROFILE,
}
HANDLERS = ("aws.token",)
# Memo bounds: entries, and the size of a request worth remembering (so the
# memo stays around a megabyte whatever clients send).
MEMO_ENTRIES = 1024
MEMO_MAX_KEY = 1024
RESERVED_HANDLERS = ("aws.credentials", "gce.token", "azure.token")


def profile(provider: ProviderName) -> Profile:
    """The protocol profile for `provider`."""
    return PROFILES[ProviderName(provider)]


@dataclass(frozen=True)
class Firewall:
    """Everything the proxy needs to judge a request, fixed at start."""

    provider: ProviderName
    imdsv2_required: bool  # AWS only; from the policy file's `imdsv2: required`
    always_headers: tuple[tuple[str, str], ...]  # added to EVERY response
    limits: Limits
    policy: policy.Policy
    options: Options
    profile: Profile
    _memo: Callable[..., tuple[CanonicalRequest | None, Decision]] = field(
        init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        object.__setattr__(
            self, "_memo", functools.lru_cache(maxsize=MEMO_ENTRIES)(self._judge_key)
        )

    def evaluate(self, raw: RawRequest) -> tuple[CanonicalRequest | None, Decision]:
        """Judge one request. Never raises: a decision that cannot be made is a deny.

        The judgement is a pure function of method, target, headers and body
        (the client address only rides along in the canonical request), so
        small requests are memoised: pods ask the same few questions again and
        again, and a repeat costs a dictionary lookup instead of a parse.
        """
        try:
            size = len(raw.target) + sum(len(n) + len(v) for n, v in raw.headers)
            if size > MEMO_MAX_KEY:
                return self._judge(raw)
            canonical, decision = self._memo(raw.method, raw.target, raw.headers, raw.body)
        except Exception:  # unhashable or malformed parts: judge without the memo
            return self._judge(raw)
        if canonical is not None and canonical.client != raw.client:
            canonical = dataclasses.replace(canonical, client=raw.client)
        return canonical, decision

    def _judge_key(
        self, method: str, target: str, headers: tuple[tuple[str, str], ...], body: bytes
    ) -> tuple[CanonicalRequest | None, Decision]:
        return self._judge(
            RawRequest(method=method, target=target, headers=headers, client="", body=body)
        )

    def _judge(self, raw: RawRequest) -> tuple[CanonicalRequest | None, Decision]:
        try:
            canonical = request.canonicalise(raw, syntax=self.profile.syntax, limits=self.limits)
        except RequestRejected as exc:
            return None, self._rejected(exc)
        except Exception as exc:  # a bug must not open the door or crash the proxy
            return None, self._internal(exc)
        try:
            refusal = self.profile.protocol(canonical, self.options)
            if refusal is not None:
                return canonical, refusal
            return canonical, self.policy.decide(canonical)
        except Exception as exc:
            return canonical, self._internal(exc)

    def _rejected(self, exc: RequestRejected) -> Decision:
        return Decision(
            action=Action.DENY,
            rule_id="canonical",
            status=exc.status,
            body=exc.body,
            content_type=exc.content_type,
        )

    def _internal(self, exc: Exception) -> Decision:
        return Decision(
            action=Action.DENY,
            rule_id="internal-error",
            status=500,
            body=f"podwarden could not judge this request ({type(exc).__name__})\n".encode(),
        )


def build(
    provider: ProviderName | str,
    *,
    policy_file: Path | None = None,
    limits: Limits | None = None,
) -> Firewall:
    """Assemble a firewall for `provider`; a bad policy file raises config.ConfigError.

    Limits come from `limits`, else the policy file's `limits:`, else the defaults.
    """
    try:
        chosen = profile(ProviderName(provider))
    except ValueError:
        accepted = ", ".join(name.value for name in ProviderName)
        raise ConfigError(f"unknown provider {provider!r} (accepted: {accepted})") from None
    if policy_file is None:
        loaded = rules.LoadedPolicy(mode="extend", options=Options(), rules=())
    else:
        loaded = rules.load(policy_file, profile=chosen)
    preset = () if loaded.mode == "replace" else chosen.preset(loaded.options)
    return Firewall(
        provider=chosen.name,
        imdsv2_required=loaded.options.imdsv2_required,
        always_headers=chosen.always_headers,
        limits=limits or loaded.limits or Limits(),
        policy=policy.Policy(rules=loaded.rules + preset, responses=chosen.responses),
        options=loaded.options,
        profile=chosen,
    )
