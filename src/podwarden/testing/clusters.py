"""Clusters as plain objects, for the node-authorization tests and benchmarks.

`upstream_sample` rebuilds the cluster upstream's node authorizer tests generate
(node_authorizer_test.go `generate(opts)`): the objects are named for their
relationships (`secret0-pod0-node0` is a secret of pod0 on node0), so a table of
requests and expected decisions can be read without the objects. `fleet` is the
benchmark's cluster: N nodes x M pods, each pod with two secrets, a configmap, a
PVC and its service account, and DaemonSets whose pods on every node share one
secret each.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any


def _opt(opts: Mapping[str, int], key: str) -> int:
    return int(opts.get(key, 0))


def _pod(name: str, namespace: str, node: str, sa: str, opts: Mapping[str, int]) -> tuple[
    dict[str, Any], list[dict[str, Any]]
]:  # fmt: skip
    volumes: list[dict[str, Any]] = []
    pvs: list[dict[str, Any]] = []
    for i in range(_opt(opts, "uniqueSecretsPerPod")):
        volumes.append({"name": f"s{i}", "secret": {"secretName": f"secret{i}-{name}"}})
    # upstream picks a random subset of the namespace's shared secrets; with
    # sharedSecretsPerNamespace unset (0) the subset is always 0..n-1
    for i in range(max(_opt(opts, "sharedSecretsPerPod"), 0)):
        volumes.append({"name": f"ss{i}", "secret": {"secretName": f"secret{i}-shared"}})
    for i in range(_opt(opts, "uniqueConfigMapsPerPod")):
        volumes.append({"name": f"c{i}", "configMap": {"name": f"configmap{i}-{name}"}})
    for i in range(_opt(opts, "sharedConfigMapsPerPod")):
        volumes.append({"name": f"sc{i}", "configMap": {"name": f"configmap{i}-shared"}})
    for i in range(_opt(opts, "uniquePVCsPerPod")):
        pv_name = f"pv{i}-{name}-{namespace}"
        claim = f"pvc{i}-{name}"
        pvs.append(_pv(pv_name, namespace, claim))
        volumes.append({"name": f"p{i}", "persistentVolumeClaim": {"claimName": claim}})
    for i in range(_opt(opts, "sharedPVCsPerPod")):
        pv_name = f"pv{i}-shared-{namespace}"
        pvs.append(_pv(pv_name, namespace, f"pvc{i}-shared"))
        volumes.append({"name": f"sp{i}", "persistentVolumeClaim": {"claimName": f"pvc{i}-shared"}})
    claims: list[dict[str, Any]] = []
    statuses: list[dict[str, Any]] = []
    for i in range(_opt(opts, "uniqueResourceClaimsPerPod")):
        claims.append({"name": f"claim{i}", "resourceClaimName": f"claim{i}-{name}-{namespace}"})
    for i in range(_opt(opts, "uniqueResourceClaimTemplatesPerPod")):
        template = f"claimtemplate{i}-{name}-{namespace}"
        claims.append({"name": f"claimtemplate{i}", "resourceClaimTemplateName": template})
    for i in range(_opt(opts, "uniqueResourceClaimTemplatesWithClaimPerPod")):
        template = f"claimtemplate{i}-{name}-{namespace}"
        pod_claim = f"claimtemplate-with-claim{i}"
        claims.append({"name": pod_claim, "resourceClaimTemplateName": template})
        statuses.append(
            {"name": pod_claim, "resourceClaimName": f"generated-claim-{name}-{namespace}-{i}"}
        )
    pod: dict[str, Any] = {
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace, "uid": f"uid-{namespace}-{name}"},
        "spec": {"nodeName": node, "serviceAccountName": sa, "volumes": volumes},
    }
    if claims:
        pod["spec"]["resourceClaims"] = claims
    if statuses:
        pod["status"] = {"resourceClaimStatuses": statuses}
    return pod, pvs


def _pv(name: str, namespace: str, claim: str) -> dict[str, Any]:
    return {
        "kind": "PersistentVolume",
        "metadata": {"name": name},
        "spec": {
            "flexVolume": {"driver": "example.com/flex", "secretRef": {"name": f"secret-{name}"}},
            "claimRef": {"name": claim, "namespace": namespace},
        },
    }


def upstream_sample(opts: Mapping[str, int]) -> list[dict[str, Any]]:
    """The objects upstream's `generate(opts)` makes: pods, PVs, attachments, slices."""
    objects: list[dict[str, Any]] = []
    namespaces = max(_opt(opts, "namespaces"), 1)
    for n in range(_opt(opts, "nodes")):
        node = f"node{n}"
        objects.append({"kind": "Node", "metadata": {"name": node, "uid": f"{node}-uid"}})
        for p in range(_opt(opts, "podsPerNode")):
            pod, pvs = _pod(
                f"pod{p}-{node}", f"ns{p % namespaces}", node, f"svcacct{p}-{node}", opts
            )
            objects.append(pod)
            objects.extend(pvs)
        for a in range(_opt(opts, "attachmentsPerNode")):
            objects.append(
                {
                    "kind": "VolumeAttachment",
                    "metadata": {"name": f"attachment{a}-{node}"},
                    "spec": {"nodeName": node},
                }
            )
        for s in range(_opt(opts, "nodeResourceSlicesPerNode") + 1):  # upstream's `<=`
            objects.append(
                {
                    "kind": "ResourceSlice",
                    "metadata": {"name": f"slice{s}-{node}"},
                    "spec": {"nodeName": node},
                }
            )
    return objects


