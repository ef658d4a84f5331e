"""Node-scoped service accounts and the engine's modes, with the exact reasons."""

from __future__ import annotations

import pytest

from podwarden.api.authorization import EXTRA_NODE_NAME
from podwarden.nodeauth.engine import Engine

from .conftest import request

SA = "system:serviceaccount:kube-system:shipper"
ON_A = ((EXTRA_NODE_NAME, ("node-a",)),)
WHO = "service account kube-system/shipper is node-scoped to node node-a"


@pytest.fixture
def engine(two_nodes):
    two_nodes.apply(
        {
            "kind": "ServiceAccount",
            "metadata": {
                "name": "shipper",
                "namespace": "kube-system",
                "annotations": {"podwarden.io/node-scoped": "true"},
            },
        }
    )
    return Engine(two_nodes)


SCOPED = [
    (request(SA, "list", "pods", fields="spec.nodeName=node-a", extra=ON_A), "no-opinion", ""),
    (
        request(SA, "list", "pods", fields="spec.nodeName=node-b", extra=ON_A),
        "deny",
        f"{WHO}: pods may be listed and watched only with fieldSelector spec.nodeName=node-a",
    ),
    (request(SA, "get", "pods", name="pod-a", ns="ns", sub="log", extra=ON_A), "no-opinion", ""),
    (
        request(SA, "get", "pods", name="pod-b", ns="ns", extra=ON_A),
        "deny",
        f"{WHO}: pod ns/pod-b is not on node node-a",
    ),
    (
        request(SA, "deletecollection", "pods", ns="ns", extra=ON_A),
        "deny",
        f"{WHO}: deletecollection of pods is allowed only for one named pod on node node-a",
    ),
    (request(SA, "get", "nodes", name="node-a", extra=ON_A), "no-opinion", ""),
    (request(SA, "list", "nodes", fields="metadata.name=node-a", extra=ON_A), "no-opinion", ""),
    (
        request(SA, "list", "nodes", extra=ON_A),
        "deny",
        f"{WHO}: it may use only its own Node object node-a, not all nodes",
    ),
    (request(SA, "get", "secrets", name="a-secret", ns="ns", extra=ON_A), "no-opinion", ""),
    (
        request(SA, "get", "secrets", name="b-secret", ns="ns", extra=ON_A),
        "deny",
        f"{WHO}: secrets ns/b-secret is not used by any pod on node node-a",
    ),
    (
        request(SA, "list", "secrets", ns="ns", extra=ON_A),
        "deny",
        f"{WHO}: secrets may be used only by name, and only those its node's pods use",
    ),
    (
        request(
            SA,
            "get",
            "leases",
            name="leader",
            ns="kube-system",
            group="coordination.k8s.io",
            extra=ON_A,
        ),
        "no-opinion",
        "",
    ),
    (
        request(
            SA,
            "update",
            "leases",
            name="node-b",
            ns="kube-node-lease",
            group="coordination.k8s.io",
            extra=ON_A,
        ),
        "deny",
        f"{WHO}: leases may be used only for its own node node-a",
    ),
    (request(SA, "get", "services", ns="ns", extra=ON_A), "no-opinion", ""),
    (
        request(SA, "list", "pods", fields="spec.nodeName=node-a"),
        "deny",
        "service account kube-system/shipper is node-scoped and its token is not bound to a node "
        f"(no {EXTRA_NODE_NAME} in the request): only tokens of its pods may be used",
    ),
    (
        request("system:serviceaccount:kube-system:other", "list", "pods", extra=ON_A),
        "no-opinion",
        "",
    ),
]


@pytest.mark.parametrize(("attrs", "outcome", "reason"), SCOPED)
def test_node_scoped_accounts(engine, attrs, outcome, reason):
    got = engine.authorize(attrs)
    assert (got.outcome, got.reason) == (outcome, reason)


def test_accounts_listed_in_the_configuration_are_scoped_too(two_nodes):
    attrs = request("system:serviceaccount:logs:agent", "list", "pods", extra=ON_A)
    assert Engine(two_nodes).authorize(attrs).outcome == "no-opinion"
    scoped = Engine(two_nodes, scoped_accounts=frozenset({"logs/agent"}))
    assert scoped.authorize(attrs).outcome == "deny"


def test_mode_deny_refuses_what_the_graph_does_not_allow(two_nodes):
    other = request("system:node:node-a", "get", "secrets", name="b-secret", ns="ns")
    own = request("system:node:node-a", "get", "secrets", name="a-secret", ns="ns")
    static = request("system:node:node-a", "delete", "events", ns="ns")
    deny = Engine(two_nodes, mode="deny")
    got = deny.authorize(other)
    assert (got.outcome, got.reason) == (
        "deny",
        "podwarden node authorizer (mode deny): no relationship found between node 'node-a' and "
        "this object",
    )
    assert deny.authorize(own).allowed
    assert deny.authorize(static).outcome == "no-opinion"  # not graph-governed: RBAC may decide
    assert Engine(two_nodes).authorize(other).outcome == "no-opinion"
