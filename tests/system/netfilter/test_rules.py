"""`podwarden rules` in a real node namespace: redirect, fail closed, DNS, IPv6, removal."""

from __future__ import annotations

import json
import re

import pytest

from podwarden.api import metadata_addresses
from podwarden.netfilter import render
from podwarden.testing.netlab import (
    NODE_POD_V4,
    NODE_POD_V6,
    POD_V4,
    Lab,
    iptables_tool,
    rules_apply_args,
    stop,
)
from tests.system.netfilter.conftest import BACKENDS, NFT_AND_LEGACY

pytestmark = pytest.mark.peers("nftables", "iptables", "conntrack")

PROXY_PORT = 18181
IMDS = f"http://{metadata_addresses.IMDS_V4}/latest/meta-data/instance-id"


def apply(lab: Lab, backend: str, *extra: str) -> None:
    lab.podwarden(*rules_apply_args(backend=backend, extra=extra))


def fake_proxy(lab: Lab, host: str) -> object:
    listen = f"[{host}]:{PROXY_PORT}" if ":" in host else f"{host}:{PROXY_PORT}"
    return lab.spawn(lab.node, lab.helper("fakeproxy", listen))


@pytest.mark.parametrize("backend", BACKENDS)
def test_pod_metadata_traffic_goes_to_the_proxy_and_never_upstream(lab: Lab, backend: str):
    fake_proxy(lab, NODE_POD_V4)
    apply(lab, backend, "--proxy", f"{NODE_POD_V4}:{PROXY_PORT}")
    for url in (
        IMDS,
        f"http://{metadata_addresses.ECS_V4}/v2/credentials",
        f"http://{metadata_addresses.EKS_POD_IDENTITY_V4}/v1/credentials",
    ):
        result = lab.get(lab.pod, url)
        assert result["outcome"] == "ok" and str(result["body"]).startswith("PROXY"), (url, result)
    # WireServer and Alibaba are not redirected for aws: refused at once.
    for url in (
        f"http://{metadata_addresses.WIRESERVER_V4}/",
        f"http://{metadata_addresses.WIRESERVER_V4}:32526/",
        f"http://{metadata_addresses.ALIBABA_V4}/",
        f"http://{metadata_addresses.IMDS_V4}:8080/",
    ):
        assert lab.get(lab.pod, url)["outcome"] == "refused", url
    # DNS on the metadata address (GKE serves it there) is untouched.
    assert lab.dns(lab.pod, metadata_addresses.IMDS_V4) == {
        "outcome": "ok",
        "id_matches": True,
        "qr": True,
    }
    assert lab.pod_leaks() == []
    # The node itself (kubelet, cloud agents) still reaches the real service.
    node = lab.get(lab.node, IMDS)
    assert node["outcome"] == "ok" and str(node["body"]).startswith("UPSTREAM")


@pytest.mark.parametrize("backend", BACKENDS)
def test_proxy_down_means_a_reset_within_100ms_never_upstream(lab: Lab, backend: str):
    proxy = fake_proxy(lab, NODE_POD_V4)
    apply(lab, backend, "--proxy", f"{NODE_POD_V4}:{PROXY_PORT}")
    assert lab.get(lab.pod, IMDS)["outcome"] == "ok"
    stop(proxy)  # type: ignore[arg-type]
    for _ in range(5):
        result = lab.get(lab.pod, IMDS, timeout=2.0)
        assert result["outcome"] == "refused", result
        assert float(result["ms"]) < 100, result  # type: ignore[arg-type]
    assert lab.pod_leaks() == []


