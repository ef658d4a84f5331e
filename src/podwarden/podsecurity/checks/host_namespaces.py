"""hostNamespaces (baseline): sharing the host's network, PID or IPC namespace.

Restricted fields: spec.hostNetwork, spec.hostPID, spec.hostIPC.
Allowed values: false, undefined/null.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from podwarden.podsecurity.checks.model import ALLOWED, Check, CheckResult, VersionedCheck, v
from podwarden.podsecurity.levels import Level


def host_namespaces_1_0(meta: Mapping[str, Any], spec: Mapping[str, Any]) -> CheckResult:
    shared = sorted(f"{key}=true" for key in ("hostNetwork", "hostPID", "hostIPC") if spec.get(key))
    if not shared:
        return ALLOWED
    return CheckResult(False, "host namespaces", ", ".join(shared))


CHECK = Check("hostNamespaces", Level.BASELINE, (VersionedCheck(v(0), host_namespaces_1_0),))
