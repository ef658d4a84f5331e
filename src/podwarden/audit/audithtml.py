"""The audit as one self-contained HTML page: inline CSS, no script, no external asset.

A person opens it from a CI artifact or an e-mail, often offline, so nothing
may be fetched: fonts are the system's, colours and layout are inline, and
every value from the cluster is escaped (a pod name or an annotation is
attacker-controlled text). Sections follow the report's order of urgency:
severity totals, findings grouped by check, then the Pod Security dry run
per namespace with PSA's own warning lines behind a disclosure.
"""

from __future__ import annotations

from html import escape

from podwarden.audit.findings import Finding, NamespacePss, Report, Severity
from podwarden.podsecurity.dryrun import DryRun

_COLOURS = {
    Severity.CRITICAL: "#b3261e",
    Severity.HIGH: "#d9480f",
    Severity.MEDIUM: "#b7791f",
    Severity.LOW: "#1d6fb8",
    Severity.INFO: "#5f6b7a",
}
_TITLES = {
    "agent-missing": "Nodes without the agent",
    "agent-not-ready": "Agents not ready",
    "firewall-bypass": "Pods that can bypass the metadata firewall",
    "role-not-permitted": "Role annotations their namespace does not permit",
    "pss-existing-violations": "Pods that break their namespace's enforced level",
    "pss-unlabelled": "Namespaces without Pod Security labels",
}
_CSS = """
*{box-sizing:border-box}
body{margin:0;font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;
 color:#1f2328;background:#f4f6f8}
header{background:#102a43;color:#fff;padding:22px 32px}
header h1{margin:0 0 4px;font-size:24px}
header p{margin:0;color:#bcccdc}
main{max-width:1180px;margin:0 auto;padding:20px 32px 40px}
.cards{display:flex;gap:12px;flex-wrap:wrap;margin:0 0 20px}
.card{flex:1 1 130px;background:#fff;border-radius:8px;padding:12px 16px;
 border-top:5px solid var(--c);box-shadow:0 1px 2px rgba(0,0,0,.08)}
.card b{display:block;font-size:28px;color:var(--c)}
.card span{text-transform:uppercase;font-size:12px;letter-spacing:.06em;color:#52606d}
section{background:#fff;border-radius:8px;padding:16px 20px;margin:0 0 18px;
 box-shadow:0 1px 2px rgba(0,0,0,.08)}
h2{font-size:18px;margin:0 0 10px}
h2 small{color:#52606d;font-weight:normal}
table{border-collapse:collapse;width:100%}
th,td{text-align:left;padding:7px 10px;border-bottom:1px solid #e4e7eb;vertical-align:top}
th{font-size:12px;text-transform:uppercase;letter-spacing:.05em;color:#52606d}
.sev{display:inline-block;min-width:70px;text-align:center;color:#fff;border-radius:4px;
 padding:1px 8px;font-size:12px;font-weight:600;text-transform:uppercase;background:var(--c)}
td.mono{white-space:nowrap}
code,.mono{font-family:ui-monospace,"DejaVu Sans Mono",Menlo,monospace;font-size:13px}
.ok{color:#1e7b34;font-weight:600}.bad{color:#b3261e;font-weight:600}.muted{color:#7b8794}
details summary{cursor:pointer;color:#1d6fb8}
ul.w{margin:6px 0 0;padding-left:18px}ul.w li{font-family:ui-monospace,monospace;font-size:12.5px}
.none{color:#1e7b34;font-weight:600}
footer{color:#7b8794;font-size:13px}
"""


def _badge(severity: Severity) -> str:
    return f'<span class="sev" style="--c:{_COLOURS[severity]}">{severity}</span>'


