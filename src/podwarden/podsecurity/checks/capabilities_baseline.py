"""capabilities_baseline (baseline): no capabilities beyond the default set.

Restricted fields: spec.containers[*].securityContext.capabilities.add,
spec.initContainers[*].securityContext.capabilities.add.
Allowed values: undefined/empty, or members of AUDIT_WRITE, CHOWN, DAC_OVERRIDE,
FOWNER, FSETID, KILL, MKNOD, NET_BIND_SERVICE, SETFCAP, SETGID, SETPCAP, SETUID,
SYS_CHROOT. At restricted level (v1.22+) capabilities_restricted replaces it.
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
    items,
    mapping,
    name_of,
    sc_field,
    v,
)
from podwarden.podsecurity.levels import Level
from podwarden.podsecurity.messages import containers_phrase, join_quote

ID = "capabilities_baseline"

ALLOWED_1_0 = frozenset(
    {
        "AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD",
        "NET_BIND_SERVICE", "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT",
    }
)  # fmt: skip


def capabilities_baseline_1_0(meta: Mapping[str, Any], spec: Mapping[str, Any]) -> CheckResult:
    bad: list[str] = []
    extra: set[str] = set()
    for container in containers(spec):
        caps = mapping(sc_field(container, "capabilities"))
        if caps is None:
            continue
        added = {str(c) for c in items(caps.get("add"))} - ALLOWED_1_0
        if added:
            extra |= added
            bad.append(name_of(container))
    if not bad:
        return ALLOWED
    detail = (
        f"{containers_phrase(bad)} must not include {join_quote(sorted(extra))} "
        "in securityContext.capabilities.add"
    )
    return CheckResult(False, "non-default capabilities", detail)


CHECK = Check(ID, Level.BASELINE, (VersionedCheck(v(0), capabilities_baseline_1_0),))
