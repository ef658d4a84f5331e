"""Ranked findings of the blast-radius report.

Two kinds, worst first (severity, then how many nodes it takes to matter — fewer
is worse, since any one of them suffices):

- a service account whose pods run on a node holds a power (blast.POWERS): taking
  any of those nodes gives it — "node n-17 runs a pod whose service account
  default/ci may read every secret in the cluster";
- a secret readable from many nodes at once — every node, or at least half of them
  (from 3 nodes up) — through the pods of a DaemonSet or Deployment: "secret
  kube-system/x is readable from all 5,000 nodes through DaemonSet kube-system/y".
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from podwarden import rbac as rbac_
from podwarden.nodeauth import blast
from podwarden.nodeauth import graph as g

SEVERITIES = ("critical", "high", "medium", "info")


@dataclass(frozen=True)
class Finding:
    severity: str
    id: str
    message: str
    nodes: tuple[str, ...]
    subject: str
    detail: str = ""

    def sort_key(self) -> tuple[int, int, str]:
        return (blast.SEVERITY_ORDER[self.severity], len(self.nodes), self.message)

    def to_json(self) -> dict[str, object]:
        return {
            "severity": self.severity,
            "id": self.id,
            "message": self.message,
            "subject": self.subject,
            "detail": self.detail,
            "nodeCount": len(self.nodes),
            "nodes": list(self.nodes[:50]),
        }


def _nodes_text(nodes: tuple[str, ...], total: int) -> str:
    if len(nodes) == 1:
        return f"node {nodes[0]} runs"
    if len(nodes) == total:
        return f"all {total:,} nodes run"
    return f"{len(nodes):,} nodes ({', '.join(nodes[:3])}{', …' if len(nodes) > 3 else ''}) run"


def power_findings(
    reaches: list[blast.NodeReach], rbac: rbac_.Authorizer, total_nodes: int
) -> list[Finding]:
    """A finding per (service account, power) over the nodes running its pods."""
    accounts: dict[str, list[str]] = {}
    for reach in reaches:
        for account in reach.service_accounts:
            accounts.setdefault(account, []).append(reach.node)
    found = []
    for account, nodes in accounts.items():
        for power, via in blast.powers_of(rbac, account):
            ordered = tuple(sorted(nodes))
            found.append(
                Finding(
                    severity=power.severity,
                    id=power.id,
                    message=(
                        f"{_nodes_text(ordered, total_nodes)} a pod whose service account "
                        f"{account} {power.what}"
                    ),
                    nodes=ordered,
                    subject=f"ServiceAccount {account}",
                    detail=f"granted by {via}",
                )
            )
    return found


@dataclass
class _Spread:
    nodes: set[str] = field(default_factory=set)
    owners: Counter[str] = field(default_factory=Counter)


def spread_findings(graph: g.Graph, total_nodes: int) -> list[Finding]:
    """Secrets readable from every node, or from half of them or more (3 nodes and up)."""
    if total_nodes < 3:
        return []
    wide = {
        vertex
        for vertex, reach in graph.reach.items()
        if vertex[0] == g.SECRET and not isinstance(reach, str) and len(reach) * 2 >= total_nodes
    }
    spreads: dict[str, _Spread] = {v: _Spread() for v in wide}
    if wide:
        for pod_key, record in graph.pods.items():
            for vertex in record.refs:
                spread = spreads.get(vertex)
                if spread is not None:
                    spread.nodes.add(record.node)
                    namespace = pod_key.partition("/")[0]
                    spread.owners[_owner_text(namespace, record.owner, pod_key)] += 1
    found = []
    for vertex, spread in spreads.items():
        _, namespace, name = g.split(vertex)
        nodes = tuple(sorted(spread.nodes))
        everywhere = len(nodes) == total_nodes
        owners = ", ".join(owner for owner, _ in spread.owners.most_common(2))
        how_many = f"all {total_nodes:,}" if everywhere else f"{len(nodes):,} of {total_nodes:,}"
        found.append(
            Finding(
                severity="high" if everywhere else "medium",
                id="secret-on-every-node" if everywhere else "secret-on-most-nodes",
                message=f"secret {namespace}/{name} is readable from {how_many} nodes "
                f"through {owners}",
                nodes=nodes,
                subject=f"Secret {namespace}/{name}",
                detail="any one of these nodes' kubelet credentials reads it",
            )
        )
    return found


def _owner_text(namespace: str, owner: str, pod_key: str) -> str:
    if not owner:
        return f"Pod {pod_key}"
    kind, _, name = owner.partition("/")
    return f"{kind} {namespace}/{name}"


def ranked(findings: list[Finding]) -> list[Finding]:
    return sorted(findings, key=Finding.sort_key)


def at_or_above(findings: list[Finding], threshold: str) -> list[Finding]:
    """Findings whose severity is `threshold` or worse."""
    limit = blast.SEVERITY_ORDER[threshold]
    return [f for f in findings if blast.SEVERITY_ORDER[f.severity] <= limit]
