"""capabilities_restricted (restricted): drop ALL, add back at most NET_BIND_SERVICE.

Restricted fields: spec.{containers,initContainers}[*].securityContext.capabilities.drop
(must include "ALL") and ...capabilities.add (undefined/empty or "NET_BIND_SERVICE").
v1.25+: Windows pods (spec.os.name=windows) are exempt.
Replaces capabilities_baseline at restricted level.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from podwarden.podsecurity.checks import capabilities_baseline
from podwarden.podsecurity.checks.model import (
    ALLOWED,
    Check,
    CheckResult,
    VersionedCheck,
    containers,
    is_windows,
    items,
    mapping,
    name_of,
    sc_field,
    v,
)
from podwarden.podsecurity.levels import Level
from podwarden.podsecurity.messages import containers_phrase, join_quote


def capabilities_restricted_1_22(meta: Mapping[str, Any], spec: Mapping[str, Any]) -> CheckResult:
    missing_drop: list[str] = []
    adding: list[str] = []
    forbidden: set[str] = set()
    for container in containers(spec):
        caps = mapping(sc_field(container, "capabilities"))
        if caps is None:
            missing_drop.append(name_of(container))
            continue
        if "ALL" not in [str(c) for c in items(caps.get("drop"))]:
            missing_drop.append(name_of(container))
        added = {str(c) for c in items(caps.get("add"))} - {"NET_BIND_SERVICE"}
        if added:
            forbidden |= added
            adding.append(name_of(container))
    details = []
    if missing_drop:
        details.append(
            f'{containers_phrase(missing_drop)} must set securityContext.capabilities.drop=["ALL"]'
        )
    if adding:
        details.append(
            f"{containers_phrase(adding)} must not include {join_quote(sorted(forbidden))} "
            "in securityContext.capabilities.add"
        )
    if not details:
        return ALLOWED
    return CheckResult(False, "unrestricted capabilities", "; ".join(details))


def capabilities_restricted_1_25(meta: Mapping[str, Any], spec: Mapping[str, Any]) -> CheckResult:
    if is_windows(spec):
        return ALLOWED
    return capabilities_restricted_1_22(meta, spec)


_OVERRIDES = (capabilities_baseline.ID,)
CHECK = Check(
    "capabilities_restricted",
    Level.RESTRICTED,
    (
        VersionedCheck(v(22), capabilities_restricted_1_22, overrides=_OVERRIDES),
        VersionedCheck(v(25), capabilities_restricted_1_25, overrides=_OVERRIDES),
    ),
)
