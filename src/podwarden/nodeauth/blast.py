"""Blast radius: what a holder of a node's kubelet credentials can read, and what that gives.

For each node, from the graph: the secrets, configmaps, PVCs, PVs and resource claims
its pods use (secrets behind its PVs included), and the service accounts whose tokens
it may request. From the RBAC objects: what each of those service accounts may do —
the powers that turn one node into the cluster (cluster-admin, reading every secret,
impersonation, RBAC escalation, creating pods or tokens, the kubelet API).

Pure: it reads a ClusterState and an RBAC authorizer, so the report runs the same offline on a
file as against a live cluster's view.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from podwarden import rbac as rbac_
from podwarden.api.authorization import Attributes
from podwarden.nodeauth import graph as g


@dataclass(frozen=True, slots=True)
class Power:
    """A capability worth reporting: the probe request and how bad having it is."""

    id: str
    severity: str  # critical | high | medium
    what: str
    verb: str
    resource: str
    group: str = ""
    subresource: str = ""
    cluster_wide: bool = True


POWERS: tuple[Power, ...] = (
    Power(
        "cluster-admin", "critical", "is cluster-admin (any verb on any resource)", "*", "*", "*"
    ),
    Power(
        "read-all-secrets", "critical", "may read every secret in the cluster", "list", "secrets"
    ),
    Power("impersonate", "critical", "may impersonate users", "impersonate", "users"),
    Power(
        "escalate",
        "critical",
        "may grant itself any permission (escalate on clusterroles)",
        "escalate",
        "clusterroles",
        "rbac.authorization.k8s.io",
    ),
    Power(
        "bind",
        "critical",
        "may bind any role (bind on clusterroles)",
        "bind",
        "clusterroles",
        "rbac.authorization.k8s.io",
    ),
    Power("create-pods", "high", "may create pods in any namespace", "create", "pods"),
    Power(
        "create-tokens",
        "high",
        "may create tokens for any service account",
        "create",
        "serviceaccounts",
        subresource="token",
    ),
    Power(
        "kubelet-api", "high", "may use any node's kubelet API", "get", "nodes", subresource="proxy"
    ),
    Power(
        "create-pods-namespace",
        "medium",
        "may create pods in its namespace (and so use every secret there)",
        "create",
        "pods",
        cluster_wide=False,
    ),
    Power(
        "read-namespace-secrets",
        "medium",
        "may read every secret in its namespace",
        "list",
        "secrets",
        cluster_wide=False,
    ),
)
SEVERITY_ORDER = {"critical": 0, "high": 1, "medium": 2, "info": 3}


@dataclass
class NodeReach:
    """What one node's credentials reach."""

    node: str
    pods: int = 0
    secrets: set[str] = field(default_factory=set)
    configmaps: set[str] = field(default_factory=set)
    service_accounts: set[str] = field(default_factory=set)
    pvcs: set[str] = field(default_factory=set)
    pvs: set[str] = field(default_factory=set)
    claims: set[str] = field(default_factory=set)

    def counts(self) -> dict[str, int]:
        return {
            "secrets": len(self.secrets),
            "configmaps": len(self.configmaps),
            "serviceAccounts": len(self.service_accounts),
            "pvcs": len(self.pvcs),
            "pvs": len(self.pvs),
            "resourceClaims": len(self.claims),
        }


_BUCKETS = {
    g.SECRET: "secrets",
    g.CONFIGMAP: "configmaps",
    g.SERVICE_ACCOUNT: "service_accounts",
    g.PVC: "pvcs",
    g.CLAIM: "claims",
}


def claim_pvs(graph: g.Graph) -> dict[str, list[str]]:
    """PVC vertex key -> the PVs bound to it."""
    found: dict[str, list[str]] = {}
    for name, pv in graph.pvs.items():
        found.setdefault(pv.claim, []).append(name)
    return found


def node_reach(graph: g.Graph, node: str, pvs_by_claim: dict[str, list[str]]) -> NodeReach:
    """Everything the graph lets `node` read."""
    reach = NodeReach(node)
    for _pod_key, record in graph.pods_on(node):
        reach.pods += 1
        for vertex in record.refs:
            kind, namespace, name = g.split(vertex)
            getattr(reach, _BUCKETS[kind]).add(f"{namespace}/{name}")
            if kind == g.PVC:
                for pv_name in pvs_by_claim.get(vertex, ()):
                    reach.pvs.add(pv_name)
                    for secret in graph.pvs[pv_name].secrets:
                        _, secret_ns, secret_name = g.split(secret)
                        reach.secrets.add(f"{secret_ns}/{secret_name}")
    return reach


def all_reach(graph: g.Graph, nodes: Iterable[str] | None = None) -> list[NodeReach]:
    """NodeReach for `nodes` (every node when None), in name order."""
    pvs_by_claim = claim_pvs(graph)
    return [node_reach(graph, n, pvs_by_claim) for n in (nodes or graph.nodes())]


def powers_of(rbac: rbac_.Authorizer, account: str) -> list[tuple[Power, str]]:
    """(power, the binding that grants it) for the service account `namespace/name`;
    a cluster-wide power also implies its namespaced form, which is then not repeated."""
    namespace, _, name = account.partition("/")
    user, groups = rbac_.service_account_identity(namespace, name)
    found: list[tuple[Power, str]] = []
    held: set[str] = set()
    for power in POWERS:
        if power.id == "create-pods-namespace" and "create-pods" in held:
            continue
        if power.id == "read-namespace-secrets" and held & {"read-all-secrets", "cluster-admin"}:
            continue
        probe = Attributes(
            user=user,
            groups=groups,
            verb=power.verb,
            api_group=power.group if power.group != "*" else "",
            resource=power.resource if power.resource != "*" else "pods",
            subresource=power.subresource,
            namespace="" if power.cluster_wide else namespace,
        )
        grant = rbac.authorize(probe).grant
        if grant is None or (power.id == "cluster-admin" and not _is_wildcard(rbac, user, groups)):
            continue
        held.add(power.id)
        found.append((power, _via(grant.binding)))
        if power.id == "cluster-admin":
            return found  # everything else is implied
    return found


def _via(binding: rbac_.Binding) -> str:
    kind = "ClusterRoleBinding" if binding.namespace is None else "RoleBinding"
    where = f"{binding.namespace}/" if binding.namespace else ""
    return f"{kind} {where}{binding.name} -> {binding.role_kind} {binding.role_name}"


def _is_wildcard(rbac: rbac_.Authorizer, user: str, groups: tuple[str, ...]) -> bool:
    """Whether a ClusterRoleBinding gives the user `*` verbs on `*` resources of `*` groups."""
    return any(
        "*" in r.verbs and "*" in r.resources and "*" in r.api_groups
        for grant in rbac.grants_for(user=user, groups=groups)
        for r in grant.rules
    )
