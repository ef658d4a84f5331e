"""Node-scoped identities: a DaemonSet's service account confined to the node it runs on.

A log shipper or CNI agent runs on every node with a service account that may read
all pods, nodes or secrets; take one node and all of it is yours. Since 1.32 the
API server puts the node of a pod-bound token in the request's `extra`
(`authentication.kubernetes.io/node-name`) and authorizers see field selectors, so
an authorizer can keep such an account to its own node's data.

A service account is node-scoped when annotated `podwarden.io/node-scoped: "true"`
(or listed in the configuration). For it:

- a token without the node claim is refused outright;
- pods: list and watch only with `fieldSelector spec.nodeName=<its node>`; get, update,
  patch, delete (and subresources) only of pods bound to its node;
- nodes: only its own Node object (by name, or listed with `metadata.name=<node>`);
- secrets, configmaps, PVCs, PVs, volume attachments, resource claims and slices:
  only objects the graph relates to its node, one named object at a time;
- CSINodes and Leases in `kube-node-lease`: only its own;
- everything else: no opinion — RBAC decides, as before.

Inside its scope the answer is "no opinion" too (this never grants: RBAC still has to
allow the request); outside it the answer is an explicit deny whose reason names the
account, the node and the rule, so the API server refuses even where RBAC would allow.
"""

from __future__ import annotations

from collections.abc import Callable

from podwarden.api.authorization import EXTRA_NODE_NAME, Attributes
from podwarden.nodeauth import graph as g
from podwarden.nodeauth.decide import NO_OPINION, Decision
from podwarden.nodeauth.identity import ServiceAccountIdentity, service_account_identity

Check = Callable[["ScopedAuthorizer", ServiceAccountIdentity, Attributes], str]
"""Returns '' when the request is inside the node's scope, else the rule it breaks."""


class ScopedAuthorizer:
    """Decisions for node-scoped service accounts over one graph."""

    def __init__(self, graph: g.Graph, is_scoped: Callable[[str], bool]) -> None:
        self.graph = graph
        self.is_scoped = is_scoped

    def authorize(self, attrs: Attributes) -> Decision:
        identity = service_account_identity(attrs)
        if identity is None or not self.is_scoped(identity.key):
            return NO_OPINION
        who = f"service account {identity.key} is node-scoped"
        if not identity.node:
            return Decision(
                "deny",
                f"{who} and its token is not bound to a node (no {EXTRA_NODE_NAME} in the "
                "request): only tokens of its pods may be used",
            )
        if not attrs.resource_request:
            return NO_OPINION
        check = _CHECKS.get((attrs.api_group, attrs.resource))
        broken = check(self, identity, attrs) if check is not None else ""
        if not broken:
            return NO_OPINION
        return Decision("deny", f"{who} to node {identity.node}: {broken}")

    # ---- per resource --------------------------------------------------------------

    def pods(self, who: ServiceAccountIdentity, attrs: Attributes) -> str:
        node = who.node
        if attrs.name:
            if self.graph.pod_on(attrs.namespace, attrs.name, node):
                return ""
            return f"pod {attrs.namespace}/{attrs.name} is not on node {node}"
        if attrs.verb in ("list", "watch"):
            if attrs.field_equals("spec.nodeName", node):
                return ""
            return f"pods may be listed and watched only with fieldSelector spec.nodeName={node}"
        if attrs.verb == "create" and not attrs.subresource:
            return ""  # a new pod is not another node's data; RBAC decides
        return f"{attrs.verb} of pods is allowed only for one named pod on node {node}"

    def nodes(self, who: ServiceAccountIdentity, attrs: Attributes) -> str:
        if attrs.name == who.node or (
            not attrs.name
            and attrs.verb in ("list", "watch")
            and attrs.field_equals("metadata.name", who.node)
        ):
            return ""
        target = f"node {attrs.name}" if attrs.name else "all nodes"
        return f"it may use only its own Node object {who.node}, not {target}"

    def related(self, who: ServiceAccountIdentity, attrs: Attributes) -> str:
        kind = _KINDS[(attrs.api_group, attrs.resource)]
        if kind == "slice" and not attrs.name and attrs.field_equals("spec.nodeName", who.node):
            return ""
        if not attrs.name:
            return f"{attrs.resource} may be used only by name, and only those its node's pods use"
        node = who.node
        if kind == g.SECRET:
            related = self.graph.secret_related(attrs.namespace, attrs.name, node)
        elif kind == "pv":
            related = self.graph.pv_related(attrs.name, node)
        elif kind == "va":
            related = self.graph.attachments.get(attrs.name) == node
        elif kind == "slice":
            related = self.graph.slices.get(attrs.name) == node
        else:
            related = self.graph.reaches(g.key(kind, attrs.namespace, attrs.name), node)
        if related:
            return ""
        where = f"{attrs.namespace}/{attrs.name}" if attrs.namespace else attrs.name
        return f"{attrs.resource} {where} is not used by any pod on node {node}"

    def own_named(self, who: ServiceAccountIdentity, attrs: Attributes) -> str:
        if attrs.resource == "leases" and attrs.namespace != "kube-node-lease":
            return ""  # leader-election leases are nobody's node data
        if attrs.name == who.node:
            return ""
        return f"{attrs.resource} may be used only for its own node {who.node}"


_KINDS = {
    ("", "secrets"): g.SECRET,
    ("", "configmaps"): g.CONFIGMAP,
    ("", "persistentvolumeclaims"): g.PVC,
    ("", "persistentvolumes"): "pv",
    ("storage.k8s.io", "volumeattachments"): "va",
    ("resource.k8s.io", "resourceclaims"): g.CLAIM,
    ("resource.k8s.io", "resourceslices"): "slice",
}
_CHECKS: dict[tuple[str, str], Check] = {
    ("", "pods"): ScopedAuthorizer.pods,
    ("", "nodes"): ScopedAuthorizer.nodes,
    ("storage.k8s.io", "csinodes"): ScopedAuthorizer.own_named,
    ("coordination.k8s.io", "leases"): ScopedAuthorizer.own_named,
    **{pair: ScopedAuthorizer.related for pair in _KINDS},
}
PER_NODE_RESOURCES = frozenset(_CHECKS)
"""(group, resource) pairs a node-scoped account is confined on."""
