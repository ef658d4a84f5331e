"""Every decision path of the node authorizer, with its exact reason (allow paired with deny)."""

from __future__ import annotations

import pytest

from podwarden.nodeauth import versions
from podwarden.nodeauth.decide import NodeAuthorizer

from .conftest import request

A = "system:node:node-a"
NO_REL = "no relationship found between node 'node-a' and this object"

# (request, expected outcome, expected reason); each refusal sits next to the allow it mirrors
CASES = [
    (request("alice", "get", "secrets", name="a-secret", ns="ns"), "no-opinion", ""),
    (
        request("system:node:", "get", "secrets", name="a-secret", ns="ns"),
        "no-opinion",
        'unknown node for user "system:node:"',
    ),
    (request(A, "get", "secrets", name="a-secret", ns="ns", groups=()), "no-opinion", ""),
    (request(A, "get", "secrets", name="a-secret", ns="ns"), "allow", ""),
    (request(A, "watch", "secrets", name="a-secret", ns="ns"), "allow", ""),
    (request(A, "get", "secrets", name="b-secret", ns="ns"), "no-opinion", NO_REL),
    (request(A, "get", "secrets", name="pv-secret", ns="ns"), "allow", ""),
    (
        request(A, "delete", "secrets", name="a-secret", ns="ns"),
        "no-opinion",
        "can only read resources of this type",
    ),
    (
        request(A, "get", "secrets", name="a-secret", ns="ns", sub="x"),
        "no-opinion",
        "cannot read subresource",
    ),
    (
        request(A, "list", "secrets", name="a-secret"),
        "no-opinion",
        "can only read namespaced object of this type",
    ),
    (request(A, "list", "secrets", ns="ns"), "no-opinion", "No Object name found"),
    (request(A, "get", "configmaps", name="a-cm", ns="ns"), "allow", ""),
    (request(A, "get", "configmaps", name="b-cm", ns="ns"), "no-opinion", NO_REL),
    (request(A, "get", "persistentvolumeclaims", name="a-data", ns="ns"), "allow", ""),
    (
        request(A, "list", "persistentvolumeclaims", ns="ns"),
        "no-opinion",
        "can only get individual resources of this type",
    ),
    (
        request(A, "get", "persistentvolumeclaims", name="a-data", ns="ns", sub="x"),
        "no-opinion",
        "cannot get subresource",
    ),
    (
        request(A, "patch", "persistentvolumeclaims", name="a-data", ns="ns", sub="status"),
        "allow",
        "",
    ),
    (
        request(A, "get", "persistentvolumeclaims", name="a-data", ns="ns", sub="status"),
        "no-opinion",
        "can only get/update/patch this type",
    ),
    (request(A, "get", "persistentvolumes", name="pv-a"), "allow", ""),
    (request(A, "get", "persistentvolumes", name="pv-b"), "no-opinion", NO_REL),
    (request(A, "get", "volumeattachments", name="va-a", group="storage.k8s.io"), "allow", ""),
    (
        request(A, "get", "volumeattachments", name="va-b", group="storage.k8s.io"),
        "no-opinion",
        NO_REL,
    ),
    (
        request(A, "get", "resourceclaims", name="c", ns="ns", group="resource.k8s.io"),
        "no-opinion",
        NO_REL,
    ),
    (request(A, "create", "serviceaccounts", name="a-sa", ns="ns", sub="token"), "allow", ""),
    (
        request(A, "create", "serviceaccounts", name="b-sa", ns="ns", sub="token"),
        "no-opinion",
        NO_REL,
    ),
    (
        request(A, "create", "serviceaccounts", ns="ns", sub="token"),
        "no-opinion",
        "can only create tokens for individual service accounts",
    ),
    (
        request(A, "create", "serviceaccounts", name="a-sa", ns="ns"),
        "no-opinion",
        "can only create token subresource of serviceaccount",
    ),
    (request(A, "get", "serviceaccounts", name="a-sa", ns="ns"), "allow", ""),
    (request(A, "get", "serviceaccounts", name="b-sa", ns="ns"), "no-opinion", NO_REL),
    (
        request(
            A, "update", "leases", name="node-a", ns="kube-node-lease", group="coordination.k8s.io"
        ),
        "allow",
        "",
    ),
    (
        request(A, "list", "leases", ns="kube-node-lease", group="coordination.k8s.io"),
        "no-opinion",
        "can only get, create, update, patch, or delete a node lease",
    ),
    (
        request(A, "get", "leases", name="node-a", ns="default", group="coordination.k8s.io"),
        "no-opinion",
        'can only access leases in the "kube-node-lease" system namespace',
    ),
    (
        request(
            A, "get", "leases", name="node-b", ns="kube-node-lease", group="coordination.k8s.io"
        ),
        "no-opinion",
        "can only access node lease with the same name as the requesting node",
    ),
    (request(A, "patch", "csinodes", name="node-a", group="storage.k8s.io"), "allow", ""),
    (
        request(A, "list", "csinodes", group="storage.k8s.io"),
        "no-opinion",
        "can only get, create, update, patch, or delete a CSINode",
    ),
    (
        request(A, "get", "csinodes", name="node-a", group="storage.k8s.io", sub="x"),
        "no-opinion",
        "cannot authorize CSINode subresources",
    ),
    (
        request(A, "get", "csinodes", name="node-b", group="storage.k8s.io"),
        "no-opinion",
        "can only access CSINode with the same name as the requesting node",
    ),
    (request(A, "get", "resourceslices", name="slice-a", group="resource.k8s.io"), "allow", ""),
    (
        request(A, "get", "resourceslices", name="slice-b", group="resource.k8s.io"),
        "no-opinion",
        NO_REL,
    ),
    (
        request(A, "get", "resourceslices", name="slice-a", group="resource.k8s.io", sub="s"),
        "no-opinion",
        "cannot authorize ResourceSlice subresources",
    ),
    (
        request(
            A, "list", "resourceslices", group="resource.k8s.io", fields="spec.nodeName=node-a"
        ),
        "allow",
        "",
    ),
    (
        request(A, "list", "resourceslices", group="resource.k8s.io"),
        "no-opinion",
        "can only list/watch/deletecollection resourceslices with nodeName field selector",
    ),
    (
        request(A, "escalate", "resourceslices", group="resource.k8s.io"),
        "no-opinion",
        "only the following verbs are allowed for a ResourceSlice: get, watch, list, create, "
        "update, patch, delete, deletecollection",
    ),
    (request(A, "get", "nodes", name="node-a"), "allow", ""),
    (
        request(A, "list", "nodes"),
        "no-opinion",
        "node 'node-a' cannot read all nodes, only its own Node object",
    ),
    (
        request(A, "get", "nodes", name="node-b"),
        "no-opinion",
        "node 'node-a' cannot read 'node-b', only its own Node object",
    ),
    (request(A, "delete", "nodes", name="node-a"), "no-opinion", ""),
    (request(A, "list", "pods", fields="spec.nodeName=node-a"), "allow", ""),
    (
        request(A, "list", "pods", fields="spec.nodeName!=node-b"),
        "no-opinion",
        "can only list/watch pods with spec.nodeName field selector",
    ),
    (request(A, "get", "pods", name="pod-a", ns="ns"), "allow", ""),
    (request(A, "get", "pods", name="pod-b", ns="ns"), "no-opinion", NO_REL),
    (request(A, "get", "pods", name="pod-a", ns="ns", sub="log"), "no-opinion", ""),
    (request(A, "create", "events", ns="ns"), "allow", ""),
    (request(A, "delete", "events", ns="ns"), "no-opinion", ""),
]


