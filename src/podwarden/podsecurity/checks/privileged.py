"""privileged (baseline): privileged containers disable most isolation.

Restricted fields: spec.containers[*].securityContext.privileged,
spec.initContainers[*].securityContext.privileged (and ephemeral containers).
Allowed values: false, undefined/null.
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
    v,
)
from podwarden.podsecurity.levels import Level
from podwarden.podsecurity.messages import containers_phrase


def privileged_1_0(meta: Mapping[str, Any], spec: Mapping[str, Any]) -> CheckResult:
    bad = [name_of(c) for c in containers(spec) if sc_field(c, "privileged") is True]
    if not bad:
        return ALLOWED
    return CheckResult(
        False,
        "privileged",
        f"{containers_phrase(bad)} must not set securityContext.privileged=true",
    )


CHECK = Check("privileged", Level.BASELINE, (VersionedCheck(v(0), privileged_1_0),))
