"""Property: no spelling of a concealed or denied path is ever ALLOWed.

Hypothesis rewrites real secret paths the ways proxies have been bypassed:
percent-encoding of any character (either hex case, double encoding), case
changes, dot segments, double slashes, backslashes, Unicode look-alikes,
trailing slashes and dots, and junk in the query. Whatever comes out must be
refused, concealed or denied, never forwarded.
"""

from __future__ import annotations

import pytest
from fuzz import target
from fuzz.oracle import reads_as_secret
from fuzz.target import GOOD_HEADERS
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from podwarden.metadata import firewall
from podwarden.metadata.model import Forward, ProviderName, Respond
from tests.unit.metadata.conftest import raw

SECRETS = {
    ProviderName.AWS: (
        "/latest/meta-data/iam/security-credentials/node-role",
        "/latest/meta-data/iam/info",
        "/latest/user-data",
        "/latest/meta-data/identity-credentials/ec2/security-credentials/ec2-instance",
        "/latest/dynamic/instance-identity/signature",
    ),
    ProviderName.GCE: (
        "/computeMetadata/v1/instance/attributes/kube-env",
        "/computeMetadata/v1/instance/service-accounts/default/token",
        "/computeMetadata/v1/instance/service-accounts/default/identity",
        "/computeMetadata/v1/project/attributes/startup-script",
    ),
    ProviderName.AZURE: (
        "/metadata/identity/oauth2/token",
        "/metadata/instance/compute/userData",
        "/metadata/instance/compute/customData",
        "/metadata/attested/document",
    ),
}
BASE_QUERY = {
    ProviderName.AWS: "",
    ProviderName.GCE: "",
    ProviderName.AZURE: "api-version=2021-02-01&resource=https://management.azure.com/",
}
LOOKALIKES = {
    "k": "\u212a",  # KELVIN SIGN, folds to k
    "i": "\u0131",  # dotless i
    "s": "\u017f",  # long s, folds to s
    "/": "\uff0f",  # fullwidth solidus
    ".": "\uff0e",  # fullwidth full stop
    "e": "\u0435",  # Cyrillic e
    "-": "\u2010",  # hyphen
}
INSERTIONS = (
    "/./",
    "/../",
    "//",
    "\\",
    "/x/../",
    "/;/",
    "/%2e/",
    "/%2e%2e/",
    "%2f",
    "%5c",
    "%00",
    "%0a",
    "\t",
    " ",
    ";",
    "%3b",
)
SUFFIXES = (
    "",
    "/",
    ".",
    "..",
    "%2e",
    " ",
    "%20",
    "/.",
    "/..",
    "/%2e",
    "#",
    "#x",
    "?",
    "%3f",
    "%23",
    "\\",
    "~",
    "%7e",
    ";x",
)
QUERY_JUNK = (
    "",
    "recursive=true",
    "alt=json",
    "alt=text",
    "wait_for_change=true",
    "x=1",
    "format=text",
    "api-version=2019-01-01",
    "API-VERSION=1",
    "a",
    "=",
    "&",
    "%00=1",
    "recursive=true&recursive=false",
    "last_etag=0;x",
    "audience=https://x/%2e%2e/",
)


def _char(how: str, char: str) -> str:
    if how == "upper":
        return char.upper()
    if how == "pct":
        return f"%{ord(char):02X}"
    if how == "pct-lower":
        return f"%{ord(char):02x}"
    if how == "double":
        return f"%25{ord(char):02X}"
    if how == "lookalike":
        return LOOKALIKES.get(char, char)
    return char.swapcase()


def _segment_case(draw: st.DrawFn, path: str) -> str:
    segments = path.split("/")
    last = len(segments) - 1  # the secret's own name, most of the time
    index = draw(st.sampled_from([last, last, last, *range(1, last)]))
    how = draw(st.sampled_from((str.upper, str.swapcase, str.title, str.capitalize)))
    segments[index] = how(segments[index])
    return "/".join(segments)


@st.composite
def spellings(draw: st.DrawFn) -> tuple[ProviderName, str]:
    provider = draw(st.sampled_from(list(ProviderName)))
    path = draw(st.sampled_from(SECRETS[provider]))
    if provider is ProviderName.AWS:
        version = draw(
            st.sampled_from(
                (
                    "latest",
                    "1.0",
                    "2009-04-04",
                    "2021-07-15",
                    "LATEST",
                    "Latest",
                    "%6catest",
                    "latest.",
                    "latest/",
                )
            )
        )
        path = path.replace("/latest", "/" + version, 1)
    # Few, targeted changes: a bypass needs the rest of the path intact.
    spelled = _segment_case(draw, path) if draw(st.booleans()) else path
    for _ in range(draw(st.integers(0, 2))):
        at = draw(st.integers(0, len(spelled) - 1))
        how = draw(
            st.sampled_from(("swapcase", "upper", "pct", "pct-lower", "double", "lookalike"))
        )
        spelled = spelled[:at] + _char(how, spelled[at]) + spelled[at + 1 :]
    for _ in range(draw(st.integers(0, 1)) if draw(st.booleans()) else 0):
        slashes = [i for i, c in enumerate(spelled) if c == "/"] or [0]
        at = draw(st.sampled_from(slashes))
        spelled = spelled[:at] + draw(st.sampled_from(INSERTIONS)) + spelled[at + 1 :]
    if draw(st.booleans()):
        spelled += draw(st.sampled_from(SUFFIXES))
    junk = draw(st.sampled_from(QUERY_JUNK)) if draw(st.booleans()) else ""
    query = [q for q in (BASE_QUERY[provider], junk) if q]
    if query:
        spelled += "?" + "&".join(query)
    return provider, spelled


