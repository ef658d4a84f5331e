"""The blast-radius report as one self-contained HTML page a person would rather read.

No scripts, no external fonts or styles: one file to attach to a ticket. The worst
findings come first, coloured by severity; then a bar per node showing what its
credentials reach (secrets, service-account tokens, configmaps, volumes), scaled to
the node that reaches the most, for the nodes that reach the most (all nodes of a
small cluster; the 200 worst of a large one, as the page says). Every text is
escaped.
"""

from __future__ import annotations

from html import escape

from podwarden.nodeauth.report import Report

MAX_NODE_BARS = 200
_COLOURS = {"critical": "#b3261e", "high": "#e8710a", "medium": "#b58900", "info": "#5f6368"}
_SEGMENTS = (
    ("secrets", "secrets", "#b3261e"),
    ("serviceAccounts", "tokens", "#e8710a"),
    ("configmaps", "configmaps", "#1a73e8"),
    ("pvs", "volumes", "#188038"),
)
_STYLE = """
body{font:15px/1.45 system-ui,-apple-system,'Segoe UI',sans-serif;margin:2rem auto;max-width:1100px;
color:#202124;padding:0 1rem}
h1{font-size:1.6rem;margin:0 0 .3rem}h2{font-size:1.2rem;margin:2rem 0 .6rem}
.sub{color:#5f6368;margin-bottom:1.2rem}
.cards{display:flex;gap:.8rem;flex-wrap:wrap}
.card{border-radius:8px;padding:.6rem 1rem;color:#fff;min-width:7rem}
.card b{display:block;font-size:1.6rem}
table{border-collapse:collapse;width:100%}td,th{text-align:left;padding:.45rem .5rem;
border-bottom:1px solid #e0e0e0;vertical-align:top}
.sev{color:#fff;border-radius:4px;padding:.1rem .45rem;font-size:.8rem;text-transform:uppercase}
.detail{color:#5f6368;font-size:.85rem}
.bar{display:flex;height:14px;background:#f1f3f4;border-radius:3px;overflow:hidden;min-width:2px}
.bar span{display:block;height:100%}
.legend span{display:inline-block;width:.8rem;height:.8rem;border-radius:2px;margin:0 .3rem 0 1rem;
vertical-align:middle}
.node{white-space:nowrap;font-family:ui-monospace,monospace;font-size:.85rem}
.none{color:#188038;font-weight:600}
"""


def render(report: Report) -> str:
    summary = report.summary()
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        "<title>podwarden: node blast radius</title>",
        f"<style>{_STYLE}</style></head><body>",
        "<h1>Node blast radius</h1>",
        f"<div class='sub'>What a holder of each node's kubelet credentials can read, and what "
        f"that gives: {summary['nodes']:,} nodes, {summary['pods']:,} pods"
        f"{escape(f' (node {report.node_filter})') if report.node_filter else ''}.</div>",
        "<div class='cards'>",
    ]
    for severity, count in summary["findings"].items():
        if severity == "info":
            continue
        parts.append(
            f"<div class='card' style='background:{_COLOURS[severity]}' id='count-{severity}'>"
            f"<b>{count}</b>{severity}</div>"
        )
    parts.append("</div><h2>Findings, worst first</h2>")
    if not report.findings:
        parts.append("<p class='none' id='no-findings'>No findings: no node reaches a powerful "
                     "service account or a widely shared secret.</p>")  # fmt: skip
    else:
        parts.append(
            "<table id='findings'><tr><th>Severity</th><th>Nodes</th><th>Finding</th></tr>"
        )
        for finding in report.findings:
            parts.append(
                f"<tr class='finding {finding.severity}'><td><span class='sev' "
                f"style='background:{_COLOURS[finding.severity]}'>{finding.severity}</span></td>"
                f"<td>{len(finding.nodes):,}</td><td>{escape(finding.message)}"
                f"<div class='detail'>{escape(finding.detail)}</div></td></tr>"
            )
        parts.append("</table>")
    parts.append(_bars(report))
    parts.append("</body></html>")
    return "\n".join(parts)


def _bars(report: Report) -> str:
    nodes = report.worst_nodes(MAX_NODE_BARS)
    if not nodes:
        return "<h2>Reach per node</h2><p>No node has pods.</p>"
    widest = max(sum(r.counts()[k] for k, _, _ in _SEGMENTS) for r in nodes) or 1
    legend = "".join(f"<span style='background:{c}'></span>{label}" for _, label, c in _SEGMENTS)
    rows = []
    for reach in nodes:
        counts = reach.counts()
        total = sum(counts[k] for k, _, _ in _SEGMENTS)
        segments = "".join(
            f"<span title='{counts[k]} {label}' style='width:{100 * counts[k] / widest:.2f}%;"
            f"background:{colour}'></span>"
            for k, label, colour in _SEGMENTS
            if counts[k]
        )
        rows.append(
            f"<tr class='node-row'><td class='node'>{escape(reach.node)}</td><td>{reach.pods}</td>"
            f"<td style='width:60%'><div class='bar'>{segments}</div></td>"
            f"<td>{total:,} objects ({counts['secrets']} secrets, "
            f"{counts['serviceAccounts']} tokens)</td></tr>"
        )
    note = ""
    if len(report.nodes) > len(nodes):
        note = (
            f"<p class='detail'>The {len(nodes)} nodes that reach the most of "
            f"{len(report.nodes):,}; the JSON report lists all.</p>"
        )
    return (
        f"<h2>Reach per node</h2><div class='legend'>{legend}</div>{note}"
        f"<table id='nodes'><tr><th>Node</th><th>Pods</th><th>Reach</th><th></th></tr>"
        + "".join(rows)
        + "</table>"
    )
