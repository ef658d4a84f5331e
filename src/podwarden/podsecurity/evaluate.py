"""Judge a pod against a Pod Security Standards level and version, as PSA does.

`evaluate_pod` runs the registry's checks for the level and version and collects
the refusals in PSA's order; `PssResult.message` words them exactly as the API
server does (`violates PodSecurity "restricted:v1.30": reason (detail), ...`).

A pod the checks cannot read (a list where an object belongs, say) is refused with
the reason naming the malformed field: a decision that cannot be made is a deny.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from podwarden.podsecurity import checks
from podwarden.podsecurity.checks.model import CheckResult
from podwarden.podsecurity.levels import LevelVersion, level_version
from podwarden.podsecurity.messages import aggregate_detail
from podwarden.podsecurity.registry import Registry

UNKNOWN_REASON = "unknown forbidden reason"
MALFORMED_REASON = "malformed pod"


@dataclass(frozen=True, slots=True)
class Violation:
    """One failed check: its id, PSA's short reason and the optional detail."""

    check_id: str
    reason: str
    detail: str = ""

    def __str__(self) -> str:
        return f"{self.reason} ({self.detail})" if self.detail else self.reason


@dataclass(frozen=True, slots=True)
class PssResult:
    """The outcome of one evaluation; `allowed` is True exactly when no check failed."""

    level_version: LevelVersion
    violations: list[Violation] = field(default_factory=list)

    @property
    def allowed(self) -> bool:
        return not self.violations

    @property
    def check_ids(self) -> list[str]:
        return [v.check_id for v in self.violations]

    def detail(self) -> str:
        """PSA's ForbiddenDetail: `reason (detail), reason, ...`."""
        return aggregate_detail((v.reason, v.detail) for v in self.violations)

    def message(self, level: str | None = None, version: str | None = None) -> str:
        """The enforce denial as PSA words it; empty when allowed.

        level/version default to the ones evaluated; pass them to print a policy
        under another name (the webhook prints what the namespace label said).
        """
        if self.allowed:
            return ""
        lv = self.level_version
        if level is not None or version is not None:
            lv = level_version(level or str(lv.level), version or str(lv.version))
        return f'violates PodSecurity "{lv}": {self.detail()}'

    def warning(self) -> str:
        """The warn/audit wording: `would violate PodSecurity "...": ...`."""
        if self.allowed:
            return ""
        return f'would violate PodSecurity "{self.level_version}": {self.detail()}'


@lru_cache(maxsize=1)
def default_registry() -> Registry:
    """The registry of every default check, built (and validated) once."""
    return Registry(checks.ALL)


def evaluate_pod(pod: Mapping[str, Any], *, level: str, version: str = "latest") -> PssResult:
    """Evaluate a Pod (or any object with pod-shaped metadata and spec).

    Raises levels.PolicyValueError for an unknown level or malformed version.
    """
    return evaluate(pod, level_version(level, version))


def evaluate(pod: Mapping[str, Any], lv: LevelVersion) -> PssResult:
    """Evaluate with an already parsed level and version (the hot path)."""
    bound = default_registry().for_level(lv)
    if not bound:
        return PssResult(lv)
    meta, spec = _parts(pod)
    if meta is None or spec is None:
        return PssResult(
            lv, [Violation("pod", MALFORMED_REASON, "metadata and spec must be objects")]
        )
    violations = []
    for check in bound:
        try:
            result = check.check_pod(meta, spec)
        except (TypeError, ValueError, AttributeError) as exc:
            result = CheckResult(False, MALFORMED_REASON, f"{check.id}: {exc}")
        if not result.allowed:
            violations.append(Violation(check.id, result.reason or UNKNOWN_REASON, result.detail))
    return PssResult(lv, violations)


def _parts(pod: Mapping[str, Any]) -> tuple[Mapping[str, Any] | None, Mapping[str, Any] | None]:
    meta = pod.get("metadata")
    spec = pod.get("spec")
    meta = {} if meta is None else meta
    spec = {} if spec is None else spec
    ok_meta = meta if isinstance(meta, Mapping) else None
    ok_spec = spec if isinstance(spec, Mapping) else None
    return ok_meta, ok_spec
