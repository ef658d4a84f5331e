"""Rendering a probe report as a table or JSON (findings hold no secret values)."""

from __future__ import annotations

import json

from podwarden.probe.run import Report

_COLUMNS = ("CHECK", "ENDPOINT", "REACHABLE", "EXPOSED", "SEVERITY", "RESULT")
_ENDPOINT_MAX = 56


def as_json(report: Report) -> str:
    """The whole report as one JSON document."""
    return json.dumps(
        {
            "exposed": report.exposed,
            "elapsed_ms": round(report.elapsed * 1000),
            "findings": [f.to_json() for f in report.findings],
        },
        indent=2,
    )


def as_table(report: Report) -> str:
    """A plain-text table, one finding per line, then the verdict."""
    rows = [_COLUMNS]
    for f in report.findings:
        endpoint = f.endpoint
        if len(endpoint) > _ENDPOINT_MAX:
            endpoint = endpoint[: _ENDPOINT_MAX - 1] + "…"
        rows.append(
            (
                f.check,
                endpoint,
                "yes" if f.reachable else "no",
                ", ".join(e.value for e in f.exposed) or "-",
                f.severity.value,
                f.detail,
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(_COLUMNS) - 1)]
    lines = [
        "  ".join(cell.ljust(w) for cell, w in zip(row[:-1], widths, strict=True)) + "  " + row[-1]
        for row in rows
    ]
    lines.append("")
    lines.append(verdict(report))
    return "\n".join(lines)


def verdict(report: Report) -> str:
    """One sentence: exposed or not, and how long the probe took."""
    took = f"({len(report.findings)} checks in {report.elapsed:.2f}s)"
    if report.exposed:
        worst = sorted({e.value for f in report.findings for e in f.exposed})
        return f"EXPOSED: this pod can read {', '.join(worst)} {took}"
    return f"OK: no credentials or secrets readable from this pod {took}"
