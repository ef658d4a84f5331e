"""Policy files: extend/replace, rule conditions, and errors that name the bad key."""

from __future__ import annotations

from pathlib import Path

import pytest

from podwarden.config import ConfigError
from podwarden.metadata import firewall
from podwarden.metadata.model import Forward, ProviderName, RawRequest, Respond
from tests.unit.metadata.conftest import FLAVOR, judge

AWS, GCE, AZ = ProviderName.AWS, ProviderName.GCE, ProviderName.AZURE


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "policy.yaml"
    path.write_text(text)
    return path


def test_extend_puts_file_rules_before_the_preset(tmp_path):
    path = write(
        tmp_path,
        """
rules:
  - id: allow-tags
    methods: [GET]
    path: /latest/meta-data/tags/instance/*
    cacheTtl: 60
    action: allow
  - id: no-hostname
    path: /latest/meta-data/hostname
    action: deny
    status: 403
    message: hostnames are private here
""",
    )
    fw = firewall.build(AWS, policy_file=path)
    _, decision = judge(fw, "/2021-01-03/meta-data/tags/instance/Name")
    assert (type(decision), decision.rule_id, decision.cache_ttl) == (
        Forward,
        "allow-tags",
        60,
    )
    _, decision = judge(fw, "/latest/meta-data/tags/instance/Name", method="HEAD")
    assert type(decision) is Forward
    _, decision = judge(fw, "/latest/meta-data/hostname")
    assert (decision.status, decision.body) == (403, b"hostnames are private here\n")
    _, decision = judge(fw, "/latest/meta-data/instance-id")
    assert decision.rule_id == "aws.instance-id"  # the preset still applies
    _, decision = judge(fw, "/latest/meta-data/iam/info")
    assert decision.rule_id == "aws.iam"


def test_replace_drops_the_preset_but_not_the_protocol_checks(tmp_path):
    path = write(
        tmp_path,
        """
mode: replace
rules:
  - {id: only-zone, path: /computeMetadata/v1/instance/zone, action: allow}
""",
    )
    fw = firewall.build(GCE, policy_file=path)
    _, decision = judge(fw, "/computeMetadata/v1/instance/zone", headers=(FLAVOR,))
    assert decision.rule_id == "only-zone"
    _, decision = judge(fw, "/computeMetadata/v1/instance/id", headers=(FLAVOR,))
    assert (decision.rule_id, decision.status) == ("default", 404)
    _, decision = judge(fw, "/computeMetadata/v1/instance/zone")
    assert decision.rule_id == "gce.flavor"


def test_query_and_header_conditions(tmp_path):
    path = write(
        tmp_path,
        """
rules:
  - id: conceal-waiting
    path: /computeMetadata/v1/instance/**
    query: {wait_for_change: "*"}
    action: conceal
  - id: only-with-header
    path: /computeMetadata/v1/instance/hostname
    headers: {X-Team: blue}
    action: deny
    status: 451
  - id: alt-must-be-absent
    path: /computeMetadata/v1/instance/description
    query: {alt: null}
    action: deny
""",
    )
    fw = firewall.build(GCE, policy_file=path)
    _, decision = judge(
        fw, "/computeMetadata/v1/instance/zone?wait_for_change=true", headers=(FLAVOR,)
    )
    assert (decision.rule_id, decision.status) == ("conceal-waiting", 403)
    _, decision = judge(
        fw, "/computeMetadata/v1/instance/hostname", headers=(FLAVOR, ("x-team", "blue"))
    )
    assert (decision.rule_id, decision.status) == ("only-with-header", 451)
    _, decision = judge(fw, "/computeMetadata/v1/instance/hostname", headers=(FLAVOR,))
    assert decision.rule_id == "gce.hostname"
    _, decision = judge(fw, "/computeMetadata/v1/instance/description", headers=(FLAVOR,))
    assert (decision.rule_id, decision.status) == ("alt-must-be-absent", 404)
    _, decision = judge(fw, "/computeMetadata/v1/instance/description?alt=text", headers=(FLAVOR,))
    assert decision.rule_id == "gce.instance"


