"""A container's capability set, as a container runtime derives it from the pod spec.

containerd and Docker start from the same default set and apply the container's
`securityContext.capabilities` (drop, then add; `ALL` means every capability).
The walkthrough computes the set from the pod the admission patch produced and
starts a real process holding exactly that set (`setpriv_argv`), so what runs is
what the policy admitted. Written here because no library maps a pod spec to a
capability set.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

RUNTIME_DEFAULT = frozenset(
    {
        "CHOWN",
        "DAC_OVERRIDE",
        "FSETID",
        "FOWNER",
        "MKNOD",
        "NET_RAW",
        "SETGID",
        "SETUID",
        "SETFCAP",
        "SETPCAP",
        "NET_BIND_SERVICE",
        "SYS_CHROOT",
        "KILL",
        "AUDIT_WRITE",
    }
)
"""The default set of containerd and Docker (moby's `DefaultCapabilities`)."""


def _all_capabilities() -> frozenset[str]:
    """Every capability this kernel knows (names from capability.h, bounded by /proc)."""
    last = int(Path("/proc/sys/kernel/cap_last_cap").read_text())
    names = set(RUNTIME_DEFAULT)
    header = Path("/usr/include/linux/capability.h")
    if header.exists():
        for name, number in re.findall(r"#define CAP_(\w+)\s+(\d+)", header.read_text()):
            if int(number) <= last:
                names.add(name)
    return frozenset(names)


def _names(values: Any) -> set[str]:
    return {str(v).upper().removeprefix("CAP_") for v in values or []}


def container_capabilities(container: Mapping[str, Any]) -> frozenset[str]:
    """The capabilities the runtime would give this container."""
    caps = (container.get("securityContext") or {}).get("capabilities") or {}
    drop, add = _names(caps.get("drop")), _names(caps.get("add"))
    current = set() if "ALL" in drop else set(RUNTIME_DEFAULT - drop)
    current |= set(_all_capabilities()) if "ALL" in add else add
    return frozenset(current)


def setpriv_argv(capabilities: frozenset[str], argv: list[str]) -> list[str]:
    """Run `argv` as root holding exactly `capabilities` (bounding and inheritable sets).

    For uid 0 the kernel computes the new permitted set as inheritable | bounding,
    so limiting both limits the process, exactly as a container runtime does.
    """
    spec = ",".join(["-all", *(f"+{c.lower()}" for c in sorted(capabilities))])
    return ["setpriv", f"--bounding-set={spec}", f"--inh-caps={spec}", "--", *argv]
