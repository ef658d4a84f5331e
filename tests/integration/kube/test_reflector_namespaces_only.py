"""The reflector's namespaces-only mode (the admission webhook's): namespaces are
listed and followed, pods are never listed nor watched."""

from __future__ import annotations

import asyncio

from prometheus_client import REGISTRY

from podwarden.kube import client, reflector, store

from .conftest import Lab, eventually

FAST = reflector.Backoff(base=0.05, cap=0.2, floor=0.01)


def relists(resource: str) -> float:
    return REGISTRY.get_sample_value("podwarden_kube_relists_total", {"resource": resource}) or 0.0


def test_the_default_still_watches_pods_and_namespaces() -> None:
    kinds = [r.kind for r in reflector.resources_for("node-a")]
    assert kinds == ["Pod", "Namespace"]
    assert [r.kind for r in reflector.resources_for(None, namespaces_only=True)] == ["Namespace"]


async def test_namespaces_only_follows_namespaces_and_never_lists_pods(
    lab: Lab, api: client.Api
) -> None:
    lab.create_pod("web", node="node-a", ip="10.0.0.1")
    lab.create_namespace("team", {"owner": "a"})
    pod_lists, namespace_lists = relists("Pod"), relists("Namespace")
    view = store.ClusterView()
    task = reflector.run(view, api=api, node_name=None, namespaces_only=True, backoff=FAST)
    try:
        await asyncio.wait_for(view.synced.wait(), 5)
        assert view.namespace("team") is not None
        assert view.pods() == []
        lab.create_namespace("late")
        lab.create_pod("later", node="node-a", ip="10.0.0.2", namespace="late")
        await eventually(lambda: view.namespace("late") is not None)
        await asyncio.sleep(0.1)
        assert view.pods() == []
        assert relists("Pod") == pod_lists
        assert relists("Namespace") == namespace_lists + 1
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
