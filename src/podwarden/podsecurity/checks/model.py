"""The shape of a check, and the pod accessors every check uses.

A check is an id, a level and a list of versioned implementations (PSA's pattern):
a behaviour change is a new entry with a newer minimum version, never an edit of an
old one, so a namespace pinned to `v1.22` keeps exactly the rules it had.

Pods are plain mappings. Go's `nil` is a missing key or an explicit null here;
an empty mapping is *set* (PSA sees `seccompProfile: {}` as a profile with an
empty type), so accessors test `is None`, never truthiness.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from podwarden.api import pods
from podwarden.podsecurity.levels import Level, Version

Pod = Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class CheckResult:
    """One check's verdict: allowed, or a short reason plus an optional detail."""

    allowed: bool
    reason: str = ""
    detail: str = ""


ALLOWED = CheckResult(allowed=True)

CheckFn = Callable[[Mapping[str, Any], Mapping[str, Any]], CheckResult]
"""(pod metadata, pod spec) -> CheckResult, as PSA's CheckPodFn."""


@dataclass(frozen=True, slots=True)
class VersionedCheck:
    """The implementation that applies from `minimum` until the next entry."""

    minimum: Version
    check_pod: CheckFn
    overrides: tuple[str, ...] = ()
    """Baseline check ids this restricted check replaces at restricted level."""


@dataclass(frozen=True, slots=True)
class Check:
    """A Pod Security Standards check with its version history."""

    id: str
    level: Level
    versions: tuple[VersionedCheck, ...] = field(default_factory=tuple)


def v(minor: int) -> Version:
    """Shorthand for `v1.<minor>` in version lists."""
    return Version(minor=minor)


def mapping(value: Any) -> Mapping[str, Any] | None:
    """The value when it is a mapping, None when absent; anything else is malformed."""
    if value is None or type(value) is dict:  # fast path: parsed YAML/JSON is dict
        return value
    if isinstance(value, Mapping):
        return value
    raise TypeError(f"expected an object, got {type(value).__name__}")


def items(value: Any) -> list[Any]:
    """The value as a list (None is empty); anything else is malformed."""
    if value is None:
        return []
    if type(value) is list or isinstance(value, list):
        return value
    raise TypeError(f"expected a list, got {type(value).__name__}")


def containers(spec: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """Init containers, containers, then ephemeral containers (PSA's visit order)."""
    found: list[Mapping[str, Any]] = []
    for key in pods.CONTAINER_KEYS:
        value = spec.get(key)
        if value is None:
            continue
        for container in items(value):
            if type(container) is dict:
                found.append(container)
            elif (checked := mapping(container)) is not None:
                found.append(checked)
    return found


def name_of(container: Mapping[str, Any]) -> str:
    """A container's name as a string (missing names are empty, as in Go)."""
    name = container.get("name")
    return "" if name is None else str(name)


def security_context(obj: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """A pod spec's or container's securityContext, or None when unset."""
    return mapping(obj.get("securityContext"))


def sc_field(obj: Mapping[str, Any], key: str) -> Any:
    """securityContext.<key> of a pod spec or container, None when either is unset."""
    context = obj.get("securityContext")
    if context is None:
        return None
    if type(context) is dict:
        return context.get(key)
    checked = mapping(context)
    return None if checked is None else checked.get(key)


def is_windows(spec: Mapping[str, Any]) -> bool:
    """True when the pod declares `spec.os.name: windows` (exempts some checks)."""
    os_field = mapping(spec.get("os"))
    return os_field is not None and os_field.get("name") == "windows"


def user_namespaced(spec: Mapping[str, Any]) -> bool:
    """True when the pod runs in a user namespace (`hostUsers: false`)."""
    return spec.get("hostUsers") is False


def annotations_of(meta: Mapping[str, Any]) -> Mapping[str, Any]:
    """The pod's annotations (empty when unset)."""
    return mapping(meta.get("annotations")) or {}
