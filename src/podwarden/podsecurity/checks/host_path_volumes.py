"""hostPathVolumes (baseline): hostPath volumes reach the node's file system.

Restricted field: spec.volumes[*].hostPath. Allowed values: undefined/null.
At restricted level restrictedVolumes replaces this check (it forbids more).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from podwarden.podsecurity.checks.model import (
    ALLOWED,
    Check,
    CheckResult,
    VersionedCheck,
    items,
    mapping,
    name_of,
    v,
)
from podwarden.podsecurity.levels import Level
from podwarden.podsecurity.messages import join_quote, pluralize

ID = "hostPathVolumes"


def host_path_volumes_1_0(meta: Mapping[str, Any], spec: Mapping[str, Any]) -> CheckResult:
    bad = []
    for raw in items(spec.get("volumes")):
        volume = mapping(raw) or {}
        if volume.get("hostPath") is not None:
            bad.append(name_of(volume))
    if not bad:
        return ALLOWED
    return CheckResult(
        False, "hostPath volumes", f"{pluralize('volume', 'volumes', len(bad))} {join_quote(bad)}"
    )


CHECK = Check(ID, Level.BASELINE, (VersionedCheck(v(0), host_path_volumes_1_0),))
