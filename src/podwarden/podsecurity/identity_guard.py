"""Refuse a pod whose cloud-role annotation its namespace does not permit.

The metadata proxy would refuse such a pod its credentials anyway; refusing it at
admission says so at `kubectl apply` time instead of at the first failed SDK call,
and keeps a pod that was never meant to run from running. The rule itself is
`podwarden.api.rolepolicy.role_permitted`, shared with the proxy.

The proxy reads a running pod's role annotations live, so adding or changing one
on an existing pod (an UPDATE that touches nothing else) changes what the pod can
reach: `roles_changed` tells the webhook such an update must be judged even though
Pod Security Admission would call it insignificant.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from podwarden.api import keys, rolepolicy

ROLE_ANNOTATIONS: tuple[tuple[str, rolepolicy.Kind], ...] = (
    (keys.AWS_ROLE, "aws"),
    (keys.GCP_SERVICE_ACCOUNT, "gcp"),
    (keys.AZURE_CLIENT_ID, "azure"),
)


def check_pod(
    pod: Mapping[str, Any],
    namespace_annotations: Mapping[str, str] | None,
    *,
    base_role_arn: str | None = None,
) -> list[str]:
    """Reasons to refuse the pod; empty when every role annotation is permitted.

    `namespace_annotations=None` (namespace unknown) permits nothing.
    """
    meta = pod.get("metadata") or {}
    annotations = meta.get("annotations") if isinstance(meta, Mapping) else None
    if not isinstance(annotations, Mapping):
        return []
    reasons = []
    for key, kind in ROLE_ANNOTATIONS:
        if key not in annotations:
            continue
        role = annotations[key]
        if not isinstance(role, str):
            reasons.append(f"identity guard: annotation {key} must be a string")
            continue
        permitted, why = rolepolicy.role_permitted(
            kind, role, namespace_annotations or {}, base_role_arn=base_role_arn
        )
        if not permitted:
            reasons.append(f"identity guard: annotation {key}={role!r} refused: {why}")
    return reasons


def _role_values(pod: Mapping[str, Any] | None) -> tuple[Any, ...]:
    meta = pod.get("metadata") if isinstance(pod, Mapping) else None
    annotations = meta.get("annotations") if isinstance(meta, Mapping) else None
    if not isinstance(annotations, Mapping):
        annotations = {}
    return tuple(annotations.get(key) for key, _ in ROLE_ANNOTATIONS)


def roles_changed(new: Mapping[str, Any], old: Mapping[str, Any] | None) -> bool:
    """True when an update adds, changes or removes any role annotation (or `old` is
    unknown, so nothing proves the annotations are unchanged)."""
    if not isinstance(old, Mapping):
        return True
    return _role_values(new) != _role_values(old)
