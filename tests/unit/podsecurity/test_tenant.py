"""The tenant preset, the identity guard and the shared role-permission rule."""

from __future__ import annotations

import json

import pytest

from podwarden.api import keys, rolepolicy
from podwarden.podsecurity import identity_guard, tenant

BASE_ARN = "arn:aws:iam::123456789012:role/"


def restricted_pod(annotations=None, **spec):
    container = {
        "name": "app",
        "image": "app:1",
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "capabilities": {"drop": ["ALL"]},
            "runAsNonRoot": True,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
    }
    body = {"containers": [container], **spec}
    meta = {"name": "p", "namespace": "team", "annotations": annotations or {}}
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": body}


def test_restricted_pod_without_role_is_admitted():
    result = tenant.evaluate_tenant(restricted_pod(), namespace_annotations={})
    assert result.allowed, result.reasons


@pytest.mark.parametrize(
    ("spec", "tenant_reason"),
    [
        ({"hostNetwork": True}, "tenant: hostNetwork=true is not allowed"),
        (
            {"volumes": [{"name": "h", "hostPath": {"path": "/etc"}}]},
            "tenant: spec.volumes[0]: hostPath volumes are not allowed",
        ),
    ],
)
def test_tenant_rules_refuse_firewall_bypasses(spec, tenant_reason):
    result = tenant.evaluate_tenant(restricted_pod(**spec), namespace_annotations={})
    assert not result.allowed
    assert result.reasons[0].startswith('violates PodSecurity "restricted:latest"')
    assert any(r.startswith(tenant_reason) for r in result.reasons)


@pytest.mark.parametrize("cap", ["NET_ADMIN", "NET_RAW", "CAP_NET_RAW", "ALL"])
def test_tenant_refuses_network_capabilities(cap):
    pod = restricted_pod()
    pod["spec"]["containers"][0]["securityContext"]["capabilities"]["add"] = [cap]
    rules = tenant.tenant_rules(pod)
    assert rules == [
        f"tenant: spec.containers[0].securityContext.capabilities.add: {cap} is not allowed"
    ]
    assert not tenant.evaluate_tenant(pod, namespace_annotations={}).allowed


def test_identity_guard_in_the_preset():
    pod = restricted_pod({keys.AWS_ROLE: "reader"})
    ns_ok = {keys.AWS_ALLOWED_ROLES: json.dumps(["reader"])}
    assert tenant.evaluate_tenant(pod, namespace_annotations=ns_ok).allowed
    refused = tenant.evaluate_tenant(pod, namespace_annotations=None)
    assert refused.reasons == [
        f"identity guard: annotation {keys.AWS_ROLE}='reader' refused: namespace has no "
        f"{keys.AWS_ALLOWED_ROLES} or {keys.AWS_PERMITTED} annotation, so no role is permitted"
    ]
    assert refused.message == refused.reasons[0]


