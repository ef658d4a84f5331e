"""procMount (baseline): the default /proc masks reduce the attack surface.

Restricted fields: spec.containers[*].securityContext.procMount,
spec.initContainers[*].securityContext.procMount.
Allowed values: undefined/null, "Default". From v1.35 any value is allowed for a
pod in a user namespace (`hostUsers: false`); procMount_restricted keeps the
unconditional rule at restricted level.
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
from podwarden.podsecurity.messages import containers_phrase, join_quote

ID = "procMount"


def proc_mount_1_0(meta: Mapping[str, Any], spec: Mapping[str, Any]) -> CheckResult:
    """Unconditional: any procMount other than Default is forbidden."""
    bad: list[str] = []
    kinds: set[str] = set()
    for container in containers(spec):
        value = sc_field(container, "procMount")
        if value is not None and value != "Default":
            bad.append(name_of(container))
            kinds.add(str(value))
    if not bad:
        return ALLOWED
    kinds_text = join_quote(sorted(kinds))
    detail = f"{containers_phrase(bad)} must not set securityContext.procMount to {kinds_text}"
    return CheckResult(False, "procMount", detail)


def proc_mount_1_35(meta: Mapping[str, Any], spec: Mapping[str, Any]) -> CheckResult:
    """Relaxed for user-namespaced pods, whose /proc cannot expose the host."""
    if user_namespaced(spec):
        return ALLOWED
    return proc_mount_1_0(meta, spec)


CHECK = Check(
    ID,
    Level.BASELINE,
    (VersionedCheck(v(0), proc_mount_1_0), VersionedCheck(v(35), proc_mount_1_35)),
)
