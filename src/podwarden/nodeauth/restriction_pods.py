"""NodeRestriction for pods: mirror pods only, status and eviction of the node's own pods.

A node may create a pod only as the mirror of a static pod: annotated
`kubernetes.io/config.mirror`, bound to itself, owned (one controller reference,
without blockOwnerDeletion) by its own Node object with the right UID, and
referring to no service account, secret, configmap, cluster trust bundle,
persistent volume claim or resource claim — a pod it creates must not grant it
anything. It may delete and evict only pods bound to itself and update their
status, but not their labels or resource-claim statuses through it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from podwarden.nodeauth import references
from podwarden.nodeauth.restriction import Lookups, Refusal, Request, expect, not_found
from podwarden.nodeauth.versions import Rules


def _map(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def admit(node: str, request: Request, lookups: Lookups, rules: Rules) -> None:
    sub = request.subresource
    if sub == "":
        _admit_pod(node, request, lookups)
    elif sub == "status":
        _admit_status(node, request)
    elif sub == "eviction":
        _admit_eviction(node, request, lookups)
    else:
        raise Refusal(
            f"unexpected pod subresource \"{sub}\", only 'status' and 'eviction' are allowed"
        )


def _admit_pod(node: str, request: Request, lookups: Lookups) -> None:
    if request.operation == "CREATE":
        _admit_create(node, expect(request.obj, "Pod"), lookups)
    elif request.operation == "DELETE":
        existing = lookups.pod(request.namespace, request.name)
        if existing is None:
            raise not_found("pod", request.name)
        if existing.node != node:
            raise Refusal(f'node "{node}" can only delete pods with spec.nodeName set to itself')
    else:
        raise Refusal(
            f'unexpected operation "{request.operation}", '
            f'node "{node}" can only create and delete mirror pods'
        )


def _admit_create(node: str, pod: Mapping[str, Any], lookups: Lookups) -> None:
    meta, spec = _map(pod.get("metadata")), _map(pod.get("spec"))
    if not references.is_mirror(pod):
        raise Refusal(
            f'pod does not have "{references.MIRROR_ANNOTATION}" annotation, '
            f'node "{node}" can only create mirror pods'
        )
    if spec.get("nodeName") != node:
        raise Refusal(f'node "{node}" can only create pods with spec.nodeName set to itself')
    owners = meta.get("ownerReferences") or []
    if len(owners) > 1:
        raise Refusal(
            f'node "{node}" can only create pods with a single owner reference set to itself'
        )
    if not owners:
        raise Refusal(f'node "{node}" can only create pods with an owner reference set to itself')
    owner = _map(owners[0])
    if (owner.get("apiVersion"), owner.get("kind"), owner.get("name")) != ("v1", "Node", node):
        raise Refusal(f'node "{node}" can only create pods with an owner reference set to itself')
    if owner.get("controller") is not True:
        raise Refusal(
            f'node "{node}" can only create pods with a controller owner reference set to itself'
        )
    if owner.get("blockOwnerDeletion") is True:
        raise Refusal(f'node "{node}" must not set blockOwnerDeletion on an owner reference')
    uid = lookups.node_uid(node)
    if uid is None:
        raise not_found("node", node)
    if owner.get("uid") != uid:
        raise Refusal(f"node {node} UID mismatch: expected {owner.get('uid')} got {uid}")
    if spec.get("serviceAccountName"):
        raise Refusal(f'node "{node}" can not create pods that reference a service account')
    if next(references.secret_names(pod), None) is not None:
        raise Refusal(f'node "{node}" can not create pods that reference secrets')
    if next(references.configmap_names(pod), None) is not None:
        raise Refusal(f'node "{node}" can not create pods that reference configmaps')
    volumes = [_map(v) for v in spec.get("volumes") or []]
    for volume in volumes:
        for source in _map(volume.get("projected")).get("sources") or []:
            if "clusterTrustBundle" in _map(source):
                raise Refusal(
                    f'node "{node}" can not create pods that reference clustertrustbundles'
                )
    if any("persistentVolumeClaim" in v for v in volumes):
        raise Refusal(f'node "{node}" can not create pods that reference persistentvolumeclaims')
    if spec.get("resourceClaims"):
        raise Refusal(f'node "{node}" can not create pods that reference resourceclaims')


def _admit_status(node: str, request: Request) -> None:
    if request.operation != "UPDATE":
        raise Refusal(f'unexpected operation "{request.operation}"')
    old = expect(request.old, "Pod")
    if _map(old.get("spec")).get("nodeName") != node:
        raise Refusal(
            f'node "{node}" can only update pod status for pods with spec.nodeName set to itself'
        )
    new = expect(request.obj, "Pod")
    old_labels = _map(old.get("metadata")).get("labels") or {}
    new_labels = _map(new.get("metadata")).get("labels") or {}
    if old_labels != new_labels:
        raise Refusal(f'node "{node}" cannot update labels through pod status')
    old_claims = _claim_statuses(old)
    if old_claims != _claim_statuses(new):
        raise Refusal(f'node "{node}" cannot update resource claim statues')


def _claim_statuses(pod: Mapping[str, Any]) -> list[tuple[str, str | None]]:
    statuses = _map(pod.get("status")).get("resourceClaimStatuses") or []
    return [(str(_map(s).get("name")), _map(s).get("resourceClaimName")) for s in statuses]


def _admit_eviction(node: str, request: Request, lookups: Lookups) -> None:
    if request.operation != "CREATE":
        raise Refusal(f"unexpected operation {request.operation}")
    eviction = expect(request.obj, "Eviction")
    pod_name = request.name or str(_map(eviction.get("metadata")).get("name") or "")
    if not pod_name:
        raise Refusal("could not determine pod from request data")
    existing = lookups.pod(request.namespace, pod_name)
    if existing is None:
        raise not_found("pod", pod_name)
    if existing.node != node:
        raise Refusal(f"node {node} can only evict pods with spec.nodeName set to itself")
