"""runAsNonRoot (restricted): containers must be required to run as non-root.

Restricted fields: spec.securityContext.runAsNonRoot,
spec.{containers,initContainers}[*].securityContext.runAsNonRoot.
Allowed values: true; a container may leave it unset when the pod sets true.
v1.35+: pods in a user namespace (`hostUsers: false`) are exempt, since root in
the pod is not root on the node.
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

_REASON = "runAsNonRoot != true"


def run_as_non_root_1_0(meta: Mapping[str, Any], spec: Mapping[str, Any]) -> CheckResult:
    setters: list[str] = []
    pod_value = sc_field(spec, "runAsNonRoot")
    pod_non_root = pod_value is True
    if pod_value is not None and pod_value is not True:
        setters.append("pod")
    explicit: list[str] = []
    implicit: list[str] = []
    for container in containers(spec):
        value = sc_field(container, "runAsNonRoot")
        if value is not None:
            if value is not True:
                explicit.append(name_of(container))
        elif not pod_non_root:
            implicit.append(name_of(container))
    if explicit:
        setters.append(containers_phrase(explicit))
    if setters:
        return CheckResult(
            False,
            _REASON,
            f"{' and '.join(setters)} must not set securityContext.runAsNonRoot=false",
        )
    if implicit:
        return CheckResult(
            False,
            _REASON,
            f"pod or {containers_phrase(implicit)} must set securityContext.runAsNonRoot=true",
        )
    return ALLOWED


def run_as_non_root_1_35(meta: Mapping[str, Any], spec: Mapping[str, Any]) -> CheckResult:
    if user_namespaced(spec):
        return ALLOWED
    return run_as_non_root_1_0(meta, spec)


CHECK = Check(
    "runAsNonRoot",
    Level.RESTRICTED,
    (VersionedCheck(v(0), run_as_non_root_1_0), VersionedCheck(v(35), run_as_non_root_1_35)),
)