@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(spellings())
def test_no_spelling_of_a_secret_path_is_allowed(firewalls, case):
    provider, spelled = case
    _, decision = firewalls[provider].evaluate(raw(spelled, headers=GOOD_HEADERS[provider]))
    assert decision.rule_id != "internal-error", decision.body
    assert type(decision) is not Forward, (spelled, decision)


def _case_variants() -> list[tuple[ProviderName, str]]:
    variants = []
    for provider, paths in SECRETS.items():
        for path in paths:
            segments = path.split("/")
            for index in range(1, len(segments)):
                for how in (str.upper, str.swapcase, str.title, str.lower):
                    changed = [*segments[:index], how(segments[index]), *segments[index + 1 :]]
                    variants.append((provider, "/".join(changed)))
                for at, char in enumerate(segments[index]):
                    flipped = segments[index][:at] + char.swapcase() + segments[index][at + 1 :]
                    variants.append(
                        (provider, "/".join([*segments[:index], flipped, *segments[index + 1 :]]))
                    )
    return sorted(set(variants))


def test_every_case_variant_of_every_secret_is_refused(firewalls):
    variants = _case_variants()
    assert len(variants) > 500
    for provider, path in variants:
        query = BASE_QUERY[provider]
        target = f"{path}?{query}" if query else path
        _, decision = firewalls[provider].evaluate(raw(target, headers=GOOD_HEADERS[provider]))
        assert type(decision) is not Forward, target


@pytest.mark.parametrize(
    ("provider", "target"),
    [
        (ProviderName.AWS, "/latest/meta-data/%69am/info"),
        (ProviderName.AWS, "/2009-04-04/meta-data/IAM/./info"),
        (ProviderName.AWS, "/latest//user-data."),
        (ProviderName.GCE, "/computeMetadata/v1/instance/attributes%2fkube-env"),
        (ProviderName.GCE, "/computeMetadata/v1/instance/attributes/x/../kube-env"),
        (ProviderName.GCE, "/computeMetadata/v1/instance/service-accounts/default/%2574oken"),
        (ProviderName.GCE, "/computeMetadata/v1/instance/?recursive=true"),
        (ProviderName.AZURE, "/metadata/identity\\oauth2\\token?api-version=1"),
        (ProviderName.AZURE, "//Metadata/Instance/Compute/UserData?api-version=1"),
    ],
)
def test_the_oracle_reads_bypass_spellings_as_secrets(provider, target):
    # The properties are only as good as this reading: it must see through every
    # spelling a lenient server would accept.
    assert reads_as_secret(provider, target)


@pytest.mark.parametrize(
    ("provider", "target"),
    [
        (ProviderName.AWS, "/latest/meta-data/instance-id"),
        (ProviderName.AWS, "/latest/dynamic/instance-identity/document"),
        (ProviderName.GCE, "/computeMetadata/v1/instance/service-accounts/default/?recursive=true"),
        (ProviderName.GCE, "/computeMetadata/v1/instance/attributes/cluster-name"),
        (ProviderName.AZURE, "/metadata/instance/compute?api-version=1"),
    ],
)
def test_the_oracle_does_not_flag_benign_paths(provider, target):
    assert not reads_as_secret(provider, target)


def test_a_permissive_policy_is_caught_by_the_fuzz_check(tmp_path):
    # The fuzz target's check must fail on a firewall that forwards secrets.
    policy = tmp_path / "open.yaml"
    policy.write_text("mode: replace\nrules:\n  - {id: open, path: /**, action: allow}\n")
    open_firewall = firewall.build(ProviderName.GCE, policy_file=policy)
    request = raw(
        "/computeMetadata/v1/instance/attributes/kube-env", headers=GOOD_HEADERS[ProviderName.GCE]
    )
    with pytest.raises(target.Bypass):
        target.check(ProviderName.GCE, request, firewalls={ProviderName.GCE: open_firewall})


@pytest.mark.parametrize(
    ("provider", "target"),
    [
        (ProviderName.AWS, "/latest/user-data:"),
        (ProviderName.AWS, "/latest/meta-data/iam:/info"),
        (ProviderName.AWS, "/latest/dynamic/instance-identity/pkcs7+"),
        (ProviderName.GCE, "/computeMetadata/v1/instance/attributes/kube-env:"),
        (ProviderName.GCE, "/computeMetadata/v1/instance/service-accounts/default/token="),
        (ProviderName.AZURE, "/metadata/instance/compute/userData:?api-version=1"),
        (ProviderName.AZURE, "/metadata/identity:/oauth2/token?api-version=1&resource=x"),
    ],
)
def test_suffixes_a_server_might_ignore_do_not_step_around_a_refusal(firewalls, provider, target):
    _, decision = firewalls[provider].evaluate(raw(target, headers=GOOD_HEADERS[provider]))
    assert type(decision) is Respond
    assert decision.rule_id not in ("default", "canonical")  # refused by the secret's own rule
