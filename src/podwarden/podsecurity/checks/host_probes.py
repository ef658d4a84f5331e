"""hostProbesAndHostLifecycle (baseline): probes and hooks must not aim at other hosts.

A probe or lifecycle hook with `host` set makes the kubelet connect to that
address from the node — a way to reach node-local services (such as a metadata
endpoint) that the pod itself cannot.
Restricted fields: spec.{containers,initContainers}[*].{liveness,readiness,startup}Probe
.{httpGet,tcpSocket}.host and .lifecycle.{postStart,preStop}.{httpGet,tcpSocket}.host.
Allowed values: undefined/"" only (even 127.0.0.1 and ::1 are refused).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from podwarden.podsecurity.checks.model import (
    ALLOWED,
    Check,
    CheckResult,
    VersionedCheck,
    containers,
    mapping,
    name_of,
    v,
)
from podwarden.podsecurity.levels import Level
from podwarden.podsecurity.messages import containers_phrase, join_quote, pluralize

ALLOWED_HOSTS = frozenset({""})


def _hosts(container: Mapping[str, Any]) -> Iterator[str]:
    handlers = [
        mapping(container.get(key)) for key in ("livenessProbe", "readinessProbe", "startupProbe")
    ]
    lifecycle = mapping(container.get("lifecycle"))
    if lifecycle is not None:
        handlers += [mapping(lifecycle.get(key)) for key in ("postStart", "preStop")]
    for handler in handlers:
        if handler is None:
            continue
        for action in ("httpGet", "tcpSocket"):
            target = mapping(handler.get(action))
            if target is not None:
                host = target.get("host")
                yield "" if host is None else str(host)


def host_probes_1_34(meta: Mapping[str, Any], spec: Mapping[str, Any]) -> CheckResult:
    bad: list[str] = []
    hosts: set[str] = set()
    for container in containers(spec):
        forbidden = {host for host in _hosts(container) if host not in ALLOWED_HOSTS}
        if forbidden:
            hosts |= forbidden
            bad.append(name_of(container))
    if not bad:
        return ALLOWED
    noun = pluralize("hostProbeOrHostLifecycle", "hostProbesOrHostLifecycles", len(hosts))
    detail = (
        f"{containers_phrase(bad)} {pluralize('uses', 'use', len(bad))} {noun} "
        f"{join_quote(sorted(hosts))}"
    )
    return CheckResult(False, "hostProbesOrHostLifecycle", detail)


CHECK = Check(
    "hostProbesAndHostLifecycle", Level.BASELINE, (VersionedCheck(v(34), host_probes_1_34),)
)
