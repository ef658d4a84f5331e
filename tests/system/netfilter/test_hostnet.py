"""Host-network pods: a process in the pod cgroup, in the node's own namespace."""

from __future__ import annotations

from pathlib import Path

import pytest

from podwarden.api import metadata_addresses
from podwarden.testing import cgroups
from podwarden.testing.netlab import (
    NODE_POD_V4,
    NODE_UP_V4,
    Lab,
    agent_argv,
    join_cgroup,
    rules_apply_args,
    stop,
)

pytestmark = pytest.mark.peers("nftables", "iptables")

PROXY_PORT = 18182
PROBED_PORT = 18187
IMDS = f"http://{metadata_addresses.IMDS_V4}/latest/meta-data/instance-id"


def remove_children(root: Path, directory: Path, children: tuple[str, ...]) -> None:
    """Move the processes of each child cgroup back to `root`, then remove the child."""
    for child in children:
        for pid in (directory / child / "cgroup.procs").read_text().split():
            (root / "cgroup.procs").write_text(pid)
        (directory / child).rmdir()


@pytest.mark.parametrize(
    ("backend", "listen"),
    [("nft", NODE_POD_V4), ("iptables-legacy", NODE_POD_V4), ("nft", "127.0.0.1")],
)
def test_pod_cgroup_process_is_proxied_or_refused_node_process_is_not(
    lab: Lab, cgroup_v2_root: Path, backend: str, listen: str
):
    with cgroups.pod_cgroup(cgroup_v2_root) as (path, directory):
        proxy = lab.spawn(lab.node, lab.helper("fakeproxy", f"{listen}:{PROXY_PORT}"))
        lab.podwarden(
            *rules_apply_args(backend=backend, proxy=f"{listen}:{PROXY_PORT}", pod_cgroup=path)
        )
        hostnet_pod = lab.get_in_cgroup(directory, IMDS)
        assert hostnet_pod["outcome"] == "ok", hostnet_pod
        assert str(hostnet_pod["body"]).startswith("PROXY"), hostnet_pod
        node = lab.get(lab.node, IMDS)
        assert node["outcome"] == "ok" and str(node["body"]).startswith("UPSTREAM"), node
        assert (
            lab.get_in_cgroup(directory, f"http://{metadata_addresses.WIRESERVER_V4}:32526/")[
                "outcome"
            ]
            == "refused"
        )
        stop(proxy)
        refused = lab.get_in_cgroup(directory, IMDS)
        assert refused["outcome"] == "refused" and float(refused["ms"]) < 100, refused  # type: ignore[arg-type]
        upstream_paths = [line for line in lab.log.read_text().splitlines()]
        # exactly one upstream request: the node process's; none from the cgroup's process
        assert len(upstream_paths) == 1, upstream_paths


def test_agent_inside_the_pod_cgroup_exempts_itself_and_proxies_hostnet_pods(
    lab: Lab, cgroup_v2_root: Path
):
    """As in a DaemonSet: the agent's own cgroup is below kubepods, its upstream calls pass."""
    with cgroups.pod_cgroup(cgroup_v2_root) as (path, directory):
        (directory / "agent").mkdir()
        (directory / "pod1").mkdir()
        try:
            agent = lab.spawn(
                lab.node,
                agent_argv(
                    listen=f"{NODE_POD_V4}:{PROXY_PORT}",
                    pod_cgroup=path,
                    health_listen="127.0.0.1:18186",
                    log_level="warning",
                ),
                wait_line=None,
                preexec=join_cgroup(directory / "agent"),
            )
            ready = lab.wait_ready("127.0.0.1:18186", timeout=15)
            assert ready["outcome"] == "ok", agent.stderr.read() if agent.stderr else ""
            allowed = lab.get_in_cgroup(directory / "pod1", IMDS)
            assert allowed["outcome"] == "ok" and allowed["status"] == 200, allowed
            assert str(allowed["body"]) == "UPSTREAM /latest/meta-data/instance-id"
            secret = (
                f"http://{metadata_addresses.IMDS_V4}/latest/meta-data/iam/security-credentials/"
            )
            denied = lab.get_in_cgroup(directory / "pod1", secret)
            assert denied["outcome"] == "ok" and denied["status"] != 200, denied
            assert "security-credentials" not in lab.log.read_text()
            stop(agent)
        finally:
            remove_children(cgroup_v2_root, directory, ("agent", "pod1"))


def _apply(lab: Lab, backend: str, path: str, *extra: str) -> None:
    lab.podwarden(
        *rules_apply_args(
            provider="azure",
            backend=backend,
            proxy=f"{NODE_POD_V4}:{PROXY_PORT}",
            pod_cgroup=path,
            extra=extra,
        )
    )


@pytest.mark.parametrize("backend", ["nft", "iptables-legacy"])
def test_exempt_cgroups_keep_node_access_other_hostnet_pods_do_not(
    lab: Lab, cgroup_v2_root: Path, backend: str
):
    """aws-node / a CSI node plugin need the node role: their cgroup is exempted."""
    with cgroups.pod_cgroup(cgroup_v2_root) as (path, directory):
        children = ("aws-node", "pod1")
        for child in children:
            (directory / child).mkdir()
        try:
            lab.spawn(lab.node, lab.helper("fakeproxy", f"{NODE_POD_V4}:{PROXY_PORT}"))
            _apply(lab, backend, path, "--exempt-cgroups", f"{path}/aws-node")
            system_pod = lab.get_in_cgroup(directory / "aws-node", IMDS)
            assert system_pod["outcome"] == "ok", system_pod
            assert system_pod["body"] == "UPSTREAM /latest/meta-data/instance-id", system_pod
            other = lab.get_in_cgroup(directory / "pod1", IMDS)
            assert other["outcome"] == "ok" and str(other["body"]).startswith("PROXY"), other
            assert lab.pod_leaks() == []
        finally:
            remove_children(cgroup_v2_root, directory, children)


@pytest.mark.parametrize("backend", ["nft", "iptables-legacy"])
def test_hostnet_pod_answers_azure_lb_probes_but_cannot_reach_wireserver(
    lab: Lab, cgroup_v2_root: Path, backend: str
):
    """A host-network server (an ingress controller) probed FROM 168.63.129.16 answers."""
    with cgroups.pod_cgroup(cgroup_v2_root) as (path, directory):
        server = lab.spawn(
            lab.node,
            lab.helper("fakeproxy", f"{NODE_UP_V4}:{PROBED_PORT}"),
            preexec=join_cgroup(directory),
        )
        _apply(lab, backend, path)
        probe = lab.get(
            lab.cloud,
            f"http://{NODE_UP_V4}:{PROBED_PORT}/healthz",
            source=metadata_addresses.WIRESERVER_V4,
        )
        assert probe["outcome"] == "ok" and probe["body"] == "PROXY /healthz", probe
        for port in (80, 32526):
            url = f"http://{metadata_addresses.WIRESERVER_V4}:{port}/"
            assert lab.get_in_cgroup(directory, url)["outcome"] == "refused", url
        stop(server)
        assert lab.upstream_clients() == []
