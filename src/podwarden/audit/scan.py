"""`podwarden audit`: judge a whole cluster at once from a snapshot of its objects.

Reading is `kube.snapshot`'s (an API or a file); judging is pure and uses the
same engines as admission and the proxy, so a report means what the webhook
and the agent will do:

- Pod Security: namespaces without `pod-security.kubernetes.io/*` labels, and
  per namespace what `kubectl label --dry-run=server ns X …/enforce=restricted`
  (and `=baseline`) would warn (`podsecurity.dryrun`); pods that already break
  the level their namespace enforces (created before the label);
- the metadata firewall: pods that can bypass it, nodes without an agent;
- pod identity: role annotations their namespace does not permit.

- node authorization: the node blast-radius findings of `podwarden nodeauth
  report` (`blastradius`).
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from podwarden.api import keys
from podwarden.audit import agentconfig, blastradius, podchecks
from podwarden.audit.findings import Finding, NamespacePss, Report, Severity
from podwarden.kube import selectors, snapshot
from podwarden.kube.objects import Namespace, Pod
from podwarden.podsecurity import dryrun, evaluate, namespace
from podwarden.podsecurity.levels import Level

PSS_UNLABELLED = "pss-unlabelled"
PSS_EXISTING = "pss-existing-violations"
DRY_RUN_LEVELS = (Level.RESTRICTED, Level.BASELINE)
AGENT_CONFIG_KIND = "ConfigMap"


@dataclass(frozen=True)
class Settings:
    """Where the agent is and how it is configured; what roles are relative to."""

    agent_namespace: str = "kube-system"
    agent_selector: str = "app.kubernetes.io/name=podwarden-agent"
    agent_configmap: str = "podwarden-agent"
    agent_config_key: str = "agent.yaml"
    base_role_arn: str | None = None
    only_namespace: str | None = None

    def selector(self) -> selectors.LabelSelector:
        try:
            return selectors.parse_labels(self.agent_selector)
        except selectors.SelectorError as exc:
            raise ValueError(f"--agent-selector: {exc}") from None

    def configmap_path(self) -> str:
        return f"/api/v1/namespaces/{self.agent_namespace}/configmaps/{self.agent_configmap}"


def collections() -> list[snapshot.Collection]:
    """What the audit lists through the API."""
    return [snapshot.NAMESPACES, snapshot.PODS, snapshot.NODES, *blastradius.COLLECTIONS]


def file_kinds() -> tuple[str, ...]:
    return ("Namespace", "Pod", "Node", AGENT_CONFIG_KIND, *blastradius.FILE_KINDS)


def _agent_configmap(snap: snapshot.Snapshot, settings: Settings) -> tuple[Any, str]:
    where = f"ConfigMap {settings.agent_namespace}/{settings.agent_configmap}"
    for obj in snap.of(AGENT_CONFIG_KIND):
        meta = obj.get("metadata") or {}
        if (
            meta.get("name") == settings.agent_configmap
            and (meta.get("namespace") or "default") == settings.agent_namespace
        ):
            return obj, where
    why = next((v for k, v in snap.unreadable.items() if k.startswith(AGENT_CONFIG_KIND)), "")
    return None, f"{where} not found{f' ({why})' if why else ''}"


def _pss(ns: Namespace, pods: Sequence[Pod]) -> tuple[NamespacePss, list[Finding]]:
    labels = {k: v for k, v in ns.labels.items() if k.startswith(keys.PSA_PREFIX)}
    raws = [p.raw for p in pods]
    runs = tuple(dryrun.enforce(ns.name, ns.labels, raws, level) for level in DRY_RUN_LEVELS)
    findings = []
    if not labels:
        would = "; ".join(
            f"{r.enforce.level} would refuse {r.violating_pods} of {len(pods)} pods" for r in runs
        )
        findings.append(
            Finding(
                PSS_UNLABELLED,
                Severity.LOW,
                f"namespace {ns.name}",
                f"no Pod Security labels (enforces privileged): {would}",
            )
        )
    policy = namespace.policy_from_labels(ns.labels)
    if policy.enforce.level is not Level.PRIVILEGED:
        broken = [p for p in pods if not evaluate.evaluate(p.raw, policy.enforce).allowed]
        if broken:
            findings.append(
                Finding(
                    PSS_EXISTING,
                    Severity.MEDIUM,
                    f"namespace {ns.name}",
                    f"{len(broken)} pod(s) break the enforced {policy.enforce} "
                    "(admitted before the label; recreated they would be refused)",
                    tuple(sorted(p.name for p in broken)),
                )
            )
    return NamespacePss(ns.name, labels, len(pods), runs), findings


def run(snap: snapshot.Snapshot, settings: Settings) -> Report:
    """The report for one snapshot (raises ValueError for a bad --agent-selector)."""
    started = time.perf_counter()
    selector = settings.selector()
    namespaces = {ns.name: ns for ns in (Namespace(o) for o in snap.of("Namespace"))}
    pods = [Pod(o) for o in snap.of("Pod")]
    nodes = snap.of("Node")
    agent_pods = [
        p for p in pods if p.namespace == settings.agent_namespace and selector.matches(p.labels)
    ]
    agent_keys = {p.key for p in agent_pods}
    raw_cm, where = _agent_configmap(snap, settings)
    coverage = agentconfig.from_configmap(raw_cm, key=settings.agent_config_key, where=where)
    wanted = settings.only_namespace
    by_ns: dict[str, list[Pod]] = {}
    for pod in pods:
        by_ns.setdefault(pod.namespace, []).append(pod)
    report = Report(
        source=snap.source,
        generated_at=datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC"),
        counts={
            "namespaces": len(namespaces),
            "pods": len(pods),
            "nodes": len(nodes),
            "agent pods": len(agent_pods),
        },
    )
    for name in sorted(namespaces):
        if wanted and name != wanted:
            continue
        live = [p for p in by_ns.get(name, []) if not p.is_terminal]
        entry, found = _pss(namespaces[name], live)
        report.namespaces.append(entry)
        report.findings.extend(found)
    for pod in sorted(pods, key=lambda p: p.key):
        if pod.is_terminal or (wanted and pod.namespace != wanted):
            continue
        if pod.key not in agent_keys:
            report.findings.extend(podchecks.bypass(pod, coverage))
        report.findings.extend(
            podchecks.roles(
                pod, namespaces.get(pod.namespace), base_role_arn=settings.base_role_arn
            )
        )
    if nodes:
        report.findings.extend(podchecks.agents(nodes, agent_pods))
    else:
        report.notes.append("agent coverage not checked: no Node objects were found")
    if not wanted:  # a node's reach spans namespaces: judged for the whole cluster only
        blast_findings, blast_notes = blastradius.judge(snap)
        report.findings.extend(blast_findings)
    else:
        blast_notes = ["node blast radius: not judged with -n (it spans namespaces)"]
    report.findings.sort(key=lambda f: (-f.severity, f.check, f.subject))
    report.notes.extend(_notes(snap, coverage))
    report.notes.extend(blast_notes)
    report.seconds = time.perf_counter() - started
    return report


def _notes(snap: snapshot.Snapshot, coverage: agentconfig.Coverage) -> list[str]:
    notes = []
    if coverage.problem:
        notes.append(f"agent configuration: {coverage.problem}")
    else:
        notes.append(
            f"agent configuration: pod_cgroup={coverage.pod_cgroup or '(none)'}, "
            f"exempt_cgroups={list(coverage.exempt)} ({coverage.source})"
        )
    for what, why in sorted(snap.unreadable.items()):
        if not what.startswith(AGENT_CONFIG_KIND):
            notes.append(f"not checked: {what}: {why}")
    for kind, count in sorted(snap.ignored_kinds.items()):
        notes.append(
            f"ignored: {count} {kind} object(s) (the audit reads {', '.join(file_kinds())})"
        )
    return notes


def as_mapping(report: Report) -> Mapping[str, Any]:
    """The JSON shape of `--format json`."""
    return {
        "source": report.source,
        "generatedAt": report.generated_at,
        "seconds": round(report.seconds, 3),
        "counts": report.counts,
        "summary": {str(s): n for s, n in report.by_severity().items()},
        "findings": [f.as_json() for f in report.findings],
        "namespaces": [
            {
                "name": ns.name,
                "labels": ns.labels,
                "pods": ns.pods,
                "dryRun": {
                    str(run.enforce.level): {
                        "enforce": str(run.enforce),
                        "evaluated": run.evaluated,
                        "skipped": run.skipped,
                        "invalid": run.invalid,
                        "violatingPods": run.violating_pods,
                        "warnings": run.warnings(),
                    }
                    for run in ns.dry_runs
                },
            }
            for ns in report.namespaces
        ],
        "notes": report.notes,
    }
