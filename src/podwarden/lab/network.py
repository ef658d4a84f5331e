"""Building the lab's network: namespaces, veth pairs, addresses, routes, /etc/netns.

Veth pairs are created directly inside their namespaces, so no lab interface
name ever appears (even briefly) in the machine's own namespace, and two labs
with different prefixes can coexist. Addresses come from `plan`.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

from podwarden.api import metadata_addresses
from podwarden.lab import netns
from podwarden.lab import plan as lab_plan
from podwarden.lab.plan import Plan

ETC_NETNS = Path("/etc/netns")


def build(plan: Plan, *, record: Callable[[str], None]) -> None:
    """Create every namespace, link, address and route of `plan`.

    `record(ns)` is called before each namespace is created, so the caller's
    state file names it even if the build stops half-way.
    """
    for ns in plan.namespaces:
        record(ns)
        if netns.exists(ns):
            netns.delete_netns(ns)
        netns.ip("netns", "add", ns)
        netns.ip("link", "set", "lo", "up", netns=ns)
        # No duplicate address detection: link-local addresses would stay "tentative"
        # for a second or two, and neighbour discovery (so IPv6) would fail meanwhile.
        netns.run(
            [
                "sysctl",
                "-q",
                "-w",
                "net.ipv6.conf.all.accept_dad=0",
                "net.ipv6.conf.default.accept_dad=0",
            ],
            netns=ns,
        )
        _write_hosts(ns)
    node, cloud = plan.node, plan.cloud
    _veth(lab_plan.NODE_UPLINK, node, "eth0", cloud)
    _addr(
        node, lab_plan.NODE_UPLINK, f"{lab_plan.NODE_UPLINK_V4}/30", f"{lab_plan.NODE_UPLINK_V6}/64"
    )
    _addr(cloud, "eth0", f"{lab_plan.CLOUD_V4}/30", f"{lab_plan.CLOUD_V6}/64")
    _addr(node, "lo", f"{lab_plan.NODE_POD_SIDE_V4}/32", f"{lab_plan.NODE_POD_SIDE_V6}/128")
    for address in metadata_addresses.HOSTS_V4:
        netns.ip("addr", "add", f"{address}/32", "dev", "lo", netns=cloud)
    for address in metadata_addresses.HOSTS_V6:
        netns.ip("-6", "addr", "add", f"{address}/128", "dev", "lo", "nodad", netns=cloud)
    netns.ip("route", "add", "default", "via", lab_plan.CLOUD_V4, netns=node)
    netns.ip("-6", "route", "add", "default", "via", lab_plan.CLOUD_V6, netns=node)
    netns.ip("route", "add", lab_plan.POD_SUPERNET_V4, "via", lab_plan.NODE_UPLINK_V4, netns=cloud)
    netns.ip(
        "-6", "route", "add", lab_plan.POD_SUPERNET_V6, "via", lab_plan.NODE_UPLINK_V6, netns=cloud
    )
    netns.sysctl("net.ipv4.ip_forward", "1", netns=node)
    netns.sysctl("net.ipv6.conf.all.forwarding", "1", netns=node)
    for pod in plan.pods:
        pod_ns = plan.pod_netns(pod.name)
        _veth(pod.node_interface, node, "eth0", pod_ns)
        _addr(node, pod.node_interface, f"{pod.gateway_v4}/24", f"{pod.gateway_v6}/64")
        _addr(pod_ns, "eth0", f"{pod.ipv4}/24", f"{pod.ipv6}/64")
        netns.ip("route", "add", "default", "via", pod.gateway_v4, netns=pod_ns)
        netns.ip("-6", "route", "add", "default", "via", pod.gateway_v6, netns=pod_ns)


def _write_hosts(ns: str) -> None:
    """/etc/hosts for commands run with `ip netns exec ns` (which bind-mounts this file).

    Gives the GCE name `metadata.google.internal` its address inside the lab,
    so the walkthroughs' commands and google-auth work unchanged in a pod.
    """
    folder = ETC_NETNS / ns
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "hosts").write_text(
        "127.0.0.1 localhost\n::1 localhost ip6-localhost\n"
        f"{metadata_addresses.IMDS_V4} {metadata_addresses.GCE_HOSTNAME} metadata\n"
    )


def remove_etc(ns: str) -> None:
    """Remove the /etc/netns files of a namespace (no error when there are none)."""
    folder = ETC_NETNS / ns
    if folder.is_dir():
        shutil.rmtree(folder, ignore_errors=True)


def _veth(left: str, left_ns: str, right: str, right_ns: str) -> None:
    """A veth pair created directly inside both namespaces (no name ever in the root one)."""
    netns.ip(
        "link",
        "add",
        left,
        "netns",
        left_ns,
        "type",
        "veth",
        "peer",
        "name",
        right,
        "netns",
        right_ns,
    )
    netns.ip("link", "set", left, "up", netns=left_ns)
    netns.ip("link", "set", right, "up", netns=right_ns)


def _addr(ns: str, dev: str, v4: str, v6: str) -> None:
    netns.ip("addr", "add", v4, "dev", dev, netns=ns)
    netns.ip("-6", "addr", "add", v6, "dev", dev, "nodad", netns=ns)
