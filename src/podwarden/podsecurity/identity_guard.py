"""Refuse a pod whose cloud-role annotation its namespace does not permit.

The metadata proxy would refuse such a pod its credentials anyway; refusing it at
admission says so at `kubectl apply` time instead of at the first failed SDK call,
and keeps a pod that was never meant to run from running. The rule itself is
`podwarden.api.rolepolicy.role_permitted`, shared with the proxy.
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
