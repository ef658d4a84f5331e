"""What a cluster audit reports: findings with a severity, and the whole report's shape.

Severities are ordered so `--fail-on LEVEL` is one comparison: the audit exits 1
when any finding is at LEVEL or above. The scale, from the point of view of
"who can read credentials that are not theirs":

- critical: a node's or the cluster's credentials are readable now (a node
  without a running agent, a privileged pod, a host-network pod that can
  rewrite the node's rules);
- high: a pod can get past the metadata firewall or forge another pod's
  address (host network outside the agent's pod cgroup, NET_ADMIN / NET_RAW);
- medium: a misconfiguration the firewall still contains (an agent not ready,
  a role annotation its namespace does not permit, pods that already break
  their namespace's enforced level);
- low: hygiene (a namespace without Pod Security labels);
- info: planning facts (what `restricted` or `baseline` would refuse).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

from podwarden.podsecurity.dryrun import DryRun


class Severity(enum.IntEnum):
    INFO = 0
    LOW = 1
    MEDIUM = 2
    HIGH = 3
    CRITICAL = 4

    def __str__(self) -> str:
        return self.name.lower()


FAIL_ON_CHOICES = (*(str(s) for s in Severity), "never")


def fail_threshold(text: str) -> Severity | None:
    """The severity named by `--fail-on` (None for `never`)."""
    if text == "never":
        return None
    try:
        return Severity[text.upper()]
    except KeyError:
        raise ValueError(
            f"--fail-on: {text!r} is not one of {', '.join(FAIL_ON_CHOICES)}"
        ) from None


@dataclass(frozen=True)
class Finding:
    """One thing wrong: which check, how bad, about what, and why."""

    check: str
    severity: Severity
    subject: str
    message: str
    details: tuple[str, ...] = ()

    def as_json(self) -> dict[str, Any]:
        return {
            "check": self.check,
            "severity": str(self.severity),
            "subject": self.subject,
            "message": self.message,
            "details": list(self.details),
        }


@dataclass(frozen=True)
class NamespacePss:
    """A namespace's Pod Security labels and PSA's dry-run answer for each stricter level."""

    name: str
    labels: dict[str, str]
    pods: int
    dry_runs: tuple[DryRun, ...]


@dataclass
class Report:
    """Everything an audit found, in the order the renderers print it."""

    source: str
    generated_at: str
    counts: dict[str, int]
    findings: list[Finding] = field(default_factory=list)
    namespaces: list[NamespacePss] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def by_severity(self) -> dict[Severity, int]:
        found = {severity: 0 for severity in Severity}
        for finding in self.findings:
            found[finding.severity] += 1
        return found

    def fails(self, threshold: Severity | None) -> bool:
        return threshold is not None and any(f.severity >= threshold for f in self.findings)
