"""windowsHostProcess (baseline): Windows HostProcess containers are privileged.

Restricted fields: spec.securityContext.windowsOptions.hostProcess,
spec.{containers,initContainers}[*].securityContext.windowsOptions.hostProcess.
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
    mapping,
    name_of,
    sc_field,
    v,
)
from podwarden.podsecurity.levels import Level
from podwarden.podsecurity.messages import containers_phrase

_TAIL = "must not set securityContext.windowsOptions.hostProcess=true"


def _host_process(obj: Mapping[str, Any]) -> bool:
    options = mapping(sc_field(obj, "windowsOptions"))
    return options is not None and options.get("hostProcess") is True


def windows_host_process_1_0(meta: Mapping[str, Any], spec: Mapping[str, Any]) -> CheckResult:
    bad = [name_of(c) for c in containers(spec) if _host_process(c)]
    pod = _host_process(spec)
    if pod and bad:
        return CheckResult(False, "hostProcess", f"pod and {containers_phrase(bad)} {_TAIL}")
    if pod:
        return CheckResult(False, "hostProcess", f"pod {_TAIL}")
    if bad:
        return CheckResult(False, "hostProcess", f"{containers_phrase(bad)} {_TAIL}")
    return ALLOWED


CHECK = Check(
    "windowsHostProcess", Level.BASELINE, (VersionedCheck(v(0), windows_host_process_1_0),)
)
