"""The cluster view's IP index: who owns an address, and when nobody may."""

from __future__ import annotations

import asyncio

from podwarden.kube import store
from tests.support.pods import namespace, pod


async def test_a_live_pod_is_found_by_each_of_its_ips_v4_and_v6() -> None:
    view = store.ClusterView()
    await view.apply(pod("web", "10.0.0.7", "fd00::7"))
    for ip in ("10.0.0.7", "fd00::7", "fd00:0:0::7"):  # any spelling of the same address
        found = view.pod_by_ip(ip)
        assert found.kind == "one"
        assert found.pod is not None and found.pod.name == "web"
    assert view.pod_by_ip("10.0.0.8").kind == "none"


async def test_pods_that_do_not_own_their_ip_are_not_indexed() -> None:
    view = store.ClusterView()
    await view.apply(pod("hostnet", "10.0.0.1", host_network=True))
    await view.apply(pod("done", "10.0.0.2", phase="Succeeded"))
    await view.apply(pod("failed", "10.0.0.3", phase="Failed"))
    await view.apply(pod("leaving", "10.0.0.4", deleting=True))
    await view.apply(pod("pending"))  # no IP yet
    for ip in ("10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4"):
        assert view.pod_by_ip(ip).kind == "none", ip
    assert len(view.pods()) == 5
    assert {p.name for p in view.pods_on_node("node-a")} == {
        "hostnet",
        "done",
        "failed",
        "leaving",
        "pending",
    }


async def test_two_live_pods_with_one_ip_are_ambiguous_until_one_goes() -> None:
    view = store.ClusterView()
    old, new = pod("old", "10.0.0.9"), pod("new", "10.0.0.9")
    await view.apply(old)
    await view.apply(new)
    found = view.pod_by_ip("10.0.0.9")
    assert found.kind == "ambiguous" and found.pod is None
    assert {p.name for p in found.candidates} == {"old", "new"}
    await view.delete(old)
    found = view.pod_by_ip("10.0.0.9")
    assert found.kind == "one" and found.pod is not None and found.pod.name == "new"


async def test_ip_reuse_after_delete_maps_to_the_new_pod_only() -> None:
    view = store.ClusterView()
    old = pod("old", "10.0.0.5", annotations={"iam.amazonaws.com/role": "admin"})
    await view.apply(old)
    await view.delete(old)
    assert view.pod_by_ip("10.0.0.5").kind == "none"
    await view.apply(pod("new", "10.0.0.5"))
    found = view.pod_by_ip("10.0.0.5")
    assert found.pod is not None and found.pod.name == "new" and found.pod.annotations == {}


async def test_a_pod_turning_terminal_releases_its_ip() -> None:
    view = store.ClusterView()
    running = pod("job", "10.0.0.6", uid="u1")
    await view.apply(running)
    assert view.pod_by_ip("10.0.0.6").kind == "one"
    await view.apply(pod("job", "10.0.0.6", uid="u1", phase="Succeeded"))
    assert view.pod_by_ip("10.0.0.6").kind == "none"


async def test_a_late_delete_of_an_old_uid_keeps_a_new_pod_with_the_same_name() -> None:
    view = store.ClusterView()
    old = pod("web-0", "10.0.0.3", uid="old")
    await view.apply(old)
    await view.apply(pod("web-0", "10.0.0.4", uid="new"))
    await view.delete(old)
    assert [p.uid for p in view.pods()] == ["new"]
    assert view.pod_by_ip("10.0.0.4").kind == "one"
    assert view.pod_by_ip("10.0.0.3").kind == "none"


async def test_wait_for_ip_returns_when_the_pod_arrives_and_times_out_otherwise() -> None:
    view = store.ClusterView()
    waiting = asyncio.create_task(view.wait_for_ip("10.1.0.1", timeout=2.0))
    await asyncio.sleep(0.05)
    assert not waiting.done()
    await view.apply(pod("late", "10.1.0.1"))
    found = await asyncio.wait_for(waiting, 1.0)
    assert found.pod is not None and found.pod.name == "late"
    loop = asyncio.get_running_loop()
    started = loop.time()
    assert (await view.wait_for_ip("10.1.0.2", timeout=0.2)).kind == "none"
    assert 0.15 <= loop.time() - started < 1.0


async def test_namespaces_by_name_with_annotations() -> None:
    view = store.ClusterView()
    await view.apply(namespace("team-a", {"iam.amazonaws.com/permitted": ".*"}))
    found = view.namespace("team-a")
    assert found is not None and found.annotations == {"iam.amazonaws.com/permitted": ".*"}
    assert view.namespace("team-b") is None
    await view.delete(namespace("team-a"))
    assert view.namespace("team-a") is None


async def test_subscribers_see_changes_in_order_and_a_failing_one_does_not_stop_others() -> None:
    view = store.ClusterView()
    seen: list[tuple[str, str]] = []

    async def broken(change: store.Change) -> None:
        raise RuntimeError("subscriber bug")

    async def record(change: store.Change) -> None:
        seen.append((change.kind, change.obj.name))

    view.subscribe(broken)
    unsubscribe = view.subscribe(record)
    first = pod("a", "10.0.0.1", uid="a")
    await view.apply(first)
    await view.apply(pod("a", "10.0.0.1", uid="a", annotations={"x": "y"}))
    await view.delete(first)
    unsubscribe()
    await view.apply(pod("b", "10.0.0.2"))
    assert seen == [("added", "a"), ("updated", "a"), ("deleted", "a")]


async def test_replace_emits_the_difference_like_a_watch_would() -> None:
    view = store.ClusterView()
    await view.apply(pod("stays", "10.0.0.1", uid="s"))
    await view.apply(pod("goes", "10.0.0.2", uid="g"))
    changes: list[tuple[str, str]] = []

    async def record(change: store.Change) -> None:
        changes.append((change.kind, change.obj.name))

    view.subscribe(record)
    unchanged = pod("stays", "10.0.0.1", uid="s")
    unchanged["metadata"]["annotations"] = {}
    await view.replace(
        "Pod",
        [
            view.pods()[0].raw,  # identical: no event
            pod("comes", "10.0.0.3", uid="c"),
        ],
    )
    assert changes == [("deleted", "goes"), ("added", "comes")]
    assert view.pod_by_ip("10.0.0.2").kind == "none"
    assert view.pod_by_ip("10.0.0.3").kind == "one"


async def test_managed_fields_are_dropped_and_a_relist_of_the_same_pod_is_no_change():
    view = store.ClusterView()
    raw_pod = {
        "kind": "Pod",
        "metadata": {
            "name": "p",
            "namespace": "ns",
            "uid": "u1",
            "managedFields": [{"manager": "kubectl", "operation": "Apply"}],
        },
        "spec": {"nodeName": "n"},
        "status": {"phase": "Running", "podIP": "10.0.0.9", "podIPs": [{"ip": "10.0.0.9"}]},
    }
    changes = []

    async def record(change):
        changes.append(change.kind)

    view.subscribe(record)
    await view.apply(raw_pod)
    assert "managedFields" not in view.pod_by_ip("10.0.0.9").pod.raw["metadata"]
    await view.replace("Pod", [raw_pod])  # the same pod again, with its managedFields
    assert changes == ["added"]
