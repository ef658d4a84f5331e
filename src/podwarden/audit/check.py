"""Judge objects offline: each Pod and workload against a Pod Security Standards
level, or against PodSecurityPolicy objects with PSP's selection and mutation.

Pods are refused as the API server would refuse them. Workloads follow PSA: their
template's violations are warnings unless `refuse_workloads` is set. Objects of
other kinds are not judged (PSPs and RBAC objects among the inputs feed PSP mode).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from podwarden.audit.inputs import SourcedObject
from podwarden.podsecurity import evaluate, workloads
from podwarden.podsecurity.levels import LevelVersion

PSP_RULE = "PodSecurityPolicy"
MALFORMED_RULE = "malformed"

_TEMPLATE_PATHS = {
    "CronJob": "/spec/jobTemplate/spec/template",
    "PodTemplate": "/template",
    **{kind: "/spec/template" for kind in workloads.TEMPLATE_KINDS},
    "Pod": "",
}


@dataclass(frozen=True)
class Issue:
    """One failed check on one object: rule id, `error` or `warning`, and the text."""

    rule: str
    severity: str
    text: str


@dataclass
class Finding:
    """The verdict on one object, in the shape `--format json` prints."""

    file: str
    line: int
    kind: str
    namespace: str
    name: str
    allowed: bool
    reasons: list[str] = field(default_factory=list)
    policy: str | None = None
    patch: list[dict[str, Any]] | None = None
    warnings: list[str] = field(default_factory=list)
    issues: list[Issue] = field(default_factory=list)
    """One entry per failed check (SARIF results); not part of the JSON output."""

    def as_json(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "line": self.line,
            "kind": self.kind,
            "namespace": self.namespace,
            "name": self.name,
            "allowed": self.allowed,
            "reasons": self.reasons,
            "policy": self.policy,
            "patch": self.patch,
            "warnings": self.warnings,
        }


@dataclass(frozen=True)
class PssMode:
    """Judge against one Pod Security Standards level and version."""

    level_version: LevelVersion
    refuse_workloads: bool = False


@dataclass(frozen=True)
class PspMode:
    """Judge against PodSecurityPolicies; `rbac` decides which ones each pod may use."""

    policies: Sequence[Any]
    rbac: Any
    user: str = ""
    groups: tuple[str, ...] = ()
    refuse_workloads: bool = False


def judge_all(objects: Iterable[SourcedObject], *, mode: PssMode | PspMode) -> list[Finding]:
    """Findings for every Pod and workload among the objects, in input order."""
    return [
        judge(item, mode=mode) for item in objects if item.obj.get("kind") in workloads.POD_KINDS
    ]


def judge(item: SourcedObject, *, mode: PssMode | PspMode) -> Finding:
    obj = item.obj
    raw_meta = obj.get("metadata")
    meta: Mapping[str, Any] = raw_meta if isinstance(raw_meta, Mapping) else {}
    kind = str(obj.get("kind"))
    finding = Finding(
        file=item.file,
        line=item.line,
        kind=kind,
        namespace=str(meta.get("namespace") or "default"),
        name=str(meta.get("name") or meta.get("generateName") or ""),
        allowed=True,
    )
    pod = workloads.pod_template(obj)
    if pod is None:
        finding.allowed = False
        finding.reasons = [f"malformed {kind}: no pod template object where PSA expects one"]
        finding.issues = [Issue(MALFORMED_RULE, "error", finding.reasons[0])]
        return finding
    is_workload = workloads.is_workload(obj)
    refuse = not is_workload or mode.refuse_workloads
    if isinstance(mode, PssMode):
        _judge_pss(finding, pod, mode, refuse=refuse)
    else:
        _judge_psp(finding, pod, mode, refuse=refuse, prefix=_TEMPLATE_PATHS.get(kind, ""))
    return finding


def _judge_pss(finding: Finding, pod: Mapping[str, Any], mode: PssMode, *, refuse: bool) -> None:
    result = evaluate.evaluate(pod, mode.level_version)
    finding.policy = str(mode.level_version)
    if result.allowed:
        return
    severity = "error" if refuse else "warning"
    finding.issues = [Issue(v.check_id, severity, str(v)) for v in result.violations]
    if refuse:
        finding.allowed = False
        finding.reasons = [str(v) for v in result.violations]
    else:
        finding.warnings = [result.warning()]


def _judge_psp(
    finding: Finding, pod: Mapping[str, Any], mode: PspMode, *, refuse: bool, prefix: str
) -> None:
    from podwarden.podsecurity.psp import engine as psp_engine

    result = psp_engine.admit(
        pod,
        policies=mode.policies,
        rbac=mode.rbac,
        user=mode.user,
        groups=mode.groups,
        namespace=finding.namespace,
    )
    finding.policy = result.policy
    if result.allowed:
        finding.patch = _prefixed(result.patch, prefix) if result.patch else result.patch
        return
    severity = "error" if refuse else "warning"
    # No usable policy (RBAC grants none, or none exist) leaves `reasons` empty: the
    # refusal is then PSP's whole message, so JSON, the table and SARIF all say why.
    reasons = list(result.reasons) or [result.message]
    finding.issues = [Issue(PSP_RULE, severity, reason) for reason in reasons]
    if refuse:
        finding.allowed = False
        finding.reasons = reasons
    else:
        finding.warnings = [result.message]


def _prefixed(patch: list[dict[str, Any]], prefix: str) -> list[dict[str, Any]]:
    """Re-root a pod's JSON Patch at the template inside a workload."""
    if not prefix:
        return patch
    out = []
    for op in patch:
        moved = dict(op)
        for key in ("path", "from"):
            if key in moved:
                moved[key] = prefix + str(moved[key])
        out.append(moved)
    return out