def fleet_pod(node: str, index: int, *, namespaces: int = 100) -> dict[str, Any]:
    """One application pod of the benchmark fleet (2 secrets, 1 configmap, 1 PVC, its SA)."""
    name = f"app{index}-{node}"
    namespace = f"team{index % namespaces}"
    return {
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "uid": f"uid-{name}",
            "ownerReferences": [{"kind": "ReplicaSet", "name": f"app{index}", "controller": True}],
        },
        "spec": {
            "nodeName": node,
            "serviceAccountName": f"app{index}",
            "containers": [
                {
                    "name": "main",
                    "env": [
                        {
                            "name": "TOKEN",
                            "valueFrom": {"secretKeyRef": {"name": f"{name}-env", "key": "t"}},
                        }
                    ],
                }
            ],
            "volumes": [
                {"name": "creds", "secret": {"secretName": f"{name}-creds"}},
                {"name": "conf", "configMap": {"name": f"{name}-conf"}},
                {"name": "data", "persistentVolumeClaim": {"claimName": f"{name}-data"}},
            ],
        },
    }


def daemonset_pod(node: str, daemonset: int) -> dict[str, Any]:
    """A DaemonSet's pod on `node`; every pod of DaemonSet d mounts secret `ds{d}-shared`."""
    name = f"ds{daemonset}-{node}"
    return {
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": "kube-system",
            "uid": f"uid-{name}",
            "ownerReferences": [
                {"kind": "DaemonSet", "name": f"ds{daemonset}", "controller": True}
            ],
        },
        "spec": {
            "nodeName": node,
            "serviceAccountName": f"ds{daemonset}",
            "volumes": [{"name": "shared", "secret": {"secretName": f"ds{daemonset}-shared"}}],
        },
    }


def fleet(nodes: int, pods_per_node: int, *, daemonsets: int = 5) -> Iterator[dict[str, Any]]:
    """The benchmark cluster: `pods_per_node` pods per node, `daemonsets` of them DaemonSet
    pods, the rest application pods; plus one Node object per node."""
    for n in range(nodes):
        node = f"node{n}"
        yield {"kind": "Node", "metadata": {"name": node, "uid": f"{node}-uid"}}
        for d in range(min(daemonsets, pods_per_node)):
            yield daemonset_pod(node, d)
        for p in range(pods_per_node - min(daemonsets, pods_per_node)):
            yield fleet_pod(node, p)
