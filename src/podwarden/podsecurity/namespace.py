"""Namespace policy from `pod-security.kubernetes.io/*` labels, exemptions, and the
enforce/audit/warn decision — PSA's rules, so a namespace means the same here.

Label rules (PSA's PolicyToEvaluate): a missing label keeps the default; an
unparseable enforce level means `restricted` (fail closed); an unparseable audit or
warn level means `privileged` (fail open, they never block); an unparseable version
means `latest`. When the enforce level is set (validly) and warn is not, warn
follows enforce if enforce is stricter — with enforce's version unless
warn-version is set.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from podwarden.podsecurity import evaluate
from podwarden.podsecurity.levels import (
    LATEST,
    Level,
    LevelVersion,
    PolicyValueError,
    parse_level,
    parse_version,
)

PREFIX = "pod-security.kubernetes.io/"
MODES = ("enforce", "audit", "warn")
ENFORCED_POLICY_ANNOTATION = PREFIX + "enforce-policy"
AUDIT_VIOLATIONS_ANNOTATION = PREFIX + "audit-violations"
EXEMPT_ANNOTATION = PREFIX + "exempt"

_PRIVILEGED = LevelVersion(Level.PRIVILEGED, LATEST)


@dataclass(frozen=True)
class NamespacePolicy:
    """What a namespace enforces, audits and warns on; `errors` lists bad labels."""

    enforce: LevelVersion = _PRIVILEGED
    audit: LevelVersion = _PRIVILEGED
    warn: LevelVersion = _PRIVILEGED
    errors: tuple[str, ...] = ()

    def fully_privileged(self) -> bool:
        return all(lv.level is Level.PRIVILEGED for lv in (self.enforce, self.audit, self.warn))


DEFAULT_POLICY = NamespacePolicy()
"""PSA's built-in default: privileged:latest for all three modes."""


def policy_from_labels(
    labels: Mapping[str, str] | None, *, defaults: NamespacePolicy = DEFAULT_POLICY
) -> NamespacePolicy:
    """The namespace's policy from its labels, with PSA's fallbacks for bad values."""
    if not labels:
        return defaults
    found = {mode: (defaults_of(defaults, mode)) for mode in MODES}
    errors: list[str] = []
    valid_enforce_level = False
    for mode in MODES:
        level, version = found[mode].level, found[mode].version
        if (raw := labels.get(PREFIX + mode)) is not None:
            try:
                level = parse_level(raw)
                valid_enforce_level = valid_enforce_level or mode == "enforce"
            except PolicyValueError as exc:
                level = Level.RESTRICTED if mode == "enforce" else Level.PRIVILEGED
                errors.append(f"{PREFIX}{mode}: {exc}")
        if (raw := labels.get(PREFIX + mode + "-version")) is not None:
            try:
                version = parse_version(raw)
            except PolicyValueError as exc:
                version = LATEST
                errors.append(f"{PREFIX}{mode}-version: {exc}")
        found[mode] = LevelVersion(level, version)
    enforce, warn = found["enforce"], found["warn"]
    if (
        PREFIX + "warn" not in labels
        and valid_enforce_level
        and enforce.level.rank > warn.level.rank
    ):
        version = warn.version if PREFIX + "warn-version" in labels else enforce.version
        found["warn"] = LevelVersion(enforce.level, version)
    return NamespacePolicy(found["enforce"], found["audit"], found["warn"], tuple(errors))


def defaults_of(policy: NamespacePolicy, mode: str) -> LevelVersion:
    lv: LevelVersion = getattr(policy, mode)
    return lv


@dataclass(frozen=True)
class Exemptions:
    """PSA's static exemptions: requests by these users, in these namespaces, or
    for pods with these runtime classes are admitted without evaluation."""

    usernames: frozenset[str] = frozenset()
    namespaces: frozenset[str] = frozenset()
    runtime_classes: frozenset[str] = frozenset()

    @classmethod
    def of(
        cls,
        *,
        usernames: Iterable[str] = (),
        namespaces: Iterable[str] = (),
        runtime_classes: Iterable[str] = (),
    ) -> Exemptions:
        return cls(frozenset(usernames), frozenset(namespaces), frozenset(runtime_classes))

    def reason(
        self, *, username: str = "", namespace: str = "", runtime_class: str = ""
    ) -> str | None:
        """`namespace`, `user` or `runtimeClass` when exempt (PSA's order), else None."""
        if namespace and namespace in self.namespaces:
            return "namespace"
        if username and username in self.usernames:
            return "user"
        if runtime_class and runtime_class in self.runtime_classes:
            return "runtimeClass"
        return None


@dataclass
class Decision:
    """The admission answer for one pod: allowed, PSA's message, warnings, audit."""

    allowed: bool
    message: str = ""
    warnings: list[str] = field(default_factory=list)
    audit_annotations: dict[str, str] = field(default_factory=dict)
    enforce_result: evaluate.PssResult | None = None


def decide(
    pod: Mapping[str, Any],
    policy: NamespacePolicy,
    *,
    enforce: bool = True,
    exemptions: Exemptions | None = None,
    username: str = "",
    namespace: str = "",
) -> Decision:
    """Enforce (unless `enforce` is False, as for workloads), audit and warn, as PSA.

    Results for the same level and version are computed once; warnings are not
    added to a refusal (PSA's behaviour).
    """
    runtime_class_name = runtime_class(pod)
    if exemptions is not None and (
        why := exemptions.reason(
            username=username, namespace=namespace, runtime_class=runtime_class_name
        )
    ):
        return Decision(True, audit_annotations={EXEMPT_ANNOTATION: why})
    cache: dict[LevelVersion, evaluate.PssResult] = {}

    def judge(lv: LevelVersion) -> evaluate.PssResult:
        if lv not in cache:
            cache[lv] = evaluate.evaluate(pod, lv)
        return cache[lv]

    decision = Decision(True)
    if enforce:
        decision.audit_annotations[ENFORCED_POLICY_ANNOTATION] = str(policy.enforce)
        result = judge(policy.enforce)
        decision.enforce_result = result
        if not result.allowed:
            decision.allowed = False
            decision.message = result.message()
    audit = judge(policy.audit)
    if not audit.allowed:
        decision.audit_annotations[AUDIT_VIOLATIONS_ANNOTATION] = audit.warning()
    if decision.allowed:
        warn = judge(policy.warn)
        if not warn.allowed:
            decision.warnings.append(warn.warning())
    return decision


def runtime_class(pod: Mapping[str, Any]) -> str:
    """spec.runtimeClassName, '' when unset or not a string (PSA's exemption key)."""
    spec = pod.get("spec")
    value = spec.get("runtimeClassName") if isinstance(spec, Mapping) else None
    return value if isinstance(value, str) else ""