def test_azure_file_paths_match_case_insensitively(tmp_path):
    path = write(
        tmp_path,
        """
rules:
  - {id: no-tags, path: /metadata/instance/compute/tagsList, action: deny}
""",
    )
    fw = firewall.build(AZ, policy_file=path)
    _, decision = judge(
        fw, "/metadata/instance/compute/TAGSLIST?api-version=1", headers=(("Metadata", "true"),)
    )
    assert (decision.rule_id, decision.status) == ("no-tags", 404)


def test_deny_rules_match_any_case_even_where_allows_do_not(tmp_path):
    path = write(
        tmp_path,
        """
rules:
  - {id: no-mac, path: /latest/meta-data/mac, action: deny}
""",
    )
    fw = firewall.build(AWS, policy_file=path)
    _, decision = judge(fw, "/latest/meta-data/MAC")
    assert decision.rule_id == "no-mac"


ERRORS = [
    (
        "rules:\n  - {id: x, path: /a, action: allow, colour: red}\n",
        "rules.0.colour: Extra inputs are not permitted",
    ),
    ("rules:\n  - {id: x, path: /a, action: forward}\n", "rules.0.action: Input should be"),
    (
        "rules:\n  - {id: x, path: /a, action: deny, status: 200}\n",
        "rules.0.status: Input should be greater than or equal to 400",
    ),
    (
        "rules:\n  - {id: x, path: a/b, action: allow}\n",
        "rules.0.path: path pattern 'a/b' must start with '/'",
    ),
    (
        "rules:\n  - {id: x, path: /a/**b, action: allow}\n",
        "rules.0.path: '**' must be a whole segment in '/a/**b'",
    ),
    (
        "rules:\n  - {id: x, path: /a//b, action: allow}\n",
        "rules.0.path: path pattern '/a//b' has an empty segment ('//')",
    ),
    (
        "rules:\n  - {id: x, path: /a, action: allow, status: 403}\n",
        "rules.0.status: status and message only apply to action deny",
    ),
    (
        "rules:\n  - {id: x, path: /a, action: allow, query: {recursive: 'true'}}\n",
        "rules.0.query.recursive: not a query parameter aws accepts (accepted: none)",
    ),
    ("rules:\n  - {id: x, path: /a, action: allow, methods: [FETCH]}\n", "rules.0.methods.0:"),
    ("rules:\n  - {path: /a, action: allow}\n", "rules.0.id: Field required"),
    ("rules:\n  - {id: 'bad id', path: /a, action: allow}\n", "rules.0.id: String should match"),
    ("mode: merge\n", "mode: Input should be 'extend' or 'replace'"),
    ("imdsv2: mandatory\n", "imdsv2: Input should be 'optional' or 'required'"),
    (
        "concealedAttributes: [kube-env]\n",
        "concealedAttributes: only applies to provider gce, not aws",
    ),
    (
        "allowedAttributes: [team-config]\n",
        "allowedAttributes: only applies to provider gce, not aws",
    ),
    (
        "allowedProjectAttributes: [team-region]\n",
        "allowedProjectAttributes: only applies to provider gce, not aws",
    ),
    ("rules: {id: x}\n", "rules: Input should be a valid list"),
    ("- just\n- a list\n", "(top level): Input should be a valid dictionary"),
]


@pytest.mark.parametrize(("text", "message"), ERRORS)
def test_bad_policy_files_name_the_key(tmp_path, text, message):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        firewall.build(AWS, policy_file=path)
    assert f"{path}: {message}" in str(caught.value)


def test_imdsv2_only_applies_to_aws(tmp_path):
    path = write(tmp_path, "imdsv2: required\n")
    with pytest.raises(ConfigError, match="imdsv2: only applies to provider aws, not gce"):
        firewall.build(GCE, policy_file=path)


@pytest.mark.parametrize(
    "key", ["concealedAttributes", "allowedAttributes", "allowedProjectAttributes"]
)
def test_attribute_names_are_checked(tmp_path, key):
    path = write(tmp_path, f"{key}: [cluster-name, 'kube-*']\n")
    with pytest.raises(ConfigError, match=rf"{key}.1: 'kube-\*' is not an attribute name"):
        firewall.build(GCE, policy_file=path)


