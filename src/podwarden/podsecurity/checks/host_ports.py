"""hostPorts (baseline): host ports bind the node's network.

Restricted fields: spec.containers[*].ports[*].hostPort,
spec.initContainers[*].ports[*].hostPort. Allowed values: undefined/0.
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
    v,
)
from podwarden.podsecurity.levels import Level
from podwarden.podsecurity.messages import containers_phrase, pluralize


def host_ports_1_0(meta: Mapping[str, Any], spec: Mapping[str, Any]) -> CheckResult:
    bad: list[str] = []
    ports: set[str] = set()
    for container in containers(spec):
        valid = True
        for raw in items(container.get("ports")):
            port = (mapping(raw) or {}).get("hostPort")
            if port not in (None, 0):
                valid = False
                ports.add(str(port))
        if not valid:
            bad.append(name_of(container))
    if not bad:
        return ALLOWED
    detail = (
        f"{containers_phrase(bad)} {pluralize('uses', 'use', len(bad))} "
        f"{pluralize('hostPort', 'hostPorts', len(ports))} {', '.join(sorted(ports))}"
    )
    return CheckResult(False, "hostPort", detail)


CHECK = Check("hostPorts", Level.BASELINE, (VersionedCheck(v(0), host_ports_1_0),))