def _finding_rows(findings: list[Finding]) -> str:
    rows = []
    for f in findings:
        details = (
            "<ul class='w'>" + "".join(f"<li>{escape(d)}</li>" for d in f.details) + "</ul>"
            if f.details
            else ""
        )
        rows.append(
            f"<tr><td>{_badge(f.severity)}</td><td class='mono'>{escape(f.subject)}</td>"
            f"<td>{escape(f.message)}{details}</td></tr>"
        )
    return "".join(rows)


def _dry_run_cell(run: DryRun) -> str:
    if run.invalid:
        return f"<span class='bad'>label refused</span><br><small>{escape(run.invalid)}</small>"
    if not run.evaluated:
        return f"<span class='muted'>{escape(run.skipped)}</span>"
    if not run.groups:
        return f"<span class='ok'>all {run.checked} pods pass</span>"
    items = "".join(f"<li>{escape(w)}</li>" for w in run.warnings())
    return (
        f"<details><summary><span class='bad'>{run.violating_pods} of {run.checked} pods "
        f"would be refused</span></summary><ul class='w'>{items}</ul></details>"
    )


def _namespace_rows(namespaces: list[NamespacePss]) -> str:
    rows = []
    for ns in namespaces:
        labels = (
            "<br>".join(
                f"<code>{escape(k.rsplit('/', 1)[-1])}={escape(v)}</code>"
                for k, v in sorted(ns.labels.items())
            )
            or "<span class='bad'>none</span>"
        )
        cells = "".join(f"<td>{_dry_run_cell(run)}</td>" for run in ns.dry_runs)
        rows.append(
            f"<tr><td class='mono'>{escape(ns.name)}</td><td>{labels}</td>"
            f"<td>{ns.pods}</td>{cells}</tr>"
        )
    return "".join(rows)


def render(report: Report) -> str:
    summary = report.by_severity()
    cards = "".join(
        f'<div class="card" style="--c:{_COLOURS[s]}"><b>{summary[s]}</b><span>{s}</span></div>'
        for s in sorted(Severity, reverse=True)
    )
    counts = ", ".join(f"{n} {escape(what)}" for what, n in report.counts.items())
    sections = []
    checks = sorted(
        {f.check for f in report.findings},
        key=lambda c: list(_TITLES).index(c) if c in _TITLES else len(_TITLES),
    )
    for check in checks:
        found = [f for f in report.findings if f.check == check]
        title = _TITLES.get(check, check)
        sections.append(
            f"<section id='{escape(check)}'><h2>{escape(title)} <small>({len(found)})</small></h2>"
            "<table><thead><tr><th>Severity</th><th>Subject</th><th>Finding</th></tr></thead>"
            f"<tbody>{_finding_rows(found)}</tbody></table></section>"
        )
    if not report.findings:
        sections.append("<section><h2>Findings</h2><p class='none'>No findings.</p></section>")
    sections.append(
        "<section id='pod-security'><h2>Pod Security dry run <small>(what "
        "<code>kubectl label --dry-run=server ns X pod-security.kubernetes.io/enforce=LEVEL"
        "</code> answers)</small></h2><table><thead><tr><th>Namespace</th><th>Labels</th>"
        "<th>Pods</th><th>Enforce restricted</th><th>Enforce baseline</th></tr></thead>"
        f"<tbody>{_namespace_rows(report.namespaces)}</tbody></table></section>"
    )
    if report.notes:
        notes = "".join(f"<li>{escape(n)}</li>" for n in report.notes)
        sections.append(f"<section id='notes'><h2>Notes</h2><ul>{notes}</ul></section>")
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>podwarden audit — {escape(report.source)}</title><style>{_CSS}</style></head>"
        f"<body><header><h1>podwarden cluster audit</h1><p>{escape(report.source)} · "
        f"{counts} · {escape(report.generated_at)}</p></header><main>"
        f"<div class='cards'>{cards}</div>{''.join(sections)}"
        f"<footer>{len(report.findings)} findings · judged in {report.seconds:.2f} s by the "
        "engines podwarden's webhook and agent use.</footer></main></body></html>\n"
    )
