"""Sysctls: the kubelet's safe set, allowedUnsafeSysctls and forbiddenSysctls.

A sysctl is refused when forbidden (exact or `prefix*`), else admitted when it is
in the safe set or allowed as unsafe, else refused as unsafe — in that order, as
PSP's mustMatchPatterns strategy decided.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from podwarden.podsecurity.psp.fielderr import FieldError, forbidden, go_quote
from podwarden.podsecurity.psp.model import PodSecurityPolicySpec

SAFE_SYSCTLS = (
    "kernel.shm_rmid_forced",
    "net.ipv4.ip_local_port_range",
    "net.ipv4.tcp_syncookies",
    "net.ipv4.ping_group_range",
    "net.ipv4.ip_unprivileged_port_start",
)
"""The kubelet's safe sysctls as of Kubernetes 1.24, PSP's last release."""


def _matches(name: str, patterns: Sequence[str]) -> bool:
    for pattern in patterns:
        if pattern.endswith("*"):
            if name.startswith(pattern[:-1]):
                return True
        elif name == pattern:
            return True
    return False


def validate(spec: PodSecurityPolicySpec, pod_sc: Mapping[str, Any] | None) -> list[FieldError]:
    """Validate `spec.securityContext.sysctls` of a pod."""
    sysctls = pod_sc.get("sysctls") if pod_sc else None
    errors: list[FieldError] = []
    for index, sysctl in enumerate(sysctls or []):
        name = str(sysctl.get("name", "")) if isinstance(sysctl, Mapping) else ""
        path = f"pod.spec.securityContext.sysctls[{index}]"
        if _matches(name, spec.forbidden_sysctls):
            errors.append(forbidden(path, f"sysctl {go_quote(name)} is not allowed"))
        elif name in SAFE_SYSCTLS or _matches(name, spec.allowed_unsafe_sysctls):
            continue
        else:
            errors.append(forbidden(path, f"unsafe sysctl {go_quote(name)} is not allowed"))
    return errors
