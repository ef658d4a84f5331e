"""seccompProfile_restricted (restricted): seccomp must be set, and not unconfined.

Restricted fields: spec.securityContext.seccompProfile.type,
spec.{containers,initContainers}[*].securityContext.seccompProfile.type.
Allowed values: "RuntimeDefault", "Localhost"; a container may leave it unset
when the pod sets an allowed value. v1.25+: Windows pods (spec.os.name=windows)
are exempt. Replaces seccompProfile_baseline at restricted level.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from podwarden.podsecurity.checks import seccomp_baseline
from podwarden.podsecurity.checks.model import (
    ALLOWED,
    Check,
    CheckResult,
    VersionedCheck,
    containers,
    is_windows,
    name_of,
    v,
)
from podwarden.podsecurity.levels import Level
from podwarden.podsecurity.messages import containers_phrase, join_quote

_VALID = seccomp_baseline.VALID_TYPES


def seccomp_restricted_1_19(meta: Mapping[str, Any], spec: Mapping[str, Any]) -> CheckResult:
    setters: list[str] = []
    values: set[str] = set()
    pod_type = seccomp_baseline.profile_type(spec)
    pod_set = False
    if pod_type is not None:
        if pod_type in _VALID:
            pod_set = True
        else:
            setters.append("pod")
            values.add(pod_type)
    explicit: list[str] = []
    implicit: list[str] = []
    for container in containers(spec):
        kind = seccomp_baseline.profile_type(container)
        if kind is not None:
            if kind not in _VALID:
                explicit.append(name_of(container))
                values.add(kind)
        elif not pod_set:
            implicit.append(name_of(container))
    if explicit:
        setters.append(containers_phrase(explicit))
    if setters:
        detail = (
            f"{' and '.join(setters)} must not set securityContext.seccompProfile.type "
            f"to {join_quote(sorted(values))}"
        )
        return CheckResult(False, "seccompProfile", detail)
    if implicit:
        detail = (
            f"pod or {containers_phrase(implicit)} must set securityContext.seccompProfile.type "
            'to "RuntimeDefault" or "Localhost"'
        )
        return CheckResult(False, "seccompProfile", detail)
    return ALLOWED


def seccomp_restricted_1_25(meta: Mapping[str, Any], spec: Mapping[str, Any]) -> CheckResult:
    if is_windows(spec):
        return ALLOWED
    return seccomp_restricted_1_19(meta, spec)


_OVERRIDES = (seccomp_baseline.ID,)
CHECK = Check(
    "seccompProfile_restricted",
    Level.RESTRICTED,
    (
        VersionedCheck(v(19), seccomp_restricted_1_19, overrides=_OVERRIDES),
        VersionedCheck(v(25), seccomp_restricted_1_25, overrides=_OVERRIDES),
    ),
)