@pytest.mark.parametrize("backend", NFT_AND_LEGACY)
def test_fail_closed_only_refuses_everything_metadata_but_dns(lab: Lab, backend: str):
    apply(lab, backend, "--fail-closed-only")
    for url in (
        IMDS,
        f"http://[{metadata_addresses.IMDS_V6}]/",
        f"http://{metadata_addresses.IMDS_V4}:8080/",
    ):
        result = lab.get(lab.pod, url)
        assert result["outcome"] == "refused" and float(result["ms"]) < 100, (url, result)  # type: ignore[arg-type]
    assert lab.dns(lab.pod, metadata_addresses.IMDS_V4) == {
        "outcome": "ok",
        "id_matches": True,
        "qr": True,
    }
    assert lab.pod_leaks() == []


@pytest.mark.parametrize("backend", NFT_AND_LEGACY)
def test_ipv6_pod_is_intercepted(lab: Lab, backend: str):
    fake_proxy(lab, NODE_POD_V4)
    fake_proxy6 = lab.spawn(lab.node, lab.helper("fakeproxy", f"[{NODE_POD_V6}]:{PROXY_PORT}"))
    apply(
        lab,
        backend,
        "--proxy",
        f"{NODE_POD_V4}:{PROXY_PORT}",
        "--proxy6",
        f"[{NODE_POD_V6}]:{PROXY_PORT}",
    )
    for url in (
        f"http://[{metadata_addresses.IMDS_V6}]/latest/meta-data/",
        f"http://[{metadata_addresses.EKS_POD_IDENTITY_V6}]/v1/credentials",
        f"http://[{metadata_addresses.IMDS_MAPPED}]/latest/meta-data/",
    ):
        result = lab.get(lab.pod, url)
        assert result["outcome"] == "ok" and str(result["body"]).startswith("PROXY"), (url, result)
    stop(fake_proxy6)  # type: ignore[arg-type]
    assert lab.get(lab.pod, f"http://[{metadata_addresses.IMDS_V6}]/")["outcome"] == "refused"
    assert lab.pod_leaks() == []


def test_ipv6_without_a_v6_proxy_is_refused(lab: Lab):
    fake_proxy(lab, NODE_POD_V4)
    apply(lab, "nft", "--proxy", f"{NODE_POD_V4}:{PROXY_PORT}")
    assert lab.get(lab.pod, f"http://[{metadata_addresses.IMDS_V6}]/")["outcome"] == "refused"
    assert lab.get(lab.pod, IMDS)["outcome"] == "ok"
    assert lab.pod_leaks() == []


COUNTERS = re.compile(r"\[\d+:\d+\]")


def _snapshot(lab: Lab) -> str:
    parts = [lab.run_in(lab.node, ["nft", "list", "ruleset"]).stdout]
    for tool in ("iptables-legacy-save", "ip6tables-legacy-save"):
        out = lab.run_in(lab.node, [tool], check=False).stdout
        # Chain counters (`:INPUT ACCEPT [3:200]`) count whatever the namespace sends
        # meanwhile (IPv6 neighbour discovery, say); the rules are what must not change.
        rules = (COUNTERS.sub("[-]", line) for line in out.splitlines() if not line.startswith("#"))
        parts.append("\n".join(rules))
    # the sysctls a node's networking depends on (route_localnet above all)
    sysctls = ["sysctl", "-a", "-r", r"^net\.(ipv4\.conf|ipv6\.conf|ipv4\.ip_forward)"]
    parts.append(lab.run_in(lab.node, sysctls).stdout)
    return "\n".join(parts)


