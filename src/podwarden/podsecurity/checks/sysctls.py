"""sysctls (baseline): only namespaced, isolated ("safe") sysctls.

Restricted field: spec.securityContext.sysctls[*].name.
Allowed values: undefined/empty, or kernel.shm_rmid_forced,
net.ipv4.ip_local_port_range, net.ipv4.ip_unprivileged_port_start,
net.ipv4.tcp_syncookies, net.ipv4.ping_group_range; v1.27+ also
net.ipv4.ip_local_reserved_ports; v1.29+ also net.ipv4.tcp_keepalive_time,
net.ipv4.tcp_fin_timeout, net.ipv4.tcp_keepalive_intvl, net.ipv4.tcp_keepalive_probes;
v1.32+ also net.ipv4.tcp_rmem, net.ipv4.tcp_wmem; v1.37+ also
net.ipv4.tcp_slow_start_after_idle, net.ipv4.tcp_notsent_lowat.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from podwarden.podsecurity.checks.model import (
    ALLOWED,
    Check,
    CheckFn,
    CheckResult,
    VersionedCheck,
    items,
    mapping,
    sc_field,
    v,
)
from podwarden.podsecurity.levels import Level

SAFE_1_0 = frozenset(
    {
        "kernel.shm_rmid_forced",
        "net.ipv4.ip_local_port_range",
        "net.ipv4.ip_unprivileged_port_start",
        "net.ipv4.tcp_syncookies",
        "net.ipv4.ping_group_range",
    }
)
SAFE_1_27 = SAFE_1_0 | {"net.ipv4.ip_local_reserved_ports"}
SAFE_1_29 = SAFE_1_27 | {
    "net.ipv4.tcp_keepalive_time",
    "net.ipv4.tcp_fin_timeout",
    "net.ipv4.tcp_keepalive_intvl",
    "net.ipv4.tcp_keepalive_probes",
}
SAFE_1_32 = SAFE_1_29 | {"net.ipv4.tcp_rmem", "net.ipv4.tcp_wmem"}
SAFE_1_37 = SAFE_1_32 | {"net.ipv4.tcp_slow_start_after_idle", "net.ipv4.tcp_notsent_lowat"}


def _checker(safe: frozenset[str]) -> CheckFn:
    def check(meta: Mapping[str, Any], spec: Mapping[str, Any]) -> CheckResult:
        forbidden = set()
        for raw in items(sc_field(spec, "sysctls")):
            name = str((mapping(raw) or {}).get("name") or "")
            if name not in safe:
                forbidden.add(name)
        if not forbidden:
            return ALLOWED
        return CheckResult(False, "forbidden sysctls", ", ".join(sorted(forbidden)))

    return check


CHECK = Check(
    "sysctls",
    Level.BASELINE,
    (
        VersionedCheck(v(0), _checker(SAFE_1_0)),
        VersionedCheck(v(27), _checker(SAFE_1_27)),
        VersionedCheck(v(29), _checker(SAFE_1_29)),
        VersionedCheck(v(32), _checker(SAFE_1_32)),
        VersionedCheck(v(37), _checker(SAFE_1_37)),
    ),
)
