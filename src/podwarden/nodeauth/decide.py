"""The node authorizer: upstream's NodeAuthorizer.Authorize, rule for rule, reason for reason.

1. a user that is not a node: no opinion, no reason;
2. a node that cannot be identified (`system:node:` with nothing after it): no opinion,
   `unknown node for user "…"`;
3. secrets and configmaps: get, list or watch of one named object in a namespace,
   related to the node in the graph; PVCs, PVs, resource claims, volume attachments:
   get, related; a PVC's status: update or patch, related; service accounts: create
   of the `token` subresource for one related account (and, from 1.34, get of a
   related account); leases: the node's own in `kube-node-lease`; CSINodes: its own;
   ResourceSlices: create (NodeRestriction checks it), get/update/patch/delete of a
   related slice, list/watch/deletecollection with the nodeName field selector;
4. from 1.32 (AuthorizeNodeWithSelectors) Nodes and Pods are subdivided too: a node
   reads only its own Node, lists and watches pods only with
   `fieldSelector spec.nodeName=<node>` (or one related pod by name), gets related pods;
5. anything else: the static `system:node` rules (rules.py), or no opinion.

A `Decision` is allow or no opinion with upstream's reason; `graph_governed` marks
the no-opinions of an identified node on a subdivided resource, which is where
`--mode deny` answers "denied" instead (so a careless RBAC binding for nodes cannot
win). Nothing here does I/O.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from podwarden.api.authorization import Attributes
from podwarden.nodeauth import graph as g
from podwarden.nodeauth.identity import node_identity
from podwarden.nodeauth.rules import node_rules
from podwarden.nodeauth.versions import LATEST_RULES, Rules
from podwarden.rbac import Rule, rules_allow

Outcome = Literal["allow", "no-opinion", "deny"]
NODE_LEASE_NAMESPACE = "kube-node-lease"
_POD_SUBRESOURCE_WRITES = frozenset(
    {("status", "update"), ("status", "patch"), ("eviction", "create")}
)


@dataclass(frozen=True, slots=True)
class Decision:
    outcome: Outcome
    reason: str = ""
    graph_governed: bool = False

    @property
    def allowed(self) -> bool:
        return self.outcome == "allow"


ALLOW = Decision("allow")
NO_OPINION = Decision("no-opinion")


def _no(reason: str = "") -> Decision:
    return Decision("no-opinion", reason, graph_governed=True)


def _related(reason_node: str, related: bool) -> Decision:
    if related:
        return ALLOW
    return _no(f"no relationship found between node '{reason_node}' and this object")


class NodeAuthorizer:
    """Decisions over one graph, at one version's rules."""

    def __init__(self, graph: g.Graph, rules: Rules = LATEST_RULES) -> None:
        self.graph = graph
        self.rules = rules
        self.static_rules: tuple[Rule, ...] = node_rules(rules)

    def authorize(self, attrs: Attributes) -> Decision:
        node, is_node = node_identity(attrs.user, attrs.groups)
        if not is_node:
            return NO_OPINION
        if not node:
            return Decision("no-opinion", f'unknown node for user "{attrs.user}"')
        if attrs.resource_request:
            handler = _HANDLERS.get((attrs.api_group, attrs.resource))
            if handler is not None:
                found = handler(self, node, attrs)
                if found is not None:
                    return found
        if rules_allow(attrs, self.static_rules):
            return ALLOW
        return NO_OPINION

    # ---- graph checks --------------------------------------------------------------

    def _vertex_related(self, kind: str, node: str, attrs: Attributes) -> Decision:
        if not attrs.name:
            return _no("No Object name found")
        if kind == g.SECRET:
            related = self.graph.secret_related(attrs.namespace, attrs.name, node)
        else:
            related = self.graph.reaches(g.key(kind, attrs.namespace, attrs.name), node)
        return _related(node, related)

    def _read_namespaced(self, kind: str, node: str, attrs: Attributes) -> Decision:
        if attrs.verb not in ("get", "list", "watch"):
            return _no("can only read resources of this type")
        if attrs.subresource:
            return _no("cannot read subresource")
        if not attrs.namespace:
            return _no("can only read namespaced object of this type")
        return self._vertex_related(kind, node, attrs)

    def _get(self, kind: str, node: str, attrs: Attributes) -> Decision:
        if attrs.verb != "get":
            return _no("can only get individual resources of this type")
        if attrs.subresource:
            return _no("cannot get subresource")
        return self._by_kind(kind, node, attrs)

    def _by_kind(self, kind: str, node: str, attrs: Attributes) -> Decision:
        if kind in g.KIND_NAMES:
            return self._vertex_related(kind, node, attrs)
        if not attrs.name:
            return _no("No Object name found")
        if kind == "pv":
            return _related(node, self.graph.pv_related(attrs.name, node))
        if kind == "pod":
            return _related(node, self.graph.pod_on(attrs.namespace, attrs.name, node))
        if kind == "va":
            return _related(node, self.graph.attachments.get(attrs.name) == node)
        return _related(node, self.graph.slices.get(attrs.name) == node)

    # ---- per resource --------------------------------------------------------------

    def secrets(self, node: str, attrs: Attributes) -> Decision:
        return self._read_namespaced(g.SECRET, node, attrs)

    def configmaps(self, node: str, attrs: Attributes) -> Decision:
        return self._read_namespaced(g.CONFIGMAP, node, attrs)

    def pvcs(self, node: str, attrs: Attributes) -> Decision:
        if attrs.subresource == "status":
            if attrs.verb not in ("update", "patch"):
                return _no("can only get/update/patch this type")
            return self._vertex_related(g.PVC, node, attrs)
        return self._get(g.PVC, node, attrs)

    def pvs(self, node: str, attrs: Attributes) -> Decision:
        return self._get("pv", node, attrs)

    def claims(self, node: str, attrs: Attributes) -> Decision:
        return self._get(g.CLAIM, node, attrs)

    def attachments(self, node: str, attrs: Attributes) -> Decision:
        return self._get("va", node, attrs)

    def service_accounts(self, node: str, attrs: Attributes) -> Decision:
        if attrs.verb == "get" and not attrs.subresource:
            if not self.rules.service_account_get:
                return _no("not allowed to get service accounts")
            return self._read_namespaced(g.SERVICE_ACCOUNT, node, attrs)
        if attrs.verb != "create" or not attrs.name:
            return _no("can only create tokens for individual service accounts")
        if attrs.subresource != "token":
            return _no("can only create token subresource of serviceaccount")
        vertex = g.key(g.SERVICE_ACCOUNT, attrs.namespace, attrs.name)
        return _related(node, self.graph.reaches(vertex, node))

    def leases(self, node: str, attrs: Attributes) -> Decision:
        if attrs.verb not in ("get", "create", "update", "patch", "delete"):
            return _no("can only get, create, update, patch, or delete a node lease")
        if attrs.namespace != NODE_LEASE_NAMESPACE:
            return _no(f'can only access leases in the "{NODE_LEASE_NAMESPACE}" system namespace')
        if attrs.verb != "create" and attrs.name != node:
            return _no("can only access node lease with the same name as the requesting node")
        return ALLOW

    def csinodes(self, node: str, attrs: Attributes) -> Decision:
        if attrs.verb not in ("get", "create", "update", "patch", "delete"):
            return _no("can only get, create, update, patch, or delete a CSINode")
        if attrs.subresource:
            return _no("cannot authorize CSINode subresources")
        if attrs.verb != "create" and attrs.name != node:
            return _no("can only access CSINode with the same name as the requesting node")
        return ALLOW

    def resource_slices(self, node: str, attrs: Attributes) -> Decision | None:
        if not self.rules.resource_slices:
            return None
        if attrs.subresource:
            return _no("cannot authorize ResourceSlice subresources")
        verb = attrs.verb
        if verb == "create":
            return ALLOW
        if verb in ("get", "update", "patch", "delete"):
            return self._by_kind("slice", node, attrs)
        if verb in ("watch", "list", "deletecollection"):
            if not self.rules.selectors or attrs.field_equals("spec.nodeName", node):
                return ALLOW
            return _no(
                "can only list/watch/deletecollection resourceslices with nodeName field selector"
            )
        return _no(
            "only the following verbs are allowed for a ResourceSlice: get, watch, list, "
            "create, update, patch, delete, deletecollection"
        )

    def nodes(self, node: str, attrs: Attributes) -> Decision | None:
        if not self.rules.selectors:
            return None
        if attrs.subresource == "":
            if attrs.verb in ("create", "update", "patch"):
                return ALLOW
            if attrs.verb in ("get", "list", "watch"):
                if attrs.name == node:
                    return ALLOW
                if not attrs.name:
                    return _no(f"node '{node}' cannot read all nodes, only its own Node object")
                return _no(f"node '{node}' cannot read '{attrs.name}', only its own Node object")
        elif attrs.subresource == "status" and attrs.verb in ("update", "patch"):
            return ALLOW
        return _no()

    def pods(self, node: str, attrs: Attributes) -> Decision | None:
        if not self.rules.selectors:
            return None
        verb = attrs.verb
        if attrs.subresource == "":
            if verb == "get":
                return self._get("pod", node, attrs)
            if verb in ("list", "watch"):
                if attrs.field_equals("spec.nodeName", node):
                    return ALLOW
                if attrs.name:
                    return self._by_kind("pod", node, attrs)
                return _no("can only list/watch pods with spec.nodeName field selector")
            if verb in ("create", "delete"):
                return ALLOW
        elif (attrs.subresource, verb) in _POD_SUBRESOURCE_WRITES:
            return ALLOW
        return _no()


_HANDLERS: dict[tuple[str, str], Callable[[NodeAuthorizer, str, Attributes], Decision | None]] = {
    ("", "secrets"): NodeAuthorizer.secrets,
    ("", "configmaps"): NodeAuthorizer.configmaps,
    ("", "persistentvolumeclaims"): NodeAuthorizer.pvcs,
    ("", "persistentvolumes"): NodeAuthorizer.pvs,
    ("resource.k8s.io", "resourceclaims"): NodeAuthorizer.claims,
    ("storage.k8s.io", "volumeattachments"): NodeAuthorizer.attachments,
    ("", "serviceaccounts"): NodeAuthorizer.service_accounts,
    ("coordination.k8s.io", "leases"): NodeAuthorizer.leases,
    ("storage.k8s.io", "csinodes"): NodeAuthorizer.csinodes,
    ("resource.k8s.io", "resourceslices"): NodeAuthorizer.resource_slices,
    ("", "nodes"): NodeAuthorizer.nodes,
    ("", "pods"): NodeAuthorizer.pods,
}
GRAPH_GOVERNED = frozenset(_HANDLERS)
"""(group, resource) pairs the node authorizer subdivides."""