@pytest.mark.parametrize("listen", ["node", "loopback"])
@pytest.mark.parametrize("backend", BACKENDS)
def test_remove_leaves_the_namespace_exactly_as_before(lab: Lab, backend: str, listen: str):
    # Someone else's rules (a kube-proxy-like user of both families) must survive untouched.
    # iptables tables, once instantiated, cannot be unloaded, so the node starts with
    # them in use, as every Kubernetes node does.
    lab.run_in(
        lab.node,
        [
            "sh",
            "-c",
            "printf 'table inet other {\\n chain c {\\n type filter hook forward priority 0;\\n"
            " ip daddr 192.0.2.9 counter drop\\n }\\n}\\n' | nft -f -",
        ],
    )
    if backend != "nft":
        suffix = "-legacy" if backend == "iptables-legacy" else "-nft"
        for tool, address in (
            (f"iptables{suffix}", "192.0.2.8"),
            (f"ip6tables{suffix}", "2001:db8::8"),
        ):
            lab.run_in(
                lab.node, [tool, "-t", "nat", "-A", "PREROUTING", "-d", address, "-j", "RETURN"]
            )
            lab.run_in(lab.node, [tool, "-t", "nat", "-A", "OUTPUT", "-d", address, "-j", "RETURN"])
            lab.run_in(lab.node, [tool, "-A", "FORWARD", "-d", address, "-j", "ACCEPT"])
            lab.run_in(lab.node, [tool, "-A", "INPUT", "-d", address, "-j", "ACCEPT"])
            lab.run_in(lab.node, [tool, "-A", "OUTPUT", "-d", address, "-j", "ACCEPT"])
    proxy = NODE_POD_V4
    if listen == "loopback":  # kube-proxy turns route_localnet on for localhost NodePorts
        proxy = "127.0.0.1"
        lab.run_in(lab.node, ["sysctl", "-q", "-w", "net.ipv4.conf.all.route_localnet=1"])
    before = _snapshot(lab)
    fake_proxy(lab, proxy)
    apply(lab, backend, "--proxy", f"{proxy}:{PROXY_PORT}")
    result = lab.get(lab.pod, IMDS)
    assert result["outcome"] == "ok" and str(result["body"]).startswith("PROXY"), result
    assert "podwarden" in lab.podwarden("rules", "show").stdout.lower()
    # a second apply (agent restart, repair) must not forget the value found first
    apply(lab, backend, "--proxy", f"{proxy}:{PROXY_PORT}")
    lab.podwarden("rules", "remove")
    assert _snapshot(lab) == before
    assert lab.podwarden("rules", "show").stdout == ""
    result = lab.get(lab.pod, IMDS)
    assert result["outcome"] == "ok" and str(result["body"]).startswith("UPSTREAM")


def test_connections_opened_before_the_rules_do_not_survive_them(lab: Lab):
    # conntrack only tracks once something asks for it: someone else's ct rule does
    lab.run_in(
        lab.node,
        [
            "sh",
            "-c",
            "printf 'table inet other {\\n chain c {\\n"
            " type filter hook forward priority 0;\\n ct state established counter\\n"
            " }\\n}\\n' | nft -f -",
        ],
    )
    holder = lab.spawn(lab.pod, lab.helper("client", "hold", IMDS, "1.5"))
    listed = lab.run_in(
        lab.node, ["conntrack", "-L", "-d", metadata_addresses.IMDS_V4], check=False
    )
    assert "dport=80" in listed.stdout, listed
    fake_proxy(lab, NODE_POD_V4)
    apply(lab, "nft", "--proxy", f"{NODE_POD_V4}:{PROXY_PORT}")
    listed = lab.run_in(
        lab.node, ["conntrack", "-L", "-d", metadata_addresses.IMDS_V4], check=False
    )
    assert "dport=80" not in listed.stdout, listed.stdout
    assert holder.stdout is not None
    late = json.loads(holder.stdout.readline())
    assert late["outcome"] == "refused", late
    assert lab.pod_leaks() == []


def test_gce_second_port_is_redirected_and_wireserver_refused_for_azure(lab: Lab):
    fake_proxy(lab, NODE_POD_V4)
    apply(lab, "nft", "--provider", "gce", "--proxy", f"{NODE_POD_V4}:{PROXY_PORT}")
    for url in (f"http://{metadata_addresses.IMDS_V4}:8080/computeMetadata/v1/", IMDS):
        result = lab.get(lab.pod, url)
        assert result["outcome"] == "ok" and str(result["body"]).startswith("PROXY"), (url, result)
    assert lab.get(lab.pod, f"http://{metadata_addresses.ECS_V4}/")["outcome"] == "refused"
    apply(lab, "nft", "--provider", "azure", "--proxy", f"{NODE_POD_V4}:{PROXY_PORT}")
    assert lab.get(lab.pod, f"http://{metadata_addresses.IMDS_V4}:8080/")["outcome"] == "refused"
    for port in (80, 32526):
        url = f"http://{metadata_addresses.WIRESERVER_V4}:{port}/machine?comp=goalstate"
        assert lab.get(lab.pod, url)["outcome"] == "refused", url
    assert lab.pod_leaks() == []


