"""appArmorProfile (baseline): AppArmor must not be turned off or overridden freely.

Restricted fields: spec.securityContext.appArmorProfile.type,
spec.{containers,initContainers}[*].securityContext.appArmorProfile.type,
metadata.annotations['container.apparmor.security.beta.kubernetes.io/*'].
Allowed values: fields undefined/null, "RuntimeDefault", "Localhost"; annotations
undefined, "", "runtime/default", "localhost/*".
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from podwarden.podsecurity.checks.model import (
    ALLOWED,
    Check,
    CheckResult,
    VersionedCheck,
    annotations_of,
    containers,
    mapping,
    name_of,
    sc_field,
    v,
)
from podwarden.podsecurity.levels import Level
from podwarden.podsecurity.messages import containers_phrase, go_quote, join_quote, pluralize

ANNOTATION_PREFIX = "container.apparmor.security.beta.kubernetes.io/"
ALLOWED_TYPES = frozenset({"RuntimeDefault", "Localhost"})


def _allowed_annotation(value: str) -> bool:
    return value in ("", "runtime/default") or value.startswith("localhost/")


def _bad_type(obj: Mapping[str, Any]) -> str | None:
    profile = mapping(sc_field(obj, "appArmorProfile"))
    if profile is None:
        return None
    kind = "" if profile.get("type") is None else str(profile.get("type"))
    return None if kind in ALLOWED_TYPES else kind


def apparmor_1_0(meta: Mapping[str, Any], spec: Mapping[str, Any]) -> CheckResult:
    setters: list[str] = []
    values: set[str] = set()
    pod_bad = _bad_type(spec)
    if pod_bad is not None:
        setters.append("pod")
        values.add(pod_bad)
    bad: list[str] = []
    for container in containers(spec):
        kind = _bad_type(container)
        if kind is not None:
            bad.append(name_of(container))
            values.add(kind)
    if bad:
        setters.append(containers_phrase(bad))
    forbidden = sorted(
        f"{key}={go_quote(str(value))}"
        for key, value in annotations_of(meta).items()
        if str(key).startswith(ANNOTATION_PREFIX)
        and not _allowed_annotation("" if value is None else str(value))
    )
    shown = sorted(values) + forbidden
    if forbidden:
        setters.append(pluralize("annotation", "annotations", len(forbidden)))
    if not setters:
        return ALLOWED
    return CheckResult(
        False,
        pluralize("forbidden AppArmor profile", "forbidden AppArmor profiles", len(shown)),
        f"{' and '.join(setters)} must not set AppArmor profile type to {join_quote(shown)}",
    )


CHECK = Check("appArmorProfile", Level.BASELINE, (VersionedCheck(v(0), apparmor_1_0),))
