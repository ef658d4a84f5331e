"""seccompProfile_baseline (baseline): seccomp must not be explicitly unconfined.

v1.0 restricted fields: annotations seccomp.security.alpha.kubernetes.io/pod and
container.seccomp.security.alpha.kubernetes.io/<container>; allowed values:
undefined, "runtime/default", "docker/default", "localhost/*".
v1.19+ restricted fields: spec.securityContext.seccompProfile.type and
spec.{containers,initContainers}[*].securityContext.seccompProfile.type;
allowed values: undefined/null, "RuntimeDefault", "Localhost".
At restricted level (v1.19+) seccompProfile_restricted replaces it.
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

ID = "seccompProfile_baseline"
POD_ANNOTATION = "seccomp.security.alpha.kubernetes.io/pod"
CONTAINER_ANNOTATION_PREFIX = "container.seccomp.security.alpha.kubernetes.io/"
VALID_TYPES = frozenset({"RuntimeDefault", "Localhost"})


def _valid_annotation(value: str) -> bool:
    return value in ("", "runtime/default", "docker/default") or value.startswith("localhost/")


def seccomp_baseline_1_0(meta: Mapping[str, Any], spec: Mapping[str, Any]) -> CheckResult:
    notes = annotations_of(meta)
    forbidden: set[str] = set()
    keys = [POD_ANNOTATION] + [CONTAINER_ANNOTATION_PREFIX + name_of(c) for c in containers(spec)]
    for key in keys:
        if key in notes:
            value = str(notes[key] if notes[key] is not None else "")
            if not _valid_annotation(value):
                forbidden.add(f"{key}={go_quote(value)}")
    if not forbidden:
        return ALLOWED
    detail = (
        f"forbidden {pluralize('annotation', 'annotations', len(forbidden))} "
        f"{', '.join(sorted(forbidden))}"
    )
    return CheckResult(False, "seccompProfile", detail)


def profile_type(obj: Mapping[str, Any]) -> str | None:
    """seccompProfile.type of a pod spec or container; None when no profile is set."""
    profile = mapping(sc_field(obj, "seccompProfile"))
    if profile is None:
        return None
    kind = profile.get("type")
    return "" if kind is None else str(kind)


def seccomp_baseline_1_19(meta: Mapping[str, Any], spec: Mapping[str, Any]) -> CheckResult:
    setters: list[str] = []
    values: set[str] = set()
    pod_type = profile_type(spec)
    if pod_type is not None and pod_type not in VALID_TYPES:
        setters.append("pod")
        values.add(pod_type)
    bad = []
    for container in containers(spec):
        kind = profile_type(container)
        if kind is not None and kind not in VALID_TYPES:
            bad.append(name_of(container))
            values.add(kind)
    if bad:
        setters.append(containers_phrase(bad))
    if not setters:
        return ALLOWED
    detail = (
        f"{' and '.join(setters)} must not set securityContext.seccompProfile.type "
        f"to {join_quote(sorted(values))}"
    )
    return CheckResult(False, "seccompProfile", detail)


CHECK = Check(
    ID,
    Level.BASELINE,
    (VersionedCheck(v(0), seccomp_baseline_1_0), VersionedCheck(v(19), seccomp_baseline_1_19)),
)