POD_SERVICE_PORT = 18190


@pytest.mark.parametrize("backend", NFT_AND_LEGACY)
def test_azure_probes_from_wireserver_get_answers_pods_still_cannot_reach_it(
    lab: Lab, backend: str
):
    """Azure's load-balancer health probes come FROM 168.63.129.16: the pod's replies pass,
    while every connection a pod opens to WireServer (:80, :32526) is still refused."""
    lab.spawn(lab.pod, lab.helper("fakeproxy", f"{POD_V4}:{POD_SERVICE_PORT}"))
    fake_proxy(lab, NODE_POD_V4)
    apply(lab, backend, "--provider", "azure", "--proxy", f"{NODE_POD_V4}:{PROXY_PORT}")
    probe = lab.get(
        lab.cloud,
        f"http://{POD_V4}:{POD_SERVICE_PORT}/healthz",
        source=metadata_addresses.WIRESERVER_V4,
    )
    assert probe["outcome"] == "ok" and probe["body"] == "PROXY /healthz", probe
    for port in (80, 32526):
        url = f"http://{metadata_addresses.WIRESERVER_V4}:{port}/machine?comp=goalstate"
        result = lab.get(lab.pod, url)
        assert result["outcome"] == "refused" and float(result["ms"]) < 100, (url, result)  # type: ignore[arg-type]
    assert lab.pod_leaks() == []


@pytest.mark.parametrize("backend", ["iptables-nft", "iptables-legacy"])
def test_a_rule_inserted_above_our_jumps_is_drift_and_gets_repaired(lab: Lab, backend: str):
    """`-I FORWARD 1 -j ACCEPT` (and the same in nat PREROUTING) would skip the refusal."""
    fake_proxy(lab, NODE_POD_V4)
    apply(lab, backend, "--proxy", f"{NODE_POD_V4}:{PROXY_PORT}")
    spec = render.RuleSpec(
        provider="aws",
        pod_interfaces=("cali+",),
        proxy4=render.HostPort(NODE_POD_V4, PROXY_PORT),
    )
    checker = lab.installer(backend, spec)  # type: ignore[arg-type]
    assert checker.drift() is None
    tool = iptables_tool(backend)
    lab.run_in(lab.node, [tool, "-I", "FORWARD", "1", "-j", "ACCEPT"])
    lab.run_in(lab.node, [tool, "-t", "nat", "-I", "PREROUTING", "1", "-j", "ACCEPT"])
    # control: the hole is real while the jumps sit below the ACCEPTs
    hole = lab.get(lab.pod, IMDS)
    assert hole["outcome"] == "ok" and str(hole["body"]).startswith("UPSTREAM"), hole
    leaks = len(lab.pod_leaks())
    assert checker.drift() == "rules differ"
    assert checker.reconcile_once() and checker.drift() is None
    for table, chain in (("filter", "FORWARD"), ("nat", "PREROUTING")):
        listed = lab.run_in(lab.node, [tool, "-t", table, "-S", chain]).stdout.splitlines()
        assert "podwarden:jump-" in listed[1] and listed[2].endswith("-j ACCEPT"), listed
    result = lab.get(lab.pod, IMDS)
    assert result["outcome"] == "ok" and str(result["body"]).startswith("PROXY"), result
    assert lab.get(lab.pod, f"http://{metadata_addresses.WIRESERVER_V4}/")["outcome"] == "refused"
    assert len(lab.pod_leaks()) == leaks
