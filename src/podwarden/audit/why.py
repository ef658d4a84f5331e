"""`kubectl podwarden why POD`: why this pod runs as it does, in one place.

For one pod, from a snapshot of the cluster:

- Pod Security: the namespace's labels as PSA reads them, whether the pod
  passes the enforced level, and where it stands at baseline and restricted;
- PodSecurityPolicy: the policy recorded at admission (`podwarden.io/psp`),
  and the policy the engine picks today with the cluster's policies (the CRD
  `policy.podwarden.io` first, then `policy/v1beta1`, as the webhook orders
  them) and RBAC (`use` as the pod's service account: the creator is not
  recorded on a pod), with the patch a creation of this spec would get;
- identity: each role annotation against its namespace's permissions;
- the metadata firewall: the audit's bypass findings for this pod.

Pure: reading the snapshot is the caller's (kube.snapshot).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from podwarden.api import keys
from podwarden.audit import agentconfig, podchecks
from podwarden.kube import snapshot
from podwarden.kube.objects import Namespace, Pod
from podwarden.podsecurity import evaluate, namespace
from podwarden.podsecurity.levels import Level, LevelVersion
from podwarden.podsecurity.psp import engine
from podwarden.podsecurity.psp.model import PODWARDEN_GROUP
from podwarden.rbac import RBAC_KINDS

PSP_COLLECTIONS = (
    snapshot.Collection(
        "PodSecurityPolicy", PODWARDEN_GROUP, "podsecuritypolicies", version=None, optional=True
    ),
    snapshot.Collection(
        "PodSecurityPolicy", "policy", "podsecuritypolicies", version="v1beta1", optional=True
    ),
)
"""Where the webhook reads cluster policies (webhooks.clusterpolicies), in its precedence."""


@dataclass
class Explanation:
    """The answer, section by section; `lines()` prints it, `as_json()` serialises it."""

    pod: str
    node: str
    service_account: str
    pss: dict[str, Any] = field(default_factory=dict)
    psp: dict[str, Any] = field(default_factory=dict)
    identity: list[dict[str, Any]] = field(default_factory=list)
    firewall: list[dict[str, Any]] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "pod": self.pod,
            "node": self.node,
            "serviceAccount": self.service_account,
            "podSecurityStandards": self.pss,
            "podSecurityPolicy": self.psp,
            "identity": self.identity,
            "metadataFirewall": self.firewall,
        }

    def lines(self) -> list[str]:
        out = [f"pod {self.pod} (node {self.node or '-'}, service account {self.service_account})"]
        out.append("")
        out.append(f"Pod Security Standards — namespace labels: {self.pss['labels'] or 'none'}")
        for entry in self.pss["levels"]:
            verdict = "passes" if entry["allowed"] else f"fails: {entry['detail']}"
            out.append(f"  {entry['role']:<10} {entry['policy']:<20} {verdict}")
        out.append("")
        out.append("PodSecurityPolicy")
        out.append(f"  recorded at admission: {self.psp['recorded'] or 'none'}")
        out.append(f"  {self.psp['verdict']}")
        if self.psp.get("patch"):
            for op in self.psp["patch"]:
                value = f" {op['value']!r}" if "value" in op else ""
                out.append(f"    {op['op']} {op['path']}{value}")
        for note in self.psp.get("notes", []):
            out.append(f"  note: {note}")
        out.append("")
        out.append("Identity")
        if not self.identity:
            out.append("  no role annotation: the pod gets no cloud credentials")
        for entry in self.identity:
            verdict = "permitted" if entry["permitted"] else "NOT permitted"
            out.append(f"  {entry['annotation']}={entry['role']}: {verdict} ({entry['why']})")
        out.append("")
        out.append("Metadata firewall")
        if not self.firewall:
            out.append("  no way around it found for this pod")
        for entry in self.firewall:
            out.append(f"  {entry['severity']}: {entry['message']}")
        return out


def _psp_policies(snap: snapshot.Snapshot) -> tuple[list[engine.Policy], list[str]]:
    """The cluster's policies in the webhook's precedence; notes for those skipped."""
    objects = sorted(
        snap.of("PodSecurityPolicy"),
        key=lambda o: 0 if str(o.get("apiVersion", "")).startswith(PODWARDEN_GROUP) else 1,
    )
    policies: dict[str, engine.Policy] = {}
    notes = []
    for obj in objects:
        body: dict[str, Any] = {
            k: obj[k] for k in ("apiVersion", "kind", "metadata", "spec") if k in obj
        }
        try:
            (policy,) = engine.load_policies([body])
        except engine.PolicyError as exc:
            notes.append(f"skipped, cannot be parsed: {exc}")
            continue
        if policy.name in policies:
            notes.append(f"skipped {obj.get('apiVersion')}/{policy.name}: duplicate name")
            continue
        policies[policy.name] = policy
    return [policies[n] for n in sorted(policies)], notes


def _psp(pod: Pod, snap: snapshot.Snapshot) -> dict[str, Any]:
    policies, notes = _psp_policies(snap)
    recorded = pod.annotations.get(keys.PSP_CHOSEN)
    rbac_missing = [k for k in snap.unreadable if k.split(" ", 1)[0] in RBAC_KINDS]
    psp_missing = [
        f"{k}: {v}" for k, v in snap.unreadable.items() if k.startswith("PodSecurityPolicy")
    ]
    if not policies:
        where = "; ".join(psp_missing) or "none exist"
        return {
            "recorded": recorded,
            "verdict": f"no PodSecurityPolicies in the cluster ({where})",
            "policy": None,
            "patch": None,
            "notes": notes,
        }
    if rbac_missing:
        notes.append(
            "RBAC objects not readable, so no policy counts as usable: " + ", ".join(rbac_missing)
        )
        rbac = engine.Rbac.from_objects([])
    else:
        rbac = engine.Rbac.from_objects([o for kind in RBAC_KINDS for o in snap.of(kind)])
    result = engine.admit(pod.raw, policies=policies, rbac=rbac, namespace=pod.namespace)
    who = f"system:serviceaccount:{pod.namespace}:{pod.service_account}"
    if result.allowed:
        verdict = f"today: admitted by {result.policy!r} (usable by {who})"
        patch = [
            op for op in result.patch or [] if keys.PSP_CHOSEN.replace("/", "~1") not in op["path"]
        ]
    else:
        verdict = f"today: refused for {who}: {result.message}"
        patch = None
    return {
        "recorded": recorded,
        "verdict": verdict,
        "policy": result.policy,
        "patch": patch,
        "notes": notes,
    }


def _pss(pod: Pod, ns: Namespace | None) -> dict[str, Any]:
    labels = ns.labels if ns is not None else {}
    policy = namespace.policy_from_labels(labels)
    shown = {k: v for k, v in labels.items() if k.startswith(keys.PSA_PREFIX)}
    levels = []
    rows: Sequence[tuple[str, LevelVersion]] = (
        ("enforce", policy.enforce),
        ("audit", policy.audit),
        ("warn", policy.warn),
        ("baseline", LevelVersion(Level.BASELINE)),
        ("restricted", LevelVersion(Level.RESTRICTED)),
    )
    for role, lv in rows:
        result = evaluate.evaluate(pod.raw, lv)
        levels.append(
            {"role": role, "policy": str(lv), "allowed": result.allowed, "detail": result.detail()}
        )
    return {
        "labels": ", ".join(f"{k}={v}" for k, v in sorted(shown.items())),
        "errors": list(policy.errors),
        "levels": levels,
    }


def explain(
    pod_raw: Mapping[str, Any],
    snap: snapshot.Snapshot,
    *,
    coverage: agentconfig.Coverage,
    base_role_arn: str | None = None,
) -> Explanation:
    """Everything `why` says about one pod."""
    pod = Pod(pod_raw)
    ns_raw = next(
        (o for o in snap.of("Namespace") if (o.get("metadata") or {}).get("name") == pod.namespace),
        None,
    )
    ns = Namespace(ns_raw) if ns_raw is not None else None
    found = Explanation(pod=pod.key, node=pod.node_name, service_account=pod.service_account)
    found.pss = _pss(pod, ns)
    found.psp = _psp(pod, snap)
    found.identity = [
        {"annotation": key, "role": role, "permitted": permitted, "why": why}
        for key, role, permitted, why in podchecks.role_verdicts(
            pod, ns, base_role_arn=base_role_arn
        )
    ]
    found.firewall = [
        {"severity": str(f.severity), "message": f.message, "details": list(f.details)}
        for f in podchecks.bypass(pod, coverage)
    ]
    return found
