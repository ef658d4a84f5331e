"""Render a cluster audit as a terminal table or JSON (the HTML page is `audithtml`)."""

from __future__ import annotations

import json

from podwarden.audit import scan
from podwarden.audit.findings import Report, Severity


def as_json(report: Report) -> str:
    return json.dumps(scan.as_mapping(report), indent=2)


def _table(rows: list[tuple[str, ...]]) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    return [
        (
            "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=False)) + "  " + row[-1]
        ).rstrip()
        for row in rows
    ]


def as_table(report: Report) -> str:
    counts = ", ".join(f"{n} {what}" for what, n in report.counts.items())
    lines = [f"podwarden audit of {report.source}: {counts}", ""]
    if report.findings:
        rows: list[tuple[str, ...]] = [("SEVERITY", "CHECK", "SUBJECT", "FINDING")]
        for f in report.findings:
            detail = f" [{'; '.join(f.details)}]" if f.details else ""
            rows.append((str(f.severity), f.check, f.subject, f.message + detail))
        lines += _table(rows)
    else:
        lines.append("no findings")
    lines += ["", "POD SECURITY DRY RUN (kubectl label --dry-run=server ns X …/enforce=LEVEL)"]
    rows = [("NAMESPACE", "LABELS", "PODS", "RESTRICTED", "BASELINE")]
    for ns in report.namespaces:
        labels = (
            ",".join(f"{k.rsplit('/', 1)[-1]}={v}" for k, v in sorted(ns.labels.items()))
            or "(none)"
        )
        cells = []
        for run in ns.dry_runs:
            if run.invalid:
                cells.append(f"invalid: {run.invalid}")
            elif not run.evaluated:
                cells.append(f"- ({run.skipped})")
            else:
                cells.append(f"{run.violating_pods} would fail" if run.groups else "ok")
        rows.append((ns.name, labels, str(ns.pods), *cells))
    lines += _table(rows)
    for ns in report.namespaces:
        for run in ns.dry_runs:
            if run.groups:
                lines.append(f"\n{ns.name} → enforce={run.enforce.level}:")
                lines += [f"  Warning: {w}" for w in run.warnings()]
    if report.notes:
        lines.append("")
        lines += [f"note: {n}" for n in report.notes]
    summary = report.by_severity()
    totals = ", ".join(f"{summary[s]} {s}" for s in sorted(Severity, reverse=True))
    lines.append(f"\n{len(report.findings)} findings: {totals} ({report.seconds:.2f} s)")
    return "\n".join(lines)
