"""The node graph: which node reaches which object through the pods bound to it.

Upstream (plugin/pkg/auth/authorizer/node/graph.go) keeps a directed graph whose
edges all point at nodes — pod -> node; secret, configmap, pvc, service account,
resource claim -> pod; pvc <- pv <- secret; volume attachment, resource slice ->
node — and answers "is there a path from this object to that node?" by a walk,
with a destination-edge index (object -> nodes it reaches directly) kept for
vertices with 200 or more edges so that a secret shared by a DaemonSet on 5,000
nodes is not walked.

Here every object a pod refers to keeps that index, always: `reach[key]` is the
node its one referring pod runs on (a plain string, the common case, so a unique
secret costs one dict slot) or a node -> pod-count map once several pods refer to
it. A decision is then a dict lookup, and the only walk left is the short
secret -> pv -> pvc one. Pods are records of what they refer to, so removing a pod
decrements exactly what adding it incremented (edges are per pod and deduplicated,
as upstream's SetEdge makes them). Mirror pods get only their pod -> node edge
(upstream's defence in depth: a node must not grant itself objects by creating a
pod). Keys are interned: the same string serves the pod record and the index.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

# Key prefixes of the vertex kinds a pod refers to.
SECRET = "s"
CONFIGMAP = "c"
PVC = "v"
CLAIM = "r"
SERVICE_ACCOUNT = "a"
KIND_NAMES = {
    SECRET: "secret",
    CONFIGMAP: "configmap",
    PVC: "pvc",
    CLAIM: "resourceclaim",
    SERVICE_ACCOUNT: "serviceAccount",
}

Reach = str | dict[str, int]


def key(kind: str, namespace: str, name: str) -> str:
    """The vertex key of a namespaced object a pod refers to."""
    return sys.intern(f"{kind}{namespace}/{name}")


def split(vertex: str) -> tuple[str, str, str]:
    """(kind, namespace, name) of a key."""
    namespace, _, name = vertex[1:].partition("/")
    return vertex[0], namespace, name


@dataclass(slots=True)
class PodRecord:
    """What one bound pod contributes to the graph, and the facts admission needs."""

    node: str
    uid: str
    refs: tuple[str, ...]
    owner: str = ""
    """`Kind/name` of the controller (a DaemonSet, a ReplicaSet), '' for none."""
    fingerprint: object = None
    """What must change for a pod update to matter (ephemeral containers, claim statuses)."""
    audiences: tuple[str, ...] = ()
    """Token audiences the pod's projected volumes request."""
    drivers: tuple[str, ...] = ()
    """CSI drivers of its inline volumes (in-tree ones translated)."""


@dataclass(slots=True)
class PvRecord:
    claim: str
    """The PVC vertex key of its claimRef."""
    secrets: tuple[str, ...]
    """Secret keys the kubelet sees (CSI controller secrets excluded)."""
    driver: str = ""


