"""allowPrivilegeEscalation (restricted): no gaining privileges through setuid binaries.

Restricted fields: spec.{containers,initContainers}[*].securityContext.allowPrivilegeEscalation.
Allowed values: false (it must be set: unset means true).
v1.25+: Windows pods (spec.os.name=windows) are exempt.
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
    is_windows,
    name_of,
    sc_field,
    v,
)
from podwarden.podsecurity.levels import Level
from podwarden.podsecurity.messages import containers_phrase


def allow_privilege_escalation_1_8(meta: Mapping[str, Any], spec: Mapping[str, Any]) -> CheckResult:
    bad = [
        name_of(c) for c in containers(spec) if sc_field(c, "allowPrivilegeEscalation") is not False
    ]
    if not bad:
        return ALLOWED
    return CheckResult(
        False,
        "allowPrivilegeEscalation != false",
        f"{containers_phrase(bad)} must set securityContext.allowPrivilegeEscalation=false",
    )


def allow_privilege_escalation_1_25(
    meta: Mapping[str, Any], spec: Mapping[str, Any]
) -> CheckResult:
    if is_windows(spec):
        return ALLOWED
    return allow_privilege_escalation_1_8(meta, spec)


CHECK = Check(
    "allowPrivilegeEscalation",
    Level.RESTRICTED,
    (
        VersionedCheck(v(8), allow_privilege_escalation_1_8),
        VersionedCheck(v(25), allow_privilege_escalation_1_25),
    ),
)
