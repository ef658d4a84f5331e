"""Pod builders for the Pod Security Standards tests: a restricted-clean pod to tweak."""

from __future__ import annotations

import copy
from typing import Any


def restricted_pod(*names: str) -> dict[str, Any]:
    """A pod that passes restricted:latest, with one container per name (default `c`)."""
    containers = [
        {
            "name": name,
            "image": "registry.k8s.io/pause",
            "securityContext": {
                "allowPrivilegeEscalation": False,
                "capabilities": {"drop": ["ALL"]},
            },
        }
        for name in (names or ("c",))
    ]
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p", "namespace": "ns"},
        "spec": {
            "containers": containers,
            "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
        },
    }


def with_container_sc(pod: dict[str, Any], index: int = 0, **fields: Any) -> dict[str, Any]:
    """A copy of pod with fields merged into containers[index].securityContext."""
    out = copy.deepcopy(pod)
    out["spec"]["containers"][index]["securityContext"].update(fields)
    return out


def with_spec(pod: dict[str, Any], **fields: Any) -> dict[str, Any]:
    """A copy of pod with fields set on its spec."""
    out = copy.deepcopy(pod)
    out["spec"].update(fields)
    return out