class Graph:
    """Incremental node graph; every mutation is O(references of the object)."""

    def __init__(self) -> None:
        self.reach: dict[str, Reach] = {}
        self.pods: dict[str, PodRecord] = {}
        self.by_node: dict[str, set[str]] = {}
        self.pvs: dict[str, PvRecord] = {}
        self.secret_pvs: dict[str, set[str]] = {}
        self.attachments: dict[str, str] = {}
        self.slices: dict[str, str] = {}

    # ---- reading -------------------------------------------------------------------

    def reaches(self, vertex: str, node: str) -> bool:
        """Does a pod bound to `node` refer to this object?"""
        found = self.reach.get(vertex)
        if found is None:
            return False
        if isinstance(found, str):
            return found == node
        return node in found

    def nodes_of(self, vertex: str) -> tuple[str, ...]:
        """Every node whose pods refer to this object."""
        found = self.reach.get(vertex)
        if found is None:
            return ()
        if isinstance(found, str):
            return (found,)
        return tuple(found)

    def secret_related(self, namespace: str, name: str, node: str) -> bool:
        """secret -> pod -> node, or secret -> pv -> pvc -> pod -> node."""
        vertex = key(SECRET, namespace, name)
        if self.reaches(vertex, node):
            return True
        for pv_name in self.secret_pvs.get(vertex, ()):
            pv = self.pvs.get(pv_name)
            if pv is not None and self.reaches(pv.claim, node):
                return True
        return False

    def pv_related(self, name: str, node: str) -> bool:
        """pv -> pvc -> pod -> node."""
        pv = self.pvs.get(name)
        return pv is not None and self.reaches(pv.claim, node)

    def pod_on(self, namespace: str, name: str, node: str) -> bool:
        pod = self.pods.get(f"{namespace}/{name}")
        return pod is not None and pod.node == node

    def pods_on(self, node: str) -> Iterator[tuple[str, PodRecord]]:
        """(namespace/name, record) of every pod bound to `node`."""
        for pod_key in self.by_node.get(node, ()):
            yield pod_key, self.pods[pod_key]

    def nodes(self) -> list[str]:
        """Every node some pod, attachment or slice is bound to."""
        found = set(self.by_node) | set(self.attachments.values()) | set(self.slices.values())
        return sorted(found)

    # ---- pods ----------------------------------------------------------------------

    def add_pod(self, pod_key: str, record: PodRecord) -> None:
        """Add or replace the pod `namespace/name` (upstream AddPod)."""
        self.delete_pod(pod_key)
        record.node = sys.intern(record.node)
        self.pods[pod_key] = record
        self.by_node.setdefault(record.node, set()).add(pod_key)
        node = record.node
        reach = self.reach
        for vertex in record.refs:
            found = reach.get(vertex)
            if found is None:
                reach[vertex] = node
            elif isinstance(found, str):
                reach[vertex] = {node: 2} if found == node else {found: 1, node: 1}
            else:
                found[node] = found.get(node, 0) + 1

    def delete_pod(self, pod_key: str) -> PodRecord | None:
        """Remove the pod and everything only it referred to (upstream DeletePod)."""
        record = self.pods.pop(pod_key, None)
        if record is None:
            return None
        node = record.node
        on_node = self.by_node.get(node)
        if on_node is not None:
            on_node.discard(pod_key)
            if not on_node:
                del self.by_node[node]
        reach = self.reach
        for vertex in record.refs:
            found = reach.get(vertex)
            if found is None or isinstance(found, str):
                reach.pop(vertex, None)
                continue
            count = found[node] - 1
            if count:
                found[node] = count
            else:
                del found[node]
            if len(found) == 1:
                ((only, left),) = found.items()
                if left == 1:
                    reach[vertex] = only
        return record

    # ---- persistent volumes, attachments, slices ------------------------------------

    def add_pv(self, name: str, record: PvRecord | None) -> None:
        """Add or replace a PV; None (no claimRef) leaves it without edges (upstream AddPV)."""
        self.delete_pv(name)
        if record is None:
            return
        self.pvs[name] = record
        for secret in record.secrets:
            self.secret_pvs.setdefault(secret, set()).add(name)

    def delete_pv(self, name: str) -> None:
        record = self.pvs.pop(name, None)
        if record is None:
            return
        for secret in record.secrets:
            users = self.secret_pvs.get(secret)
            if users is not None:
                users.discard(name)
                if not users:
                    del self.secret_pvs[secret]

    def set_attachment(self, name: str, node: str) -> None:
        """volume attachment -> node ('' removes the edge)."""
        self._set(self.attachments, name, node)

    def set_slice(self, name: str, node: str) -> None:
        """resource slice -> node ('' removes the edge)."""
        self._set(self.slices, name, node)

    @staticmethod
    def _set(edges: dict[str, str], name: str, node: str) -> None:
        if node:
            edges[name] = sys.intern(node)
        else:
            edges.pop(name, None)

    # ---- sizes ---------------------------------------------------------------------

    def counts(self) -> dict[str, int]:
        """Vertex and edge counts by kind (for /metrics and the benchmark)."""
        kinds = dict.fromkeys(KIND_NAMES.values(), 0)
        edges = 0
        for vertex, found in self.reach.items():
            kinds[KIND_NAMES[vertex[0]]] += 1
            edges += 1 if isinstance(found, str) else len(found)
        return {
            **kinds,
            "pod": len(self.pods),
            "pv": len(self.pvs),
            "volumeattachment": len(self.attachments),
            "resourceslice": len(self.slices),
            "node": len(self.nodes()),
            "pod_edges": edges,
        }


def pod_refs(
    namespace: str,
    *,
    secrets: Iterable[str] = (),
    configmaps: Iterable[str] = (),
    pvcs: Iterable[str] = (),
    claims: Iterable[str] = (),
    service_account: str = "",
) -> tuple[str, ...]:
    """The deduplicated vertex keys of a pod's references."""
    found: dict[str, None] = {}
    for kind, names in (
        (SECRET, secrets),
        (CONFIGMAP, configmaps),
        (PVC, pvcs),
        (CLAIM, claims),
        (SERVICE_ACCOUNT, (service_account,) if service_account else ()),
    ):
        for name in names:
            found[key(kind, namespace, name)] = None
    return tuple(found)