@pytest.mark.parametrize(("attrs", "outcome", "reason"), CASES)
def test_every_decision_path_and_its_reason(two_nodes, attrs, outcome, reason):
    got = NodeAuthorizer(two_nodes.graph).authorize(attrs)
    assert (got.outcome, got.reason) == (outcome, reason)


def test_older_versions_keep_their_rules(two_nodes):
    v131 = NodeAuthorizer(two_nodes.graph, versions.parse("v1.31"))
    v133 = NodeAuthorizer(two_nodes.graph, versions.parse("1.33"))
    everything = request(A, "list", "pods")
    assert v131.authorize(everything).allowed  # static rules before AuthorizeNodeWithSelectors
    sa_get = request(A, "get", "serviceaccounts", name="a-sa", ns="ns")
    got = v133.authorize(sa_get)
    assert (got.outcome, got.reason) == ("no-opinion", "not allowed to get service accounts")
    assert NodeAuthorizer(two_nodes.graph).authorize(sa_get).allowed


def test_a_deleted_pod_takes_its_grants_with_it(two_nodes):
    secret = request(A, "get", "secrets", name="a-secret", ns="ns")
    authorizer = NodeAuthorizer(two_nodes.graph)
    assert authorizer.authorize(secret).allowed
    two_nodes.delete({"kind": "Pod", "metadata": {"name": "pod-a", "namespace": "ns"}})
    assert authorizer.authorize(secret).reason == NO_REL
    assert not authorizer.authorize(request(A, "get", "secrets", name="pv-secret", ns="ns")).allowed
