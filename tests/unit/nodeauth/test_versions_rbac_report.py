"""Version parsing, RBAC rule matching, and the blast-radius analysis."""

from __future__ import annotations

import json

import pytest
import yaml

from podwarden.api.authorization import Attributes
from podwarden.nodeauth import report, versions
from podwarden.nodeauth.populate import ClusterState
from podwarden.rbac import Authorizer, Rule

from .conftest import pod


@pytest.mark.parametrize(
    ("text", "minor"),
    [("latest", versions.LATEST), ("v1.31", 31), ("1.32.4", 32), ("v1.99", versions.LATEST)],
)
def test_versions_parse(text, minor):
    assert versions.parse(text).minor == minor


@pytest.mark.parametrize("text", ["1.x", "v2.1", "", "v1.28"])
def test_bad_versions_say_what_is_accepted(text):
    with pytest.raises(versions.VersionError) as error:
        versions.parse(text)
    assert "v1.29" in str(error.value)


def test_a_feature_listed_twice_is_refused():
    twice = (versions.Change(30, "x", "a"), versions.Change(31, "x", "b"))
    with pytest.raises(versions.VersionError, match="listed twice"):
        versions.validate(twice)


def attrs(verb, resource, *, sub="", name="", group="", path=""):
    return Attributes(user="u", verb=verb, resource=resource, subresource=sub, name=name,
                      api_group=group, resource_request=not path, path=path)  # fmt: skip


@pytest.mark.parametrize(
    ("rule", "request_", "allowed"),
    [
        (Rule.of(["get"], api_groups=[""], resources=["pods"]), attrs("get", "pods"), True),
        (
            Rule.of(["get"], api_groups=[""], resources=["pods"]),
            attrs("get", "pods", sub="log"),
            False,
        ),
        (
            Rule.of(["get"], api_groups=[""], resources=["pods/log"]),
            attrs("get", "pods", sub="log"),
            True,
        ),
        (
            Rule.of(["get"], api_groups=[""], resources=["*/status"]),
            attrs("get", "nodes", sub="status"),
            True,
        ),
        (Rule.of(["*"], api_groups=["*"], resources=["*"]), attrs("delete", "x", group="g"), True),
        (
            Rule.of(["get"], api_groups=[""], resources=["secrets"], resource_names=["a"]),
            attrs("get", "secrets", name="b"),
            False,
        ),
        (
            Rule.of(["get"], non_resource_urls=["/healthz/*"]),
            attrs("get", "", path="/healthz/ping"),
            True,
        ),
        (
            Rule.of(["get"], non_resource_urls=["/healthz"]),
            attrs("get", "", path="/metrics"),
            False,
        ),
    ],
)
def test_rbac_rule_matching(rule, request_, allowed):
    assert rule.allows(request_) is allowed


RBAC = yaml.safe_load(
    """
- {kind: ClusterRole, metadata: {name: admin-ish},
   rules: [{verbs: ["*"], apiGroups: ["*"], resources: ["*"]}]}
- {kind: ClusterRoleBinding, metadata: {name: ci-admin},
   roleRef: {kind: ClusterRole, name: admin-ish},
   subjects: [{kind: ServiceAccount, name: ci, namespace: ns}]}
- {kind: Role, metadata: {name: pods, namespace: ns},
   rules: [{verbs: [create], apiGroups: [""], resources: [pods]}]}
- {kind: RoleBinding, metadata: {name: web-pods, namespace: ns}, roleRef: {kind: Role, name: pods},
   subjects: [{kind: ServiceAccount, name: web}]}
"""
)


@pytest.fixture
def cluster():
    state = ClusterState()
    for index in range(4):
        state.apply(
            pod(
                f"ds-{index}",
                f"n{index}",
                ns="kube-system",
                sa="agent",
                secrets=["agent-key"],
                owner="DaemonSet/agent",
            )
        )
    state.apply(pod("ci", "n2", sa="ci"))
    state.apply(pod("web", "n3", sa="web", secrets=["web-tls"]))
    return state


def test_findings_are_ranked_worst_first_with_their_grants(cluster):
    built = report.build(cluster, Authorizer.from_objects(RBAC))
    messages = [(f.severity, f.message) for f in built.findings]
    assert messages[0] == (
        "critical",
        "node n2 runs a pod whose service account ns/ci is cluster-admin "
        "(any verb on any resource)",
    )
    assert (
        "high",
        "secret kube-system/agent-key is readable from all 4 nodes through DaemonSet "
        "kube-system/agent",
    ) in messages
    assert (
        "medium",
        "node n3 runs a pod whose service account ns/web may create pods in its namespace "
        "(and so use every secret there)",
    ) in messages
    ci = built.findings[0]
    assert ci.detail == "granted by ClusterRoleBinding ci-admin -> ClusterRole admin-ish"
    assert not any(
        "may read every secret" in m for _, m in messages if "ns/ci" in m
    )  # implied by admin, once


def test_a_cluster_without_rbac_grants_has_no_power_findings(cluster):
    built = report.build(cluster, Authorizer.from_objects([]))
    assert [f.id for f in built.findings] == ["secret-on-every-node"]


def test_one_node_lists_what_it_reaches_by_name(cluster):
    built = report.build(cluster, Authorizer.from_objects(RBAC), node="n3")
    body = json.loads(report.to_json(built))
    assert body["nodes"][0]["reach"]["secrets"] == ["kube-system/agent-key", "ns/web-tls"]
    assert "ns/web-tls" in report.to_table(built)
    with pytest.raises(report.UnknownNode, match="'n9' has no pods"):
        report.build(cluster, Authorizer.from_objects(RBAC), node="n9")
