"""NodeRestriction as an admission webhook: upstream's plugin, rule for rule, message for message.

plugin/pkg/admission/noderestriction/admission.go limits what a kubelet may write:
mirror pods bound to itself that refer to nothing (pods.py), status and eviction of
its own pods, its own Node without node-restriction or unknown kubernetes.io labels
and without taint or configSource changes (nodes.py), tokens only bound to its own
pods and, from 1.33, only for audiences those pods use (restriction_tokens.py), its own Lease,
CSINode and ResourceSlices, PVC status only, and kubelet CSRs naming itself.

Refusals carry the API server's Forbidden wording, `<resource> "<name>" is
forbidden: <why>`; an object the plugin looks up that is not there is upstream's
NotFound (`pod "x" not found`). The facts it needs beyond the request (existing
pods, node UIDs, PVC and PV bindings, CSI drivers, audience grants) come from a
`Lookups` — the ClusterState in the webhook, fixtures in the tests.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from podwarden.nodeauth.graph import PodRecord
from podwarden.nodeauth.identity import node_identity
from podwarden.nodeauth.versions import LATEST_RULES, Rules

OPERATIONS = ("CREATE", "UPDATE", "DELETE")
"""Upstream's handler registers for these; CONNECT passes untouched."""


@dataclass(frozen=True, slots=True)
class Request:
    """What an AdmissionReview's request says, as the plugin reads it."""

    user: str
    groups: tuple[str, ...]
    operation: str
    group: str
    resource: str
    subresource: str = ""
    namespace: str = ""
    name: str = ""
    obj: Mapping[str, Any] | None = None
    old: Mapping[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class Verdict:
    """allowed, or a refusal with its HTTP code, Status reason and message."""

    allowed: bool
    code: int = 200
    reason: str = ""
    message: str = ""


ALLOWED = Verdict(True)


class Lookups(Protocol):
    """What the plugin reads from informers upstream."""

    def pod(self, namespace: str, name: str) -> PodRecord | None: ...

    def node_uid(self, name: str) -> str | None: ...

    def pvc_volume(self, namespace: str, name: str) -> str | None: ...

    def pv_driver(self, name: str) -> str | None: ...

    def csi_audiences(self, driver: str) -> tuple[str, ...] | None: ...

    def audience_granted(self, node: str, audience: str, namespace: str, account: str) -> bool: ...


class Refusal(Exception):
    """Raised by the per-kind checks; becomes a Forbidden (or NotFound) verdict."""

    def __init__(self, why: str, *, not_found: str = "") -> None:
        super().__init__(why)
        self.why = why
        self.not_found = not_found


def not_found(resource: str, name: str) -> Refusal:
    """A lister's NotFound: `pod "x" not found`, `csidriver.storage.k8s.io "d" not found`."""
    return Refusal(f'{resource} "{name}" not found', not_found=resource)


def object_name(obj: Mapping[str, Any] | None) -> str:
    meta = obj.get("metadata") if isinstance(obj, Mapping) else None
    return str(meta.get("name") or "") if isinstance(meta, Mapping) else ""


def expect(obj: Mapping[str, Any] | None, kind: str) -> Mapping[str, Any]:
    """The request's object, which must be a `kind` (upstream's `unexpected type %T`)."""
    if not isinstance(obj, Mapping) or (obj.get("kind") not in (kind, None)):
        got = obj.get("kind") if isinstance(obj, Mapping) else "nil"
        raise Refusal(f"unexpected type {got}")
    return obj


def _forbidden(request: Request, why: str) -> Verdict:
    group_resource = f"{request.resource}.{request.group}" if request.group else request.resource
    name = request.name or object_name(request.obj) or "Unknown"
    return Verdict(False, 403, "Forbidden", f'{group_resource} "{name}" is forbidden: {why}')


def admit(request: Request, lookups: Lookups, rules: Rules = LATEST_RULES) -> Verdict:
    """Upstream Plugin.Admit."""
    from podwarden.nodeauth import restriction_nodes, restriction_pods, restriction_tokens

    node, is_node = node_identity(request.user, request.groups)
    if not is_node or request.operation not in OPERATIONS:
        return ALLOWED
    if not node:
        return _forbidden(request, f'could not determine node from user "{request.user}"')
    handlers = {
        ("", "pods"): restriction_pods.admit,
        ("", "nodes"): restriction_nodes.admit_node,
        ("", "persistentvolumeclaims"): restriction_nodes.admit_pvc_status,
        ("", "serviceaccounts"): restriction_tokens.admit,
        ("coordination.k8s.io", "leases"): restriction_nodes.admit_lease,
        ("storage.k8s.io", "csinodes"): restriction_nodes.admit_csinode,
        ("resource.k8s.io", "resourceslices"): restriction_nodes.admit_resource_slice,
        ("certificates.k8s.io", "certificatesigningrequests"): restriction_tokens.admit_csr,
    }
    handler = handlers.get((request.group, request.resource))
    if handler is None:
        return ALLOWED
    try:
        handler(node, request, lookups, rules)
    except Refusal as refusal:
        if refusal.not_found:
            return Verdict(False, 404, "NotFound", refusal.why)
        return _forbidden(request, refusal.why)
    return ALLOWED
