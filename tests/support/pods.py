"""Pod and Namespace JSON builders for the tests: one place, instead of a copy per test module.

A pod has what the identity store and the cluster sources read (uid,
annotations, node, phase, IPs); a test that needs more passes `spec` fields
or edits the returned dict.
"""

from __future__ import annotations

import uuid
from typing import Any


def pod(
    name: str,
    *ips: str,
    namespace: str = "default",
    node: str = "node-a",
    phase: str = "Running",
    host_network: bool = False,
    uid: str | None = None,
    annotations: dict[str, str] | None = None,
    labels: dict[str, str] | None = None,
    containers: list[dict[str, Any]] | None = None,
    deleting: bool = False,
    **spec: Any,
) -> dict[str, Any]:
    """A running pod with one container; `ips` are its podIPs (first one is podIP)."""
    metadata: dict[str, Any] = {
        "name": name,
        "namespace": namespace,
        "uid": uid or str(uuid.uuid4()),
        "annotations": annotations or {},
    }
    if labels is not None:
        metadata["labels"] = labels
    if deleting:
        metadata["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    status: dict[str, Any] = {"phase": phase}
    if ips:
        status["podIP"] = ips[0]
        status["podIPs"] = [{"ip": ip} for ip in ips]
    return {
        "kind": "Pod",
        "apiVersion": "v1",
        "metadata": metadata,
        "spec": {
            "nodeName": node,
            "hostNetwork": host_network,
            "containers": containers or [{"name": "c", "image": "busybox"}],
            **spec,
        },
        "status": status,
    }


def namespace(name: str, annotations: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "kind": "Namespace",
        "apiVersion": "v1",
        "metadata": {"name": name, "annotations": annotations or {}},
    }
