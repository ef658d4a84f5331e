"""The reflector against the lab API server: list+watch, node scoping, bookmarks,
410 -> relist, and reconnecting after an API server restart."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from prometheus_client import REGISTRY

from podwarden.kube import client, reflector, store
from podwarden.lab.apiserver.server import LabApiServer

from .conftest import Lab, eventually

FAST = reflector.Backoff(base=0.05, cap=0.2, floor=0.01)


def metric(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


@pytest.fixture
async def view_of_node_a(lab: Lab, api: client.Api) -> AsyncIterator[store.ClusterView]:
    view = store.ClusterView()
    task = reflector.run(view, api=api, node_name="node-a", backoff=FAST)
    try:
        await asyncio.wait_for(view.synced.wait(), 5)
        yield view
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_lists_then_follows_only_its_nodes_pods(lab: Lab, api: client.Api) -> None:
    lab.create_pod("mine", node="node-a", ip="10.0.0.1")
    lab.create_pod("theirs", node="node-b", ip="10.0.0.2")
    lab.create_namespace("team", {"iam.amazonaws.com/permitted": "reader"})
    view = store.ClusterView()
    task = reflector.run(view, api=api, node_name="node-a", backoff=FAST)
    try:
        await asyncio.wait_for(view.synced.wait(), 5)
        assert [p.name for p in view.pods()] == ["mine"]
        assert view.pod_by_ip("10.0.0.2").kind == "none"
        team = view.namespace("team")
        assert team is not None and team.annotations == {"iam.amazonaws.com/permitted": "reader"}

        lagged = metric("podwarden_kube_event_lag_seconds_count", resource="Pod")
        lab.create_pod("late", node="node-a", ip="10.0.0.3", namespace="team")
        found = await view.wait_for_ip("10.0.0.3", timeout=3)
        assert found.kind == "one" and found.pod is not None and found.pod.namespace == "team"
        assert metric("podwarden_kube_event_lag_seconds_count", resource="Pod") == lagged + 1
        lab.create_pod("elsewhere", node="node-b", ip="10.0.0.4")
        lab.delete_pod("mine")
        await eventually(lambda: view.pod_by_ip("10.0.0.1").kind == "none")
        assert sorted(p.name for p in view.pods()) == ["late"]
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_bookmarks_arrive_and_count_as_fresh(port: int, api: client.Api) -> None:
    server = LabApiServer(bookmark_interval=0.05)
    await server.start("127.0.0.1", port)
    view = store.ClusterView()
    before = metric("podwarden_kube_watch_events_total", resource="Pod", type="BOOKMARK")
    task = reflector.run(view, api=api, node_name="node-a", backoff=FAST)
    try:
        await asyncio.wait_for(view.synced.wait(), 5)
        await eventually(
            lambda: (
                metric("podwarden_kube_watch_events_total", resource="Pod", type="BOOKMARK")
                >= before + 2
            )
        )
        stamp = metric("podwarden_kube_last_event_timestamp_seconds", resource="Pod")
        assert stamp > 0
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await server.stop()


async def test_expired_version_relists_and_drops_what_vanished(
    lab: Lab, view_of_node_a: store.ClusterView
) -> None:
    lab.create_pod("a", node="node-a", ip="10.0.0.1")
    lab.create_pod("b", node="node-a", ip="10.0.0.2")
    await eventually(lambda: len(view_of_node_a.pods()) == 2)
    relists = metric("podwarden_kube_relists_total", resource="Pod")
    # The reflector misses a deletion (its watch is dropped first), then history is compacted:
    # its next watch asks for a version the server no longer has -> 410 -> relist.
    lab.storage.drop_watches()
    lab.delete_pod("a")
    lab.create_pod("c", node="node-a", ip="10.0.0.3")
    lab.storage.compact()
    await eventually(lambda: metric("podwarden_kube_relists_total", resource="Pod") > relists)
    await eventually(lambda: sorted(p.name for p in view_of_node_a.pods()) == ["b", "c"])
    assert view_of_node_a.pod_by_ip("10.0.0.1").kind == "none"
    assert view_of_node_a.pod_by_ip("10.0.0.3").kind == "one"


async def test_reconnects_after_an_api_server_restart(
    tmp_path: Path, port: int, api: client.Api
) -> None:
    state = tmp_path / "state.json"
    server = LabApiServer(state_file=state, bookmark_interval=60)
    await server.start("127.0.0.1", port)
    server.storage.create(
        server.storage_type("pods"),
        "default",
        {
            "metadata": {"name": "before"},
            "spec": {"nodeName": "node-a", "containers": [{"name": "c", "image": "x"}]},
            "status": {"phase": "Running", "podIP": "10.9.0.1"},
        },
    )
    view = store.ClusterView()
    reconnects = metric("podwarden_kube_reconnects_total", resource="Pod")
    task = reflector.run(view, api=api, node_name="node-a", backoff=FAST)
    try:
        await asyncio.wait_for(view.synced.wait(), 5)
        assert view.pod_by_ip("10.9.0.1").kind == "one"
        await server.stop()
        await eventually(
            lambda: metric("podwarden_kube_reconnects_total", resource="Pod") >= reconnects + 2
        )  # it keeps trying, with backoff, while the server is down
        assert view.pod_by_ip("10.9.0.1").kind == "one"  # the view survives the outage

        server = LabApiServer(state_file=state, bookmark_interval=60)
        server.storage.create(
            server.storage_type("pods"),
            "default",
            {
                "metadata": {"name": "after"},
                "spec": {"nodeName": "node-a", "containers": [{"name": "c", "image": "x"}]},
                "status": {"phase": "Running", "podIP": "10.9.0.2"},
            },
        )
        await server.start("127.0.0.1", port)
        found = await view.wait_for_ip("10.9.0.2", timeout=5)
        assert found.kind == "one"
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await server.stop()


async def test_late_watch_events_reach_the_view_late_and_in_order(
    lab: Lab, view_of_node_a: store.ClusterView
) -> None:
    """The lab's --watch-delay: a reused IP stays with the old pod until the delete arrives."""
    lab.create_pod("old", node="node-a", ip="10.5.0.1")
    await eventually(lambda: view_of_node_a.pod_by_ip("10.5.0.1").kind == "one")
    lab.storage.watch_delay = 0.3
    loop = asyncio.get_running_loop()
    started = loop.time()
    lab.delete_pod("old")
    lab.create_pod("new", node="node-a", ip="10.5.0.1")
    await asyncio.sleep(0.1)
    still = view_of_node_a.pod_by_ip("10.5.0.1")
    assert still.pod is not None and still.pod.name == "old"  # nothing arrived yet
    await eventually(lambda: (view_of_node_a.pod_by_ip("10.5.0.1").pod or still.pod).name == "new")
    assert loop.time() - started >= 0.3


async def test_a_terminating_pod_loses_its_ip_at_the_deletion_mark(
    lab: Lab, view_of_node_a: store.ClusterView
) -> None:
    lab.storage.pod_termination = 0.5
    lab.create_pod("leaving", node="node-a", ip="10.6.0.1")
    await eventually(lambda: view_of_node_a.pod_by_ip("10.6.0.1").kind == "one")
    marked = lab.storage.delete(lab.server.storage_type("pods"), "default", "leaving")
    assert marked["metadata"]["deletionTimestamp"]  # still there, Terminating
    await eventually(lambda: view_of_node_a.pod_by_ip("10.6.0.1").kind == "none", timeout=0.4)
    assert [p.name for p in view_of_node_a.pods()] == ["leaving"]
    await eventually(lambda: not view_of_node_a.pods())  # then the final DELETED
