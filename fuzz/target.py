"""The fuzz target: arbitrary bytes as method, target and headers into Firewall.evaluate.

Half of the inputs start from a real secret path and mutate it (the spellings
that bypassed other proxies), half are free-form, so the fuzzer spends its time
near the interesting boundary instead of on garbage the parser drops at once.
"""

from __future__ import annotations

from fuzz.oracle import filtered_read, hides_secrets, reads_as_secret
from podwarden.metadata import firewall
from podwarden.metadata.model import Forward, ProviderName, RawRequest

SEEDS = {
    ProviderName.AWS: (
        "/latest/meta-data/iam/security-credentials/node-role",
        "/latest/meta-data/iam/info",
        "/latest/user-data",
        "/2009-04-04/meta-data/identity-credentials/ec2/security-credentials/ec2-instance",
        "/latest/dynamic/instance-identity/pkcs7",
    ),
    ProviderName.GCE: (
        "/computeMetadata/v1/instance/attributes/kube-env",
        "/computeMetadata/v1/instance/service-accounts/default/token",
        "/computeMetadata/v1/instance/service-accounts/default/identity?audience=x",
        "/computeMetadata/v1/instance/attributes/?recursive=true",
    ),
    ProviderName.AZURE: (
        "/metadata/identity/oauth2/token?api-version=2018-02-01&resource=https://x",
        "/metadata/instance/compute/userData?api-version=2021-02-01",
        "/metadata/instance/compute/customData?api-version=2021-02-01",
        "/metadata/attested/document?api-version=2021-02-01",
    ),
}
GOOD_HEADERS = {
    ProviderName.AWS: (("X-aws-ec2-metadata-token", "t"),),
    ProviderName.GCE: (("Metadata-Flavor", "Google"),),
    ProviderName.AZURE: (("Metadata", "true"),),
}
FIREWALLS = {name: firewall.build(name) for name in ProviderName}
MUTATIONS = (
    "%",
    "%2f",
    "%2F",
    "%2e",
    "%5c",
    "\\",
    "/",
    "//",
    "/./",
    "/../",
    ".",
    "?",
    "&",
    "#",
    ";",
    "%00",
    "%25",
    "\u212a",
    "\uff0f",
    " ",
    "\t",
    "recursive=true",
    "A",
)


class Bypass(AssertionError):
    """The firewall allowed a request that reads as a secret."""


class InternalError(AssertionError):
    """evaluate() caught an exception of its own: a bug hidden behind a 500 deny."""


def build_request(data: bytes) -> tuple[ProviderName, RawRequest]:
    """Decode fuzz bytes into a provider and a raw request (structure-aware)."""
    import atheris

    fdp = atheris.FuzzedDataProvider(data)
    provider = list(ProviderName)[fdp.ConsumeIntInRange(0, 2)]
    if fdp.ConsumeBool():
        target = _mutated_seed(fdp, provider)
        method = "GET" if fdp.ConsumeProbability() < 0.8 else fdp.ConsumeUnicodeNoSurrogates(6)
        headers = GOOD_HEADERS[provider] + _headers(fdp, count=fdp.ConsumeIntInRange(0, 2))
    else:
        method = fdp.ConsumeUnicodeNoSurrogates(8)
        target = fdp.ConsumeUnicodeNoSurrogates(200)
        headers = _headers(fdp, count=fdp.ConsumeIntInRange(0, 6))
    body = fdp.ConsumeBytes(fdp.ConsumeIntInRange(0, 2))
    return provider, RawRequest(
        method=method, target=target, headers=headers, client="10.0.0.9", body=body
    )


def _mutated_seed(fdp: object, provider: ProviderName) -> str:
    seeds = SEEDS[provider]
    target = seeds[fdp.ConsumeIntInRange(0, len(seeds) - 1)]  # type: ignore[attr-defined]
    for _ in range(fdp.ConsumeIntInRange(0, 4)):  # type: ignore[attr-defined]
        position = fdp.ConsumeIntInRange(0, len(target))  # type: ignore[attr-defined]
        choice = fdp.ConsumeIntInRange(0, len(MUTATIONS) + 2)  # type: ignore[attr-defined]
        if choice < len(MUTATIONS):
            insert = MUTATIONS[choice]
        elif choice == len(MUTATIONS):
            insert = fdp.ConsumeUnicodeNoSurrogates(3)  # type: ignore[attr-defined]
        else:
            target = target.swapcase() if fdp.ConsumeBool() else target.upper()  # type: ignore[attr-defined]
            continue
        target = target[:position] + insert + target[position:]
    return target


def _headers(fdp: object, *, count: int) -> tuple[tuple[str, str], ...]:
    return tuple(
        (fdp.ConsumeUnicodeNoSurrogates(12), fdp.ConsumeUnicodeNoSurrogates(24))  # type: ignore[attr-defined]
        for _ in range(count)
    )


def check(
    provider: ProviderName,
    raw: RawRequest,
    *,
    firewalls: dict[ProviderName, firewall.Firewall] = FIREWALLS,
) -> None:
    """Evaluate one request; raise on an exception, an internal error, or an allowed secret."""
    _, decision = firewalls[provider].evaluate(raw)
    if decision.rule_id == "internal-error":
        raise InternalError(f"{provider.value}: {raw!r} hit a bug: {decision.body!r}")
    if isinstance(decision, Forward) and reads_as_secret(provider, decision.upstream_target):
        if filtered_read(provider, decision.upstream_target) and hides_secrets(decision.transform):
            return  # forwarded to be filtered, and the filter holds
        raise Bypass(f"{provider.value}: {raw!r} allowed as {decision.upstream_target!r}")


def one_input(data: bytes) -> None:
    """libFuzzer entry point."""
    provider, raw = build_request(data)
    check(provider, raw)
