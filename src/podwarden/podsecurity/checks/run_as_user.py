"""runAsUser (restricted): containers must not set runAsUser to 0 (root).

Restricted fields: spec.securityContext.runAsUser,
spec.{containers,initContainers}[*].securityContext.runAsUser.
Allowed values: non-zero values, undefined/null.
v1.35+: pods in a user namespace (`hostUsers: false`) are exempt.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from podwarden.podsecurity.checks.model import (
    ALLOWED,
    Check,
    CheckResult,
    VersionedCheck,
    containers,
    name_of,
    sc_field,
    user_namespaced,
    v,
)
from podwarden.podsecurity.levels import Level
from podwarden.podsecurity.messages import containers_phrase


def _is_root(value: Any) -> bool:
    return value is not None and not isinstance(value, bool) and value == 0


def run_as_user_1_23(meta: Mapping[str, Any], spec: Mapping[str, Any]) -> CheckResult:
    setters = ["pod"] if _is_root(sc_field(spec, "runAsUser")) else []
    bad = [name_of(c) for c in containers(spec) if _is_root(sc_field(c, "runAsUser"))]
    if bad:
        setters.append(containers_phrase(bad))
    if not setters:
        return ALLOWED
    return CheckResult(False, "runAsUser=0", f"{' and '.join(setters)} must not set runAsUser=0")


def run_as_user_1_35(meta: Mapping[str, Any], spec: Mapping[str, Any]) -> CheckResult:
    if user_namespaced(spec):
        return ALLOWED
    return run_as_user_1_23(meta, spec)


CHECK = Check(
    "runAsUser",
    Level.RESTRICTED,
    (VersionedCheck(v(23), run_as_user_1_23), VersionedCheck(v(35), run_as_user_1_35)),
)
