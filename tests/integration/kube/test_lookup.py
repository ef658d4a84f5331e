"""kube.lookup.pods_with_ip against the lab API server: a consistent read, not the watch."""

from __future__ import annotations

import pytest

from podwarden.kube import client, lookup

from .conftest import Lab


async def test_finds_the_pod_on_this_node_with_the_ip(lab: Lab, api: client.Api) -> None:
    lab.create_pod("mine", node="node-a", ip="10.7.0.1")
    lab.create_pod("neighbour", node="node-a", ip="10.7.0.2")
    lab.create_pod("elsewhere", node="node-b", ip="10.7.0.1")  # another node's range
    found = await lookup.pods_with_ip(api, "10.7.0.1", node="node-a")
    assert [p.name for p in found] == ["mine"]


async def test_sees_a_change_at_once_even_when_the_watch_lags(lab: Lab, api: client.Api) -> None:
    lab.storage.watch_delay = 5.0  # a watcher would not know for 5 s
    lab.create_pod("old", node="node-a", ip="10.7.1.1")
    lab.delete_pod("old")
    lab.create_pod("new", node="node-a", ip="10.7.1.1")
    found = await lookup.pods_with_ip(api, "10.7.1.1", node="node-a")
    assert [p.name for p in found] == ["new"]


async def test_returns_terminating_pods_for_the_caller_to_judge(lab: Lab, api: client.Api) -> None:
    lab.storage.pod_termination = 30.0
    lab.create_pod("leaving", node="node-a", ip="10.7.2.1")
    lab.delete_pod("leaving")  # marked Terminating, still listed
    (found,) = await lookup.pods_with_ip(api, "10.7.2.1", node="node-a")
    assert found.deletion_timestamp and not found.owns_its_ips


async def test_finds_a_secondary_ipv6_address_by_the_node_list(lab: Lab, api: client.Api) -> None:
    body = lab.create_pod("dual", node="node-a", ip="10.7.3.1")
    body["status"]["podIPs"] = [{"ip": "10.7.3.1"}, {"ip": "fd00:7::1"}]
    lab.storage.update(
        lab.server.storage_type("pods"), "default", "dual", body, subresource="status"
    )
    found = await lookup.pods_with_ip(api, "fd00:7:0::1", node="node-a")  # another text form
    assert [p.name for p in found] == ["dual"]


async def test_nobody_on_the_address_is_an_empty_list(lab: Lab, api: client.Api) -> None:
    assert await lookup.pods_with_ip(api, "10.7.9.9", node="node-a") == []


async def test_rejects_what_is_not_an_address_or_a_node(api: client.Api) -> None:
    with pytest.raises(ValueError, match="not an IP address"):
        await lookup.pods_with_ip(api, "10.7.0.1,spec.nodeName=x", node="node-a")
    with pytest.raises(ValueError, match="node must name"):
        await lookup.pods_with_ip(api, "10.7.0.1", node="")


async def test_an_unreachable_api_raises_unavailable() -> None:
    dead = client.from_url("http://127.0.0.1:9")
    try:
        with pytest.raises(client.ApiUnavailable):
            await lookup.pods_with_ip(dead, "10.7.0.1", node="node-a")
    finally:
        await dead.close()
