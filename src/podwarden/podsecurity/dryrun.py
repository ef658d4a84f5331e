"""What `kubectl label --dry-run=server ns X pod-security.kubernetes.io/enforce=LEVEL`
answers: PSA's warnings about the namespace's existing pods, computed offline.

Pod Security Admission, on a namespace UPDATE that changes the enforce label
(ValidateNamespace / EvaluatePodsInNamespace, pod-security-admission v1.25+):

- refuses the update (422 Invalid) when the new labels do not parse and the
  error is new;
- says nothing when the enforce level+version is unchanged, when it becomes
  `privileged`, when it is relaxed at the same version, or when the namespace
  is exempt;
- otherwise evaluates every pod of the namespace (pods whose runtime class is
  exempt are skipped) at the new enforce level, groups pods by PSA's
  ForbiddenReason (the failed checks' reasons, without details), names the
  lexically first pod of each group and how many others share it, sorts those
  lines, and puts `existing pods in namespace "X" violate the new PodSecurity
  enforce level "L:V"` before them.

One difference, on purpose: PSA stops after 3,000 pods or one second and says
`new PodSecurity enforce level only checked against the first N of M existing
pods`; an audit has the time to check them all, so `max_pods` defaults to
no limit (pass 3000 to reproduce the cap).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from podwarden.podsecurity import evaluate, namespace
from podwarden.podsecurity.levels import Level, LevelVersion


@dataclass(frozen=True)
class PodGroup:
    """Pods that fail with the same reasons: PSA's ForbiddenReason and the pod names."""

    reasons: str
    pods: tuple[str, ...]

    def warning(self) -> str:
        """PSA's decorated line: `first (and N other pods): reasons`."""
        first, others = self.pods[0], len(self.pods) - 1
        if others == 0:
            return f"{first}: {self.reasons}"
        noun = "pod" if others == 1 else "pods"
        return f"{first} (and {others} other {noun}): {self.reasons}"


@dataclass(frozen=True)
class DryRun:
    """The answer for one namespace and one new enforce level."""

    namespace: str
    enforce: LevelVersion
    evaluated: bool
    """False when PSA would not look at the pods (see `skipped`)."""
    skipped: str = ""
    invalid: str = ""
    """The 422 message when PSA would refuse the label change itself."""
    checked: int = 0
    total: int = 0
    groups: tuple[PodGroup, ...] = field(default_factory=tuple)

    @property
    def violating_pods(self) -> int:
        return sum(len(group.pods) for group in self.groups)

    def warnings(self) -> list[str]:
        """The `Warning:` lines kubectl prints, in PSA's order."""
        lines = []
        if self.checked < self.total:
            lines.append(
                f"new PodSecurity enforce level only checked against the first {self.checked} "
                f"of {self.total} existing pods"
            )
        if self.groups:
            lines.append(
                f'existing pods in namespace "{self.namespace}" violate the new PodSecurity '
                f'enforce level "{self.enforce}"'
            )
        lines.extend(sorted(group.warning() for group in self.groups))
        return lines


def _name(pod: Mapping[str, Any]) -> str:
    meta = pod.get("metadata")
    return str(meta.get("name") or "") if isinstance(meta, Mapping) else ""


def _skip_reason(old: namespace.NamespacePolicy, new: namespace.NamespacePolicy) -> str:
    if new.enforce == old.enforce:
        return f"the namespace already enforces {new.enforce}"
    if new.enforce.level is Level.PRIVILEGED:
        return "privileged enforces nothing"
    if (
        new.enforce.version == old.enforce.version
        and new.enforce.level.rank <= old.enforce.level.rank
    ):
        return f"{new.enforce} is not stricter than the enforced {old.enforce}"
    return ""


def enforce(
    namespace_name: str,
    labels: Mapping[str, str] | None,
    pods: Iterable[Mapping[str, Any]],
    level: Level,
    *,
    defaults: namespace.NamespacePolicy = namespace.DEFAULT_POLICY,
    exemptions: namespace.Exemptions | None = None,
    max_pods: int | None = None,
) -> DryRun:
    """PSA's answer to setting `pod-security.kubernetes.io/enforce=<level>` on the namespace
    with these `labels` (its other labels, enforce-version included, kept)."""
    old_labels = dict(labels or {})
    new_labels = {**old_labels, namespace.PREFIX + "enforce": str(level)}
    old = namespace.policy_from_labels(old_labels, defaults=defaults)
    new = namespace.policy_from_labels(new_labels, defaults=defaults)
    if new.errors and new.errors != old.errors:
        return DryRun(namespace_name, new.enforce, False, invalid="; ".join(new.errors))
    skipped = _skip_reason(old, new)
    if not skipped and exemptions is not None and exemptions.reason(namespace=namespace_name):
        skipped = "the namespace is exempt"
    if skipped:
        return DryRun(namespace_name, new.enforce, False, skipped=skipped)
    listed = list(pods)
    to_check = listed if max_pods is None else listed[:max_pods]
    grouped: dict[str, list[str]] = {}
    for pod in to_check:
        if exemptions is not None and exemptions.reason(runtime_class=namespace.runtime_class(pod)):
            continue
        result = evaluate.evaluate(pod, new.enforce)
        if result.allowed:
            continue
        reasons = ", ".join(v.reason for v in result.violations)
        grouped.setdefault(reasons, []).append(_name(pod))
    groups = tuple(PodGroup(reasons, tuple(sorted(names))) for reasons, names in grouped.items())
    return DryRun(
        namespace_name, new.enforce, True, checked=len(to_check), total=len(listed), groups=groups
    )
