"""Reading a pod's fields from its JSON shape, one way for every part.

The webhook, the PodSecurityPolicy engine, the Pod Security checks, node
authorization and the identity store all read the same few fields of pods
that may be malformed (an admission request is whatever a client sent). Each
used to carry its own accessor, and the copies drifted in small ways (which
container lists exist, the service account's default). These are the
tolerant readers: a field that is missing or of the wrong shape reads as
absent, never as an exception; a caller that must refuse malformed input
(the Pod Security checks) checks the shape itself.

Pure functions over mappings: the lowest layer, importable by the pure engines.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

CONTAINER_KEYS = ("initContainers", "containers", "ephemeralContainers")
"""Every list of containers in a pod spec, in the order Kubernetes visits them."""

DEFAULT_SERVICE_ACCOUNT = "default"


def field(obj: Any, *path: str) -> Any:
    """obj[path...] or None, whatever shape the (possibly malformed) object has."""
    for key in path:
        if not isinstance(obj, Mapping):
            return None
        obj = obj.get(key)
    return obj


def annotations_of(pod: Mapping[str, Any]) -> Mapping[str, Any]:
    """metadata.annotations, empty when unset or not a mapping."""
    found = field(pod, "metadata", "annotations")
    return found if isinstance(found, Mapping) else {}


def service_account(pod: Mapping[str, Any]) -> str:
    """spec.serviceAccountName (or the deprecated spec.serviceAccount), else `default`.

    The ServiceAccount admission plugin defaults an unset name before any
    webhook or PodSecurityPolicy sees the pod, so `default` is what runs.
    """
    name = field(pod, "spec", "serviceAccountName") or field(pod, "spec", "serviceAccount")
    return str(name) if name else DEFAULT_SERVICE_ACCOUNT


def runtime_class(pod: Mapping[str, Any]) -> str:
    """spec.runtimeClassName, empty when unset or not a string."""
    value = field(pod, "spec", "runtimeClassName")
    return value if isinstance(value, str) else ""


def container_list(pod: Mapping[str, Any], key: str) -> list[Any] | None:
    """spec.<key> (one of CONTAINER_KEYS): [] when unset, None when malformed."""
    spec = pod.get("spec")
    if not isinstance(spec, Mapping):
        return None
    value = spec.get(key)
    if value is None:
        return []
    return value if isinstance(value, list) else None
