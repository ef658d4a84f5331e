"""Keeping the graph in step with the cluster: one `apply`/`delete`/`replace` per kind.

Upstream's graph_populator (and its newer pod event store): a pod without a node is
not in the graph; an update that keeps the pod's node, uid, ephemeral-container
count, claim statuses and extended claim status changes nothing and is skipped
(everything else a pod refers to is immutable once bound), so the status updates
that make up most pod events cost a dict lookup; a PV is re-added whole; a volume
attachment or slice moves to its new node. `replace` (a list or relist) diffs
against what is known and deletes what vanished, as a continuous watch would have.

`ClusterState` also keeps the few facts NodeRestriction reads besides the graph —
node UIDs, PVC -> PV bindings, CSI drivers' token audiences, node-scoped service
accounts — as small values, never whole objects: a cluster-wide view of 150,000
pods must fit a webhook replica.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from podwarden.nodeauth import references
from podwarden.nodeauth.graph import PVC, SECRET, Graph, PodRecord, PvRecord, key, pod_refs

NODE_SCOPED_ANNOTATION = "podwarden.io/node-scoped"

KINDS = (
    "Pod",
    "Node",
    "PersistentVolume",
    "PersistentVolumeClaim",
    "VolumeAttachment",
    "ResourceSlice",
    "ServiceAccount",
    "CSIDriver",
)


def _map(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _meta(obj: Mapping[str, Any]) -> tuple[str, str]:
    meta = _map(obj.get("metadata"))
    return str(meta.get("namespace") or ""), str(meta.get("name") or "")


def _owner(obj: Mapping[str, Any]) -> str:
    for ref in _map(obj.get("metadata")).get("ownerReferences") or []:
        if isinstance(ref, Mapping) and ref.get("controller"):
            return sys.intern(f"{ref.get('kind', '')}/{ref.get('name', '')}")
    return ""


def _fingerprint(pod: Mapping[str, Any]) -> object:
    spec, status = _map(pod.get("spec")), _map(pod.get("status"))
    ephemeral = spec.get("ephemeralContainers")
    claims = status.get("resourceClaimStatuses")
    extended = status.get("extendedResourceClaimStatus")
    if not ephemeral and not claims and not extended:
        return None
    return (
        len(ephemeral) if isinstance(ephemeral, list) else 0,
        repr(claims) if claims else "",
        repr(extended) if extended else "",
    )


def pod_record(pod: Mapping[str, Any]) -> PodRecord | None:
    """The graph record of a bound pod (None when it has no node yet)."""
    namespace, _ = _meta(pod)
    spec = _map(pod.get("spec"))
    node = spec.get("nodeName")
    if not isinstance(node, str) or not node:
        return None
    uid = str(_map(pod.get("metadata")).get("uid") or "")
    if references.is_mirror(pod):
        refs: tuple[str, ...] = ()
    else:
        refs = pod_refs(
            namespace,
            secrets=references.secret_names(pod),
            configmaps=references.configmap_names(pod),
            pvcs=references.claim_names(pod),
            claims=references.resource_claim_names(pod),
            service_account=str(spec.get("serviceAccountName") or ""),
        )
    audiences: list[str] = []
    drivers: list[str] = []
    for volume in spec.get("volumes") or ():
        volume = _map(volume)
        if "projected" in volume:
            for source in _map(volume["projected"]).get("sources") or ():
                token = _map(_map(source).get("serviceAccountToken"))
                if token:
                    audiences.append(sys.intern(str(token.get("audience") or "")))
        elif driver := references.csi_driver_of_volume(volume):
            drivers.append(sys.intern(driver))
    return PodRecord(
        node=node,
        uid=uid,
        refs=refs,
        owner=_owner(pod),
        fingerprint=_fingerprint(pod),
        audiences=tuple(audiences),
        drivers=tuple(drivers),
    )


def pv_record(pv: Mapping[str, Any]) -> PvRecord | None:
    """The graph record of a PV (None without a claimRef: no edges, as upstream)."""
    spec = _map(pv.get("spec"))
    claim = _map(spec.get("claimRef"))
    driver = references.csi_driver_of_volume(spec)
    if not claim:
        return PvRecord(claim="", secrets=(), driver=driver) if driver else None
    secrets = tuple(
        key(SECRET, s.namespace, s.name) for s in references.pv_secrets(pv) if s.kubelet_visible
    )
    claim_key = key(PVC, str(claim.get("namespace") or ""), str(claim.get("name") or ""))
    return PvRecord(claim=claim_key, secrets=secrets, driver=driver)


@dataclass
class ClusterState:
    """The graph plus the facts NodeRestriction and node-scoped identities read."""

    graph: Graph = field(default_factory=Graph)
    node_uids: dict[str, str] = field(default_factory=dict)
    pvc_volumes: dict[str, str] = field(default_factory=dict)
    """`namespace/name` of a PVC -> the PV it is bound to."""
    csi_audience_map: dict[str, tuple[str, ...]] = field(default_factory=dict)
    pv_drivers: dict[str, str] = field(default_factory=dict)
    """The CSI driver of PVs without a claimRef (not in the graph)."""
    node_scoped: set[str] = field(default_factory=set)
    """`namespace/name` of service accounts annotated podwarden.io/node-scoped=true."""
    known: dict[str, set[str]] = field(default_factory=dict)
    """kind -> keys seen, so `replace` can delete what vanished."""
    unbound: dict[str, PodRecord] = field(default_factory=dict)
    """Pods not yet bound to a node (not in the graph; NodeRestriction still looks them up)."""
    grants: Callable[[str, str, str, str], bool] = field(default=lambda *_: False)
    """(node, audience, namespace, account) -> may the node request tokens for it?"""

    # ---- Lookups (restriction.Lookups) ---------------------------------------------

    def pod(self, namespace: str, name: str) -> PodRecord | None:
        pod_key = f"{namespace}/{name}"
        return self.graph.pods.get(pod_key) or self.unbound.get(pod_key)

    def node_uid(self, name: str) -> str | None:
        return self.node_uids.get(name)

    def pvc_volume(self, namespace: str, name: str) -> str | None:
        return self.pvc_volumes.get(f"{namespace}/{name}")

    def pv_driver(self, name: str) -> str | None:
        if name not in self.known.get("PersistentVolume", ()):
            return None
        record = self.graph.pvs.get(name)
        return record.driver if record is not None else self.pv_drivers.get(name, "")

    def csi_audiences(self, driver: str) -> tuple[str, ...] | None:
        return self.csi_audience_map.get(driver)

    def audience_granted(self, node: str, audience: str, namespace: str, account: str) -> bool:
        return self.grants(node, audience, namespace, account)

    def apply(self, obj: Mapping[str, Any]) -> None:
        """An ADDED or MODIFIED object of any kind in KINDS (others are ignored)."""
        kind = str(obj.get("kind") or "")
        namespace, name = _meta(obj)
        if kind not in KINDS or not name:
            return
        object_key = f"{namespace}/{name}" if namespace else name
        self.known.setdefault(kind, set()).add(object_key)
        getattr(self, f"_apply_{kind.lower()}")(object_key, obj)

    def delete(self, obj: Mapping[str, Any]) -> None:
        """A DELETED object."""
        kind = str(obj.get("kind") or "")
        namespace, name = _meta(obj)
        if kind not in KINDS or not name:
            return
        object_key = f"{namespace}/{name}" if namespace else name
        self.known.get(kind, set()).discard(object_key)
        self._forget(kind, object_key)

    def replace(self, kind: str, items: Iterable[Mapping[str, Any]]) -> None:
        """Hold exactly `items` of `kind` (after a list or relist)."""
        before = set(self.known.get(kind, ()))
        seen: set[str] = set()
        for item in items:
            obj = dict(item)
            obj.setdefault("kind", kind)
            namespace, name = _meta(obj)
            seen.add(f"{namespace}/{name}" if namespace else name)
            self.apply(obj)
        for gone in before - seen:
            self.known[kind].discard(gone)
            self._forget(kind, gone)

    # ---- per kind ------------------------------------------------------------------

    def _apply_pod(self, pod_key: str, obj: Mapping[str, Any]) -> None:
        old = self.graph.pods.get(pod_key)
        node = _map(obj.get("spec")).get("nodeName")
        if old is not None and old.node == node:
            uid = str(_map(obj.get("metadata")).get("uid") or "")
            if old.uid == uid and old.fingerprint == _fingerprint(obj):
                return  # node, uid and claim statuses unchanged: nothing in the graph moves
        record = pod_record(obj)
        if record is None:
            self.graph.delete_pod(pod_key)
            uid = str(_map(obj.get("metadata")).get("uid") or "")
            self.unbound[pod_key] = PodRecord(node="", uid=uid, refs=())
        else:
            self.unbound.pop(pod_key, None)
            self.graph.add_pod(pod_key, record)

    def _apply_node(self, name: str, obj: Mapping[str, Any]) -> None:
        self.node_uids[name] = str(_map(obj.get("metadata")).get("uid") or "")

    def _apply_persistentvolume(self, name: str, obj: Mapping[str, Any]) -> None:
        record = pv_record(obj)
        if record is not None and not record.claim:
            self.pv_drivers[name] = record.driver
            record = None
        else:
            self.pv_drivers.pop(name, None)
        self.graph.add_pv(name, record)

    def _apply_persistentvolumeclaim(self, pvc_key: str, obj: Mapping[str, Any]) -> None:
        self.pvc_volumes[pvc_key] = str(_map(obj.get("spec")).get("volumeName") or "")

    def _apply_volumeattachment(self, name: str, obj: Mapping[str, Any]) -> None:
        self.graph.set_attachment(name, str(_map(obj.get("spec")).get("nodeName") or ""))

    def _apply_resourceslice(self, name: str, obj: Mapping[str, Any]) -> None:
        self.graph.set_slice(name, str(_map(obj.get("spec")).get("nodeName") or ""))

    def _apply_serviceaccount(self, sa_key: str, obj: Mapping[str, Any]) -> None:
        annotations = _map(_map(obj.get("metadata")).get("annotations"))
        if str(annotations.get(NODE_SCOPED_ANNOTATION, "")).lower() == "true":
            self.node_scoped.add(sa_key)
        else:
            self.node_scoped.discard(sa_key)

    def _apply_csidriver(self, name: str, obj: Mapping[str, Any]) -> None:
        requests = _map(obj.get("spec")).get("tokenRequests") or []
        self.csi_audience_map[name] = tuple(
            str(_map(r).get("audience") or "") for r in requests if isinstance(r, Mapping)
        )

    def _forget(self, kind: str, object_key: str) -> None:
        if kind == "Pod":
            self.graph.delete_pod(object_key)
            self.unbound.pop(object_key, None)
        elif kind == "Node":
            self.node_uids.pop(object_key, None)
        elif kind == "PersistentVolume":
            self.graph.delete_pv(object_key)
            self.pv_drivers.pop(object_key, None)
        elif kind == "PersistentVolumeClaim":
            self.pvc_volumes.pop(object_key, None)
        elif kind == "VolumeAttachment":
            self.graph.set_attachment(object_key, "")
        elif kind == "ResourceSlice":
            self.graph.set_slice(object_key, "")
        elif kind == "ServiceAccount":
            self.node_scoped.discard(object_key)
        elif kind == "CSIDriver":
            self.csi_audience_map.pop(object_key, None)
