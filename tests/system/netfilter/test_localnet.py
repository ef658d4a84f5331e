"""`--proxy 127.0.0.1:PORT`: route_localnet with its guard (CVE-2020-8558)."""

from __future__ import annotations

import pytest

from podwarden.api import metadata_addresses
from podwarden.lab import netns
from podwarden.netfilter import render
from podwarden.testing.netlab import NODE_POD_V4, Lab, rules_apply_args
from tests.system.netfilter.conftest import NFT_AND_LEGACY

pytestmark = pytest.mark.peers("nftables", "iptables")

PROXY_PORT = 18183
NODE_ONLY_PORT = 19999  # a node service bound to loopback that pods must never reach
IMDS = f"http://{metadata_addresses.IMDS_V4}/latest/meta-data/instance-id"
LOOPBACK_SERVICE = f"http://127.0.0.1:{NODE_ONLY_PORT}/secret"


def pod_routes_loopback_to_node(lab: Lab) -> None:
    """Make the pod send 127.0.0.1 to the node, as an attacker on the link can."""
    netns.ip("route", "del", "local", "127.0.0.0/8", "dev", "lo", "table", "local", netns=lab.pod)
    netns.ip(
        "route",
        "del",
        "local",
        "127.0.0.1",
        "dev",
        "lo",
        "table",
        "local",
        netns=lab.pod,
        check=False,
    )
    netns.ip("route", "add", "127.0.0.0/8", "via", NODE_POD_V4, netns=lab.pod)
    netns.sysctl("net.ipv4.conf.all.route_localnet", "1", netns=lab.pod)
    netns.sysctl(f"net.ipv4.conf.pe{lab.tag}.route_localnet", "1", netns=lab.pod)
    netns.sysctl(
        f"net.ipv4.conf.pe{lab.tag}.accept_local", "1", netns=lab.pod
    )  # replies from 127/8


def test_control_route_localnet_alone_exposes_loopback_services(lab: Lab):
    """Without the guard the hole is real in this lab (so the next test can fail)."""
    lab.spawn(lab.node, lab.helper("fakeproxy", f"127.0.0.1:{NODE_ONLY_PORT}"))
    pod_routes_loopback_to_node(lab)
    netns.sysctl("net.ipv4.conf.all.route_localnet", "1", netns=lab.node)
    result = lab.get(lab.pod, LOOPBACK_SERVICE, timeout=1)
    assert result["outcome"] == "ok", result


@pytest.mark.parametrize("backend", NFT_AND_LEGACY)
def test_loopback_proxy_works_and_nothing_else_on_loopback_is_reachable(lab: Lab, backend: str):
    lab.spawn(lab.node, lab.helper("fakeproxy", f"127.0.0.1:{PROXY_PORT}"))
    lab.spawn(lab.node, lab.helper("fakeproxy", f"127.0.0.1:{NODE_ONLY_PORT}"))
    lab.podwarden(*rules_apply_args(backend=backend, proxy=f"127.0.0.1:{PROXY_PORT}"))
    assert (
        lab.run_in(lab.node, ["sysctl", "-n", "net.ipv4.conf.all.route_localnet"]).stdout.strip()
        == "1"
    )
    result = lab.get(lab.pod, IMDS)
    assert result["outcome"] == "ok" and str(result["body"]).startswith("PROXY"), result
    # a reset sysctl is drift too: the check (the agent's reconcile) turns it back on
    checker = lab.installer(
        backend,  # type: ignore[arg-type]
        render.RuleSpec(
            provider="aws",
            pod_interfaces=("cali+",),
            proxy4=render.HostPort("127.0.0.1", PROXY_PORT),
        ),
    )
    assert checker.drift() is None
    netns.sysctl("net.ipv4.conf.all.route_localnet", "0", netns=lab.node)
    assert checker.drift() == "route_localnet was turned off"
    assert checker.reconcile_once() and checker.drift() is None
    pod_routes_loopback_to_node(lab)
    for url in (LOOPBACK_SERVICE, f"http://127.0.0.1:{PROXY_PORT}/direct"):
        assert lab.get(lab.pod, url, timeout=0.5)["outcome"] == "timeout", url
    lab.podwarden("rules", "remove")
    assert (
        lab.run_in(lab.node, ["sysctl", "-n", "net.ipv4.conf.all.route_localnet"]).stdout.strip()
        == "0"
    )
    assert lab.pod_leaks() == []
