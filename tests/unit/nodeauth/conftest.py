from __future__ import annotations

from typing import Any

import pytest

from podwarden.api.authorization import Attributes, parse_field_selector
from podwarden.nodeauth.populate import ClusterState


def pod(name: str, node: str, *, ns: str = "ns", sa: str = "", secrets=(), configmaps=(), pvcs=(),
        owner: str = "", **spec: Any) -> dict[str, Any]:  # fmt: skip
    volumes = [{"name": f"s-{s}", "secret": {"secretName": s}} for s in secrets]
    volumes += [{"name": f"c-{c}", "configMap": {"name": c}} for c in configmaps]
    volumes += [{"name": f"p-{p}", "persistentVolumeClaim": {"claimName": p}} for p in pvcs]
    meta: dict[str, Any] = {"name": name, "namespace": ns, "uid": f"uid-{name}"}
    if owner:
        kind, _, owner_name = owner.partition("/")
        meta["ownerReferences"] = [{"kind": kind, "name": owner_name, "controller": True}]
    body: dict[str, Any] = {"nodeName": node, "volumes": volumes, **spec}
    if sa:
        body["serviceAccountName"] = sa
    return {"kind": "Pod", "metadata": meta, "spec": body}


def request(user: str, verb: str, resource: str, *, name: str = "", ns: str = "", sub: str = "",
            group: str = "", fields: str = "", groups=None, extra=()) -> Attributes:  # fmt: skip
    if groups is None:
        groups = ("system:nodes",) if user.startswith("system:node:") else ()
    return Attributes(
        user=user,
        groups=tuple(groups),
        extra=tuple(extra),
        verb=verb,
        api_group=group,
        resource=resource,
        subresource=sub,
        namespace=ns,
        name=name,
        field_selector=parse_field_selector(fields),
    )


@pytest.fixture
def two_nodes() -> ClusterState:
    """node-a runs pod-a (secret a-secret, configmap a-cm, pvc a-data, sa a-sa); node-b runs
    pod-b (secret b-secret); PV pv-a binds a-data and names secret pv-secret."""
    state = ClusterState()
    state.apply(pod("pod-a", "node-a", sa="a-sa", secrets=["a-secret"], configmaps=["a-cm"],
                    pvcs=["a-data"]))  # fmt: skip
    state.apply(pod("pod-b", "node-b", secrets=["b-secret"]))
    state.apply(
        {
            "kind": "PersistentVolume",
            "metadata": {"name": "pv-a"},
            "spec": {
                "claimRef": {"namespace": "ns", "name": "a-data"},
                "csi": {
                    "driver": "d",
                    "nodePublishSecretRef": {"namespace": "ns", "name": "pv-secret"},
                },
            },
        }
    )
    state.apply(
        {"kind": "VolumeAttachment", "metadata": {"name": "va-a"}, "spec": {"nodeName": "node-a"}}
    )
    state.apply(
        {"kind": "ResourceSlice", "metadata": {"name": "slice-a"}, "spec": {"nodeName": "node-a"}}
    )
    return state