def test_unreadable_and_invalid_yaml_files_are_config_errors(tmp_path):
    with pytest.raises(ConfigError, match="cannot read"):
        firewall.build(AWS, policy_file=tmp_path / "missing.yaml")
    with pytest.raises(ConfigError, match="not valid YAML"):
        firewall.build(AWS, policy_file=write(tmp_path, "rules: [\n"))


def test_unknown_provider_is_a_config_error():
    with pytest.raises(
        ConfigError, match=r"unknown provider 'alibaba' \(accepted: aws, gce, azure\)"
    ):
        firewall.build("alibaba")


def test_empty_file_is_the_preset(tmp_path):
    fw = firewall.build(AWS, policy_file=write(tmp_path, ""))
    _, decision = judge(fw, "/latest/meta-data/iam/info")
    assert decision.rule_id == "aws.iam"


def test_each_judgement_keeps_its_callers_address(firewalls):
    from tests.unit.metadata.conftest import raw

    fw = firewalls[AWS]
    first = raw("/latest/meta-data/instance-id")
    second = first.__class__(method="GET", target=first.target, headers=(), client="10.9.9.9")
    canonical_a, decision_a = fw.evaluate(first)
    canonical_b, decision_b = fw.evaluate(second)
    assert (canonical_a.client, canonical_b.client) == ("10.1.2.3", "10.9.9.9")
    assert decision_a == decision_b
    with pytest.raises(TypeError):
        canonical_a.headers["x"] = "y"  # shared between callers, so read-only


def test_large_requests_are_judged_whole(firewalls):
    big = (("X-Padding", "p" * 2000),)
    canonical, decision = judge(firewalls[AWS], "/latest/meta-data/iam/info", headers=big)
    assert (decision.rule_id, canonical.headers["x-padding"]) == ("aws.iam", "p" * 2000)


@pytest.mark.parametrize(
    "raw_request",
    [
        RawRequest(method=None, target="/", headers=(), client="c"),  # type: ignore[arg-type]
        RawRequest(method="GET", target=b"/", headers=(), client="c"),  # type: ignore[arg-type]
        RawRequest(method="GET", target="/", headers=(("a",),), client="c"),  # type: ignore[arg-type]
    ],
)
def test_malformed_raw_requests_are_denied_never_raised(firewalls, raw_request):
    for fw in firewalls.values():
        _, decision = fw.evaluate(raw_request)
        assert type(decision) is Respond


def test_headers_given_as_lists_are_judged(firewalls):
    listed = RawRequest(
        method="GET",
        target="/latest/meta-data/iam/info",
        headers=[["A", "b"]],  # type: ignore[arg-type]
        client="c",
    )
    _, decision = firewalls[AWS].evaluate(listed)
    assert decision.rule_id == "aws.iam"


def test_policy_file_limits_bound_the_request_target_and_headers(tmp_path):
    path = write(tmp_path, "limits:\n  maxTargetBytes: 64\n  maxHeaders: 4\n")
    fw = firewall.build(AWS, policy_file=path)
    assert (fw.limits.max_target_bytes, fw.limits.max_headers) == (64, 4)
    _, short = judge(fw, "/latest/meta-data/instance-id")
    assert type(short) is Forward
    _, long = judge(fw, "/latest/meta-data/" + "a" * 60)
    assert (type(long), long.status, long.rule_id) == (Respond, 400, "canonical")
    _, crowded = judge(fw, "/latest/meta-data/instance-id", headers=(("x-a", "1"),) * 5)
    assert (type(crowded), crowded.status) == (Respond, 400)
    assert firewall.build(AWS).limits == firewall.Limits()  # no file: the defaults


def test_policy_file_limits_out_of_range_name_the_key(tmp_path):
    path = write(tmp_path, "limits:\n  maxTargetBytes: 100000\n")
    with pytest.raises(
        ConfigError, match=r"limits.maxTargetBytes: Input should be less than or equal to 8190"
    ):
        firewall.build(AWS, policy_file=path)
