"""NodeRestriction's full messages and status codes (the conformance tables check substrings)."""

from __future__ import annotations

from podwarden.nodeauth import restriction

from .conftest import pod


def req(
    op, resource, *, name="", ns="", sub="", obj=None, old=None, group="", user="system:node:node-a"
):
    return restriction.Request(
        user=user, groups=("system:nodes",), operation=op, group=group, resource=resource,
        subresource=sub, namespace=ns, name=name, obj=obj, old=old,
    )  # fmt: skip


def node(name, labels=None):
    return {"kind": "Node", "metadata": {"name": name, "labels": labels or {}}, "spec": {}}


def test_relabelling_another_node_is_forbidden_with_the_api_servers_wording(two_nodes):
    verdict = restriction.admit(
        req("UPDATE", "nodes", name="node-b", obj=node("node-b", {"x": "1"}), old=node("node-b")),
        two_nodes,
    )
    assert (verdict.allowed, verdict.code, verdict.reason) == (False, 403, "Forbidden")
    assert verdict.message == (
        'nodes "node-b" is forbidden: node "node-a" is not allowed to modify node "node-b"'
    )


def test_own_node_labels_only_outside_the_restricted_namespaces(two_nodes):
    old = node("node-a", {"kubernetes.io/hostname": "a"})
    ok = node(
        "node-a", {"kubernetes.io/hostname": "a", "team": "x", "node.kubernetes.io/pool": "p"}
    )
    assert restriction.admit(
        req("UPDATE", "nodes", name="node-a", obj=ok, old=old), two_nodes
    ).allowed
    bad = node(
        "node-a",
        {"node-restriction.kubernetes.io/trusted": "yes", "node-role.kubernetes.io/master": ""},
    )
    verdict = restriction.admit(req("UPDATE", "nodes", name="node-a", obj=bad, old=old), two_nodes)
    assert verdict.message == (
        'nodes "node-a" is forbidden: is not allowed to modify labels: '
        "node-restriction.kubernetes.io/trusted, node-role.kubernetes.io/master"
    )


def test_a_lookup_that_finds_nothing_is_upstreams_not_found(two_nodes):
    verdict = restriction.admit(req("DELETE", "pods", name="nope", ns="ns"), two_nodes)
    assert (verdict.code, verdict.reason, verdict.message) == (
        404,
        "NotFound",
        'pod "nope" not found',
    )
    own = restriction.admit(req("DELETE", "pods", name="pod-a", ns="ns"), two_nodes)
    other = restriction.admit(req("DELETE", "pods", name="pod-b", ns="ns"), two_nodes)
    assert own.allowed
    assert other.message == (
        'pods "pod-b" is forbidden: node "node-a" can only delete pods with spec.nodeName set '
        "to itself"
    )


def test_token_audiences_a_pod_does_not_use_need_an_rbac_grant(two_nodes):
    token = {
        "kind": "TokenRequest",
        "spec": {
            "audiences": ["vault"],
            "boundObjectRef": {
                "kind": "Pod",
                "apiVersion": "v1",
                "name": "pod-a",
                "uid": "uid-pod-a",
            },
        },
    }
    request = req("CREATE", "serviceaccounts", name="a-sa", ns="ns", sub="token", obj=token)
    verdict = restriction.admit(request, two_nodes)
    assert verdict.message == (
        'serviceaccounts "a-sa" is forbidden: error validating audience "vault": '
        'persistentvolumeclaim "a-data" not found'
    )
    two_nodes.apply(
        {"kind": "PersistentVolumeClaim", "metadata": {"name": "a-data", "namespace": "ns"},
         "spec": {"volumeName": "pv-a"}}
    )  # fmt: skip
    two_nodes.apply({"kind": "CSIDriver", "metadata": {"name": "d"}, "spec": {}})
    verdict = restriction.admit(request, two_nodes)
    assert verdict.message == (
        'serviceaccounts "a-sa" is forbidden: audience "vault" not found in pod spec volume, '
        "system:node:node-a is not authorized to request tokens for this audience"
    )
    two_nodes.grants = lambda node, audience, ns, sa: audience == "vault"
    assert restriction.admit(request, two_nodes).allowed


def test_other_users_and_connect_pass_untouched(two_nodes):
    bob = restriction.Request(
        user="bob", groups=(), operation="DELETE", group="", resource="nodes", name="node-b"
    )
    assert restriction.admit(bob, two_nodes).allowed
    connect = req("CONNECT", "pods", name="pod-b", ns="ns", sub="exec")
    assert restriction.admit(connect, two_nodes).allowed


def test_an_unidentifiable_node_is_refused(two_nodes):
    request = restriction.Request(
        user="system:node:",
        groups=("system:nodes",),
        operation="CREATE",
        group="",
        resource="nodes",
        name="x",
        obj=node("x"),
    )
    verdict = restriction.admit(request, two_nodes)
    assert (
        verdict.message
        == 'nodes "x" is forbidden: could not determine node from user "system:node:"'
    )


def test_a_mirror_pod_may_not_use_resource_claims(two_nodes):
    two_nodes.apply({"kind": "Node", "metadata": {"name": "node-a", "uid": "uid-a"}})
    mirror = pod("static", "node-a", resourceClaims=[{"name": "g", "resourceClaimName": "c"}])
    mirror["metadata"]["annotations"] = {"kubernetes.io/config.mirror": "m"}
    mirror["metadata"]["ownerReferences"] = [
        {"apiVersion": "v1", "kind": "Node", "name": "node-a", "uid": "uid-a", "controller": True}
    ]
    verdict = restriction.admit(
        req("CREATE", "pods", name="static", ns="ns", obj=mirror), two_nodes
    )
    assert verdict.message.endswith(
        'node "node-a" can not create pods that reference resourceclaims'
    )
    del mirror["spec"]["resourceClaims"]
    assert restriction.admit(
        req("CREATE", "pods", name="static", ns="ns", obj=mirror), two_nodes
    ).allowed
