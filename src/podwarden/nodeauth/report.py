"""The blast-radius report: per-node reach and ranked findings, as a table or JSON.

`build` runs the analysis (blast.py, findings.py) once; the renderers only format it.
The table shows the findings, worst first, then the nodes that reach the most (all of
them with `--node`, which also lists what that node reaches by name). The HTML page is
html.py.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from podwarden import rbac as rbac_
from podwarden.nodeauth import blast, findings
from podwarden.nodeauth.populate import ClusterState

TABLE_NODES = 20


@dataclass
class Report:
    nodes: list[blast.NodeReach]
    findings: list[findings.Finding]
    total_nodes: int
    node_filter: str = ""

    def summary(self) -> dict[str, Any]:
        by_severity = {s: 0 for s in findings.SEVERITIES}
        for finding in self.findings:
            by_severity[finding.severity] += 1
        return {
            "nodes": self.total_nodes,
            "pods": sum(r.pods for r in self.nodes),
            "findings": by_severity,
        }

    def worst_nodes(self, limit: int | None = None) -> list[blast.NodeReach]:
        ordered = sorted(
            self.nodes, key=lambda r: (-len(r.secrets) - len(r.service_accounts), r.node)
        )
        return ordered if limit is None else ordered[:limit]


class UnknownNode(ValueError):
    """`--node` names a node no pod, attachment or slice is bound to."""


def build(state: ClusterState, rbac: rbac_.Authorizer, *, node: str = "") -> Report:
    """Analyse the whole cluster (the findings need it), keep `node` only if given."""
    all_nodes = state.graph.nodes()
    reaches = blast.all_reach(state.graph, all_nodes)
    found = findings.power_findings(reaches, rbac, len(all_nodes))
    found += findings.spread_findings(state.graph, len(all_nodes))
    ranked = findings.ranked(found)
    if node:
        if node not in all_nodes:
            known = ", ".join(all_nodes[:10]) + (" …" if len(all_nodes) > 10 else "")
            raise UnknownNode(f"node {node!r} has no pods in the input (nodes: {known or 'none'})")
        reaches = [r for r in reaches if r.node == node]
        ranked = [f for f in ranked if node in f.nodes]
    return Report(reaches, ranked, len(all_nodes), node)


def to_json(report: Report) -> str:
    nodes = []
    for reach in report.worst_nodes():
        entry: dict[str, Any] = {"node": reach.node, "pods": reach.pods, **reach.counts()}
        if report.node_filter:
            entry["reach"] = {
                "secrets": sorted(reach.secrets),
                "configmaps": sorted(reach.configmaps),
                "serviceAccounts": sorted(reach.service_accounts),
                "pvcs": sorted(reach.pvcs),
                "pvs": sorted(reach.pvs),
                "resourceClaims": sorted(reach.claims),
            }
        nodes.append(entry)
    body = {
        "summary": report.summary(),
        "findings": [f.to_json() for f in report.findings],
        "nodes": nodes,
    }
    return json.dumps(body, indent=2)


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def to_table(report: Report) -> str:
    lines = []
    summary = report.summary()
    counts = ", ".join(f"{n} {s}" for s, n in summary["findings"].items() if n)
    lines.append(
        f"{summary['nodes']:,} nodes, {summary['pods']:,} pods; findings: {counts or 'none'}"
    )
    if report.findings:
        lines += ["", f"{'SEVERITY':<9} {'NODES':>6}  FINDING"]
        for finding in report.findings:
            lines.append(f"{finding.severity:<9} {len(finding.nodes):>6,}  {finding.message}")
            lines.append(f"{'':<17}  {finding.detail}")
    shown = report.worst_nodes(None if report.node_filter else TABLE_NODES)
    header = ("NODE", "PODS", "SECRETS", "CONFIGMAPS", "TOKENS", "PVCS", "PVS", "CLAIMS")
    lines += ["", "  ".join(f"{h:>10}" if i else f"{h:<24}" for i, h in enumerate(header))]
    for reach in shown:
        c = reach.counts()
        values = (
            reach.pods, c["secrets"], c["configmaps"], c["serviceAccounts"], c["pvcs"], c["pvs"],
            c["resourceClaims"],
        )  # fmt: skip
        lines.append("  ".join([f"{_cut(reach.node, 24):<24}", *(f"{v:>10,}" for v in values)]))
    if len(report.nodes) > len(shown):
        lines.append(f"… {len(report.nodes) - len(shown):,} more nodes (--format json lists all)")
    if report.node_filter and shown:
        reach = shown[0]
        for title, names in (
            ("secrets", reach.secrets),
            ("service account tokens", reach.service_accounts),
            ("configmaps", reach.configmaps),
            ("persistent volumes", reach.pvs),
        ):
            if names:
                lines += ["", f"{reach.node} can read these {title}:"]
                lines += [f"  {name}" for name in sorted(names)]
    return "\n".join(lines)
