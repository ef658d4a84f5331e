"""The graph's bookkeeping: shared objects, updates that change nothing, relists."""

from __future__ import annotations

from podwarden.nodeauth import graph as g
from podwarden.nodeauth.populate import ClusterState

from .conftest import pod


def test_a_shared_secret_is_counted_per_node_and_collapses_back():
    state = ClusterState()
    for index, node in enumerate(["n1", "n1", "n2"]):
        state.apply(pod(f"p{index}", node, secrets=["shared"]))
    vertex = g.key(g.SECRET, "ns", "shared")
    assert state.graph.reach[vertex] == {"n1": 2, "n2": 1}
    state.delete(pod("p2", "n2"))
    state.delete(pod("p1", "n1"))
    assert state.graph.reach[vertex] == "n1"
    state.delete(pod("p0", "n1"))
    assert vertex not in state.graph.reach


def test_a_status_update_changes_nothing_but_a_new_uid_replaces_the_pod():
    state = ClusterState()
    first = pod("p", "n1", secrets=["s"])
    state.apply(first)
    record = state.graph.pods["ns/p"]
    state.apply({**first, "status": {"phase": "Running"}})
    assert state.graph.pods["ns/p"] is record
    moved = pod("p", "n2", secrets=["s"])
    moved["metadata"]["uid"] = "other"
    state.apply(moved)
    assert state.graph.reach[g.key(g.SECRET, "ns", "s")] == "n2"


def test_mirror_pods_get_only_their_node_edge():
    state = ClusterState()
    mirror = pod("static", "n1", secrets=["s"], sa="sa")
    mirror["metadata"]["annotations"] = {"kubernetes.io/config.mirror": "x"}
    state.apply(mirror)
    assert state.graph.pod_on("ns", "static", "n1")
    assert not state.graph.reach


def test_a_relist_deletes_what_vanished_while_not_watching():
    state = ClusterState()
    state.apply(pod("gone", "n1", secrets=["s1"]))
    state.apply(pod("kept", "n1", secrets=["s2"]))
    state.replace("Pod", [pod("kept", "n1", secrets=["s2"])])
    assert set(state.graph.pods) == {"ns/kept"}
    assert g.key(g.SECRET, "ns", "s1") not in state.graph.reach


def test_every_reference_a_pod_can_make_becomes_an_edge():
    state = ClusterState()
    spec = {
        "imagePullSecrets": [{"name": "pull"}],
        "initContainers": [{"name": "i", "envFrom": [{"secretRef": {"name": "init-env"}}]}],
        "containers": [
            {
                "name": "c",
                "env": [
                    {"name": "X", "valueFrom": {"configMapKeyRef": {"name": "cm-env", "key": "k"}}}
                ],
            }
        ],
        "ephemeralContainers": [{"name": "e", "envFrom": [{"configMapRef": {"name": "eph-cm"}}]}],
        "volumes": [
            {"name": "proj", "projected": {"sources": [{"secret": {"name": "proj-s"}},
                                                      {"configMap": {"name": "proj-cm"}}]}},
            {"name": "csi", "csi": {"driver": "d", "nodePublishSecretRef": {"name": "csi-s"}}},
            {"name": "rbd", "rbd": {"secretRef": {"name": "rbd-s"}}},
            {"name": "az", "azureFile": {"secretName": "az-s", "shareName": "x"}},
            {"name": "eph", "ephemeral": {"volumeClaimTemplate": {}}},
        ],
        "resourceClaims": [{"name": "gpu", "resourceClaimName": "gpu-claim"},
                           {"name": "t", "resourceClaimTemplateName": "tmpl"}],
    }  # fmt: skip
    obj = pod("p", "n1", sa="runner", **spec)
    obj["status"] = {"resourceClaimStatuses": [{"name": "t", "resourceClaimName": "p-t-abc"}]}
    state.apply(obj)
    names = {g.split(v)[0] + ":" + g.split(v)[2] for v in state.graph.reach}
    assert names == {
        "s:pull", "s:init-env", "s:proj-s", "s:csi-s", "s:rbd-s", "s:az-s", "c:cm-env",
        "c:eph-cm", "c:proj-cm", "v:p-eph", "r:gpu-claim", "r:p-t-abc", "a:runner",
    }  # fmt: skip