ROLE_CASES = [
    # (kind, role, namespace annotations, base arn, permitted, reason fragment)
    ("aws", "reader", {}, None, False, "so no role is permitted"),
    ("aws", "reader", {keys.AWS_ALLOWED_ROLES: '["reader"]'}, None, True, "matches 'reader'"),
    ("aws", "reader", {keys.AWS_ALLOWED_ROLES: '["team-*"]'}, None, False, "is not permitted"),
    ("aws", "team-a", {keys.AWS_ALLOWED_ROLES: '["team-*"]'}, None, True, "matches 'team-*'"),
    (
        "aws",
        "team-a",
        {keys.AWS_ALLOWED_ROLES: f'["{BASE_ARN}team-*"]'},
        BASE_ARN,
        True,
        "matches",
    ),
    (
        "aws",
        f"{BASE_ARN}team-a",
        {keys.AWS_ALLOWED_ROLES: '["team-a"]'},
        BASE_ARN,
        True,
        "matches",
    ),
    (
        "aws",
        "arn:aws:iam::999999999999:role/team-a",
        {keys.AWS_ALLOWED_ROLES: '["team-a"]'},
        BASE_ARN,
        False,
        "is not permitted",
    ),
    (
        "aws",
        "dev-x",
        {keys.AWS_PERMITTED: "dev-.*"},
        None,
        True,
        "matches iam.amazonaws.com/permitted",
    ),
    ("aws", "prod-dev-x", {keys.AWS_PERMITTED: "dev-.*"}, None, False, "is not permitted"),
    (
        "aws",
        "team-a",
        {keys.AWS_PERMITTED: f"{BASE_ARN}team-.*"},
        BASE_ARN,
        True,
        "matches",
    ),
    ("aws", "r", {keys.AWS_ALLOWED_ROLES: "reader"}, None, False, "is not valid JSON"),
    (
        "aws",
        "r",
        {keys.AWS_ALLOWED_ROLES: '{"r": 1}'},
        None,
        False,
        "must be a JSON list of strings",
    ),
    (
        "aws",
        "r",
        {keys.AWS_ALLOWED_ROLES: '["r"]', keys.AWS_PERMITTED: "(["},
        None,
        False,
        "is not a valid regular expression",
    ),
    ("aws", "  ", {keys.AWS_ALLOWED_ROLES: '["*"]'}, None, False, "the role annotation is empty"),
    ("gcp", "sa@p.iam.gserviceaccount.com", {}, None, False, "no service account is permitted"),
    (
        "gcp",
        "sa@p.iam.gserviceaccount.com",
        {keys.GCP_ALLOWED_SERVICE_ACCOUNTS: '["*@p.iam.gserviceaccount.com"]'},
        None,
        True,
        "matches",
    ),
    (
        "gcp",
        "sa@other.iam.gserviceaccount.com",
        {keys.GCP_ALLOWED_SERVICE_ACCOUNTS: '["*@p.iam.gserviceaccount.com"]'},
        None,
        False,
        "is not permitted",
    ),
    (
        "azure",
        "0F8FAD5B-D9CB-469F-A165-70867728950E",
        {keys.AZURE_ALLOWED_CLIENT_IDS: '["0f8fad5b-d9cb-469f-a165-70867728950e"]'},
        None,
        True,
        "matches",
    ),
    ("azure", "abc", {keys.AZURE_ALLOWED_CLIENT_IDS: "[1]"}, None, False, "JSON list of strings"),
    # Another cloud's annotation never permits: AWS roles are not listed by GCP keys.
    ("aws", "x", {keys.GCP_ALLOWED_SERVICE_ACCOUNTS: '["*"]'}, None, False, "no role is permitted"),
]


@pytest.mark.parametrize(("kind", "role", "ns", "base", "permitted", "fragment"), ROLE_CASES)
def test_role_permitted(kind, role, ns, base, permitted, fragment):
    got, reason = rolepolicy.role_permitted(kind, role, ns, base_role_arn=base)
    assert got is permitted
    assert fragment in reason


def test_guard_checks_every_cloud_annotation():
    pod = restricted_pod(
        {
            keys.AWS_ROLE: "reader",
            keys.GCP_SERVICE_ACCOUNT: "sa@p.iam.gserviceaccount.com",
            keys.AZURE_CLIENT_ID: "id-1",
        }
    )
    ns = {
        keys.AWS_ALLOWED_ROLES: '["reader"]',
        keys.AZURE_ALLOWED_CLIENT_IDS: "not json",
    }
    reasons = identity_guard.check_pod(pod, ns)
    assert len(reasons) == 2
    assert reasons[0].startswith(f"identity guard: annotation {keys.GCP_SERVICE_ACCOUNT}=")
    assert reasons[1].startswith(
        f"identity guard: annotation {keys.AZURE_CLIENT_ID}='id-1' refused"
    )
    assert "is not valid JSON" in reasons[1]


def test_guard_ignores_pods_without_role_annotations():
    assert identity_guard.check_pod(restricted_pod({"other": "x"}), None) == []
