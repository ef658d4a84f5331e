"""NodeRestriction for a node's own objects: Node, PVC status, Lease, CSINode, ResourceSlice.

A node may create, update and delete only its own Node object; it may not set a
configSource (that would widen what it may read), change its taints, or add,
change or remove labels under `node-restriction.kubernetes.io/` or
`kubernetes.io`/`k8s.io` labels the kubelet does not own (it could steer
privileged workloads to itself). The labels a kubelet owns are upstream's
`kubeletapis.IsKubeletLabel`: the fixed list below and the `kubelet.kubernetes.io`
and `node.kubernetes.io` namespaces (and their subdomains).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from podwarden.nodeauth.restriction import Lookups, Refusal, Request, expect, object_name
from podwarden.nodeauth.versions import Rules

NODE_RESTRICTION_NAMESPACE = "node-restriction.kubernetes.io"
NODE_LEASE_NAMESPACE = "kube-node-lease"
KUBELET_LABELS = frozenset(
    {
        "kubernetes.io/hostname",
        "topology.kubernetes.io/zone",
        "topology.kubernetes.io/region",
        "failure-domain.beta.kubernetes.io/zone",
        "failure-domain.beta.kubernetes.io/region",
        "beta.kubernetes.io/instance-type",
        "node.kubernetes.io/instance-type",
        "kubernetes.io/os",
        "kubernetes.io/arch",
        "beta.kubernetes.io/os",
        "beta.kubernetes.io/arch",
    }
)
KUBELET_LABEL_NAMESPACES = ("kubelet.kubernetes.io", "node.kubernetes.io")


def _map(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def label_namespace(key: str) -> str:
    prefix, sep, _ = key.partition("/")
    return prefix if sep else ""


def _in(namespace: str, domain: str) -> bool:
    return namespace == domain or namespace.endswith("." + domain)


def is_kubelet_label(key: str) -> bool:
    """kubeletapis.IsKubeletLabel."""
    namespace = label_namespace(key)
    return key in KUBELET_LABELS or any(_in(namespace, d) for d in KUBELET_LABEL_NAMESPACES)


def modified_labels(a: Mapping[str, Any], b: Mapping[str, Any]) -> set[str]:
    """Keys added, removed or changed between two label maps (getModifiedLabels)."""
    return {k for k in {*a, *b} if k not in a or k not in b or a[k] != b[k]}


def forbidden_labels(modified: set[str]) -> list[str]:
    """The modified labels a node may not touch, sorted (getForbiddenLabels)."""
    found = set()
    for key in modified:
        namespace = label_namespace(key)
        if _in(namespace, NODE_RESTRICTION_NAMESPACE):
            found.add(key)
        is_kubernetes = _in(namespace, "kubernetes.io") or _in(namespace, "k8s.io")
        if is_kubernetes and not is_kubelet_label(key):
            found.add(key)
    return sorted(found)


def _labels(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    return _map(_map(obj.get("metadata")).get("labels"))


def admit_node(node: str, request: Request, lookups: Lookups, rules: Rules) -> None:
    if request.name != node:
        raise Refusal(f'node "{node}" is not allowed to modify node "{request.name}"')
    if request.operation == "CREATE":
        new = expect(request.obj, "Node")
        if _map(new.get("spec")).get("configSource") is not None:
            raise Refusal(
                f'node "{node}" is not allowed to create pods with a non-nil configSource'
            )
        if forbidden := forbidden_labels(modified_labels(_labels(new), {})):
            raise Refusal(
                f'node "{node}" is not allowed to set the following labels: {", ".join(forbidden)}'
            )
    elif request.operation == "UPDATE":
        new, old = expect(request.obj, "Node"), expect(request.old, "Node")
        new_spec, old_spec = _map(new.get("spec")), _map(old.get("spec"))
        source = new_spec.get("configSource")
        if source is not None and source != old_spec.get("configSource"):
            raise Refusal(
                f'node "{node}" is not allowed to update configSource to a new non-nil configSource'
            )
        if (new_spec.get("taints") or None) != (old_spec.get("taints") or None):
            raise Refusal(f'node "{node}" is not allowed to modify taints')
        if forbidden := forbidden_labels(modified_labels(_labels(new), _labels(old))):
            raise Refusal(f"is not allowed to modify labels: {', '.join(forbidden)}")


_PVC_STATUS_IGNORED = ("capacity", "conditions")
_PVC_STATUS_RECOVERY = ("allocatedResourceStatuses", "allocatedResources")


def _comparable_pvc(pvc: Mapping[str, Any], rules: Rules) -> dict[str, Any]:
    meta = {k: v for k, v in _map(pvc.get("metadata")).items()}
    meta.pop("resourceVersion", None)
    meta.pop("managedFields", None)
    ignored = _PVC_STATUS_IGNORED + (_PVC_STATUS_RECOVERY if rules.pvc_allocated_resources else ())
    status = {k: v for k, v in _map(pvc.get("status")).items() if k not in ignored}
    rest = {k: v for k, v in pvc.items() if k not in ("metadata", "status", "kind", "apiVersion")}
    return {"metadata": meta, "status": status, **rest}


def admit_pvc_status(node: str, request: Request, lookups: Lookups, rules: Rules) -> None:
    if request.subresource != "status":
        raise Refusal("may only update PVC status")
    if request.operation != "UPDATE":
        raise Refusal(f'unexpected operation "{request.operation}"')
    old = expect(request.old, "PersistentVolumeClaim")
    new = expect(request.obj, "PersistentVolumeClaim")
    before, after = _comparable_pvc(old, rules), _comparable_pvc(new, rules)
    if before != after:
        changed = sorted(
            f"{section}.{k}"
            for section in ("metadata", "status", "spec")
            for k in {*_map(before.get(section)), *_map(after.get(section))}
            if _map(before.get(section)).get(k) != _map(after.get(section)).get(k)
        )
        raise Refusal(
            f'node "{node}" is not allowed to update fields other than status.quantity and '
            f"status.conditions: changed {', '.join(changed) or 'the object'}"
        )


def admit_lease(node: str, request: Request, lookups: Lookups, rules: Rules) -> None:
    if request.namespace != NODE_LEASE_NAMESPACE:
        raise Refusal(f'can only access leases in the "{NODE_LEASE_NAMESPACE}" system namespace')
    if request.operation == "CREATE":
        name = object_name(expect(request.obj, "Lease"))
    else:
        name = request.name
    if name != node:
        raise Refusal("can only access node lease with the same name as the requesting node")


def admit_csinode(node: str, request: Request, lookups: Lookups, rules: Rules) -> None:
    if request.operation == "CREATE":
        if not isinstance(request.obj, Mapping):
            raise Refusal("unable to access the object name")
        name = object_name(request.obj)
    else:
        name = request.name
    if name != node:
        raise Refusal("can only access CSINode with the same name as the requesting node")


def admit_resource_slice(node: str, request: Request, lookups: Lookups, rules: Rules) -> None:
    if request.operation == "CREATE":
        slice_node = _map(expect(request.obj, "ResourceSlice").get("spec")).get("nodeName")
        if slice_node != node:
            raise Refusal(
                "can only create ResourceSlice with the same NodeName as the requesting node"
            )
    elif request.operation == "DELETE":
        slice_node = _map(expect(request.old, "ResourceSlice").get("spec")).get("nodeName")
        if slice_node != node:
            raise Refusal(
                "can only delete ResourceSlice with the same NodeName as the requesting node"
            )
