"""The metadata firewall's pure core: raw request in, (canonical request, decision) out.

`build()` assembles, once at start, a provider's profile, its strict preset
and an optional policy file into an immutable `Firewall`; `Firewall.evaluate`
is what the proxy calls for every request. It never raises and does no I/O:

1. canonicalise (`request.py`); a non-canonical request is refused with 400 and a
   plain text reason (rule id "canonical");
2. the provider's protocol checks (required headers, X-Forwarded-For,
   api-version, IMDSv2 token rules) in that provider's exact wording;
3. the ordered rules: the file's rules, then the preset's (unless the file
   says `mode: replace`); no match is the provider's usual not-found.

A `Handle` decision names a proxy-side handler: "aws.token" (PUT
/latest/api/token, TTL header already validated) in the proxy itself, the
identity paths in `identity/` (each provider module lists its own).

Memoising repeats is the proxy's job (its plan memo, keyed by the raw
request): this module judges every request it is given.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from podwarden.config import ConfigError
from podwarden.metadata import policy, policy_files, request
from podwarden.metadata.model import (
    CanonicalRequest,
    Decision,
    ProviderName,
    RawRequest,
    RequestRejected,
    Respond,
)
from podwarden.metadata.providers import Options, Profile, aws, azure, gce
from podwarden.metadata.request import Limits

__all__ = ["Firewall", "Limits", "build", "profile"]

PROFILES: dict[ProviderName, Profile] = {
    ProviderName.AWS: aws.PROFILE,
    ProviderName.GCE: gce.PROFILE,
    ProviderName.AZURE: azure.PROFILE,
}


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

    def evaluate(self, raw: RawRequest) -> tuple[CanonicalRequest | None, Decision]:
        """Judge one request. Never raises: a decision that cannot be made is a deny."""
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

    def _rejected(self, exc: RequestRejected) -> Respond:
        return Respond(
            rule_id="canonical",
            status=exc.status,
            body=exc.body,
            content_type=exc.content_type,
        )

    def _internal(self, exc: Exception) -> Respond:
        return Respond(
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
        loaded = policy_files.LoadedPolicy(mode="extend", options=Options(), rules=())
    else:
        loaded = policy_files.load(policy_file, profile=chosen)
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
