"""Pod templates inside workload objects, found where PSA's PodSpecExtractor finds them.

A Deployment, ReplicaSet, StatefulSet, DaemonSet, Job, ReplicationController or
PodTemplate carries `spec.template` (PodTemplate: `template`), a CronJob
`spec.jobTemplate.spec.template`. The checks read a pod-shaped mapping
(`metadata`, `spec`), so a template is judged exactly like a pod.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

TEMPLATE_KINDS = frozenset(
    {"Deployment", "ReplicaSet", "StatefulSet", "DaemonSet", "Job", "ReplicationController"}
)
WORKLOAD_KINDS = TEMPLATE_KINDS | {"CronJob", "PodTemplate"}
POD_KINDS = WORKLOAD_KINDS | {"Pod"}


def is_workload(obj: Mapping[str, Any]) -> bool:
    """True for the controller kinds PSA judges by their template (not for Pod)."""
    return obj.get("kind") in WORKLOAD_KINDS


def pod_template(obj: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The pod-shaped mapping to judge: the Pod itself, or the workload's template.

    None when the object is not a pod or workload, or its template is missing or not
    an object (callers treat a workload without a readable template as malformed).
    """
    kind = obj.get("kind")
    if kind == "Pod":
        return obj
    if kind in TEMPLATE_KINDS:
        return _dig(obj, "spec", "template")
    if kind == "CronJob":
        return _dig(obj, "spec", "jobTemplate", "spec", "template")
    if kind == "PodTemplate":
        return _dig(obj, "template")
    return None


def _dig(obj: Mapping[str, Any], *keys: str) -> Mapping[str, Any] | None:
    current: Any = obj
    for key in keys:
        if not isinstance(current, Mapping):
            return None
        current = current.get(key)
    return current if isinstance(current, Mapping) else None
