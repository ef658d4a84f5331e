"""Render findings as a table, a JSON array, or SARIF 2.1.0.

SARIF carries one rule per check id (PSS) or `PodSecurityPolicy`, and one result
per refusal (level `error`) or warning (level `warning`), located at the file and
the line where the object's document starts.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from podwarden import __version__
from podwarden.audit.check import Finding

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
INFO_URI = "https://kubernetes.io/docs/concepts/security/pod-security-standards/"


def as_json(findings: Sequence[Finding]) -> str:
    return json.dumps([f.as_json() for f in findings], indent=2)


def as_table(findings: Sequence[Finding]) -> str:
    if not findings:
        return "no pods or workloads found"
    rows = [("RESULT", "KIND", "NAMESPACE/NAME", "WHERE", "POLICY", "WHY")]
    for f in findings:
        result = "refused" if not f.allowed else ("warning" if f.warnings else "allowed")
        why = ", ".join(f.reasons or f.warnings)
        rows.append(
            (result, f.kind, f"{f.namespace}/{f.name}", f"{f.file}:{f.line}", f.policy or "-", why)
        )
    widths = [max(len(row[i]) for row in rows) for i in range(5)]
    lines = [
        "  ".join(cell.ljust(w) for cell, w in zip(row[:5], widths, strict=True)) + "  " + row[5]
        for row in rows
    ]
    refused = sum(not f.allowed for f in findings)
    warned = sum(bool(f.allowed and f.warnings) for f in findings)
    lines.append(f"\n{len(findings)} checked, {refused} refused, {warned} with warnings")
    return "\n".join(line.rstrip() for line in lines)


def as_sarif(findings: Sequence[Finding]) -> str:
    rule_ids: list[str] = []
    results: list[dict[str, Any]] = []
    for f in findings:
        for issue in f.issues:
            if issue.rule not in rule_ids:
                rule_ids.append(issue.rule)
            results.append(
                {
                    "ruleId": issue.rule,
                    "level": issue.severity,
                    "message": {"text": f"{f.kind} {f.namespace}/{f.name}: {issue.text}"},
                    "locations": [
                        {
                            "physicalLocation": {
                                "artifactLocation": {"uri": f.file},
                                "region": {"startLine": max(f.line, 1)},
                            }
                        }
                    ],
                }
            )
    rules = [
        {
            "id": rule,
            "name": rule,
            "shortDescription": {"text": f"Pod security: {rule}"},
            "helpUri": INFO_URI,
        }
        for rule in rule_ids
    ]
    log = {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "podwarden",
                        "version": __version__,
                        "informationUri": INFO_URI,
                        "rules": rules,
                    }
                },
                "results": results,
            }
        ],
    }
    return json.dumps(log, indent=2)


RENDERERS = {"table": as_table, "json": as_json, "sarif": as_sarif}
