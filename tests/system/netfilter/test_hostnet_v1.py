"""Host-network pods on a cgroup v1 node: net_cls classid tagging, both backends.

The machine's own mount namespace never sees net_cls mounted: a holder
process (`unshare --mount --propagation private`) mounts it on a temporary
directory in a private mount namespace. podwarden runs inside that mount
namespace and the lab's node network namespace (so its mountinfo shows the
hierarchy, as on a v1 node); the tests reach the cgroup files through
/proc/<holder>/root. Clean-up always moves processes out, removes the test
cgroups, unmounts and stops the holder.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from podwarden.api import metadata_addresses
from podwarden.netfilter import cgroup_match
from podwarden.testing.netlab import (
    NODE_POD_V4,
    NODE_UP_V4,
    PODWARDEN,
    Lab,
    agent_argv,
    join_cgroup,
    rules_apply_args,
    stop,
)
from tests.system.netfilter.conftest import require

pytestmark = pytest.mark.peers("nftables", "iptables")

PROXY_PORT = 18192
HEALTH = "127.0.0.1:18196"
IMDS = f"http://{metadata_addresses.IMDS_V4}/latest/meta-data/instance-id"
CLASSID = cgroup_match.DEFAULT_CLASSID


def _netcls_enabled() -> bool:
    for line in Path("/proc/cgroups").read_text().splitlines():
        fields = line.split()
        if fields and fields[0] == "net_cls":
            return fields[-1] == "1"
    return False


@pytest.fixture(autouse=True)
def _net_cls_kernel() -> None:
    """Skip on a kernel without net_cls; fail instead under CI=true (CI has it)."""
    require(_netcls_enabled(), "the kernel has no net_cls controller enabled")


@dataclass
class NetCls:
    """A private net_cls mount with a test subtree `<top>/kubepods`."""

    holder: subprocess.Popen[str]
    mountpoint: Path
    top: str

    @property
    def root(self) -> Path:
        """The hierarchy's root as seen from this (the host's) mount namespace."""
        return Path(f"/proc/{self.holder.pid}/root") / self.mountpoint.relative_to("/")

    @property
    def pods_path(self) -> str:
        return f"{self.top}/kubepods"

    @property
    def pods(self) -> Path:
        return self.root / self.pods_path

    def enter(self, argv: list[str]) -> list[str]:
        """`argv` inside the private mount namespace (network namespace unchanged)."""
        return ["nsenter", f"--mount=/proc/{self.holder.pid}/ns/mnt", *argv]

    def classid(self, path: str) -> int:
        return int((self.pods / path / "net_cls.classid").read_text())

    def join(self, path: str) -> str:
        """A shell step that moves the shell (then what it execs) into pods/`path`."""
        return join_cgroup(self.pods / path)


@pytest.fixture
def netcls(tmp_path: Path) -> Iterator[NetCls]:
    mountpoint = tmp_path / "netcls"
    mountpoint.mkdir()
    top = f"pwtest-{secrets.token_hex(3)}"
    script = 'mount -t cgroup -o net_cls pwnetcls "$1" && echo ready && exec sleep 900'
    holder = subprocess.Popen(
        ["unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh", mountpoint],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        line = holder.stdout.readline() if holder.stdout else ""
        if "ready" not in line:
            pytest.fail(f"cannot mount net_cls privately: {holder.stderr.read()}")  # type: ignore[union-attr]
        made = NetCls(holder, mountpoint, top)
        (made.root / top).mkdir()
        (made.root / made.pods_path).mkdir()
        yield made
    finally:
        _teardown(holder, mountpoint, top)


def _teardown(holder: subprocess.Popen[str], mountpoint: Path, top: str) -> None:
    """Processes out, cgroups removed (deepest first), unmounted, holder stopped."""
    try:
        if holder.poll() is None:
            root = Path(f"/proc/{holder.pid}/root") / mountpoint.relative_to("/")
            if (root / top).is_dir():
                directories = sorted(
                    (Path(d) for d, _, _ in os.walk(root / top)),
                    key=lambda p: len(p.parts),
                    reverse=True,
                )
                for directory in directories:
                    for pid in (directory / "cgroup.procs").read_text().split():
                        try:
                            (root / "cgroup.procs").write_text(pid)
                        except ProcessLookupError:
                            pass  # exited meanwhile
                    directory.rmdir()
            subprocess.run(
                ["nsenter", f"--mount=/proc/{holder.pid}/ns/mnt", "umount", str(mountpoint)],
                check=True,
                timeout=10,
            )
    finally:
        if holder.poll() is None:
            os.killpg(holder.pid, signal.SIGKILL)
        holder.wait(timeout=10)


def get_from(lab: Lab, netcls: NetCls, path: str, url: str) -> dict[str, object]:
    """A client process in the node namespace, inside pods/`path`."""
    return lab.get_in_cgroup(netcls.pods / path, url)


def podwarden(
    lab: Lab, netcls: NetCls, *args: str, check: bool = True
) -> subprocess.CompletedProcess[str]:
    """The CLI in the node network namespace and the private mount namespace."""
    return lab.run_in(lab.node, netcls.enter([str(PODWARDEN), *args]), check=check)


def netfilter_state(lab: Lab) -> str:
    """Every rule of the node namespace, without timestamps and packet counters."""
    parts = [lab.run_in(lab.node, ["nft", "list", "ruleset"]).stdout]
    for tool in ("iptables-legacy-save", "ip6tables-legacy-save"):
        parts.append(lab.run_in(lab.node, [tool], check=False).stdout)  # no -t: creates none
    text = "\n".join(parts)
    lines = [line for line in text.splitlines() if not line.startswith("#")]
    return re.sub(r"\[\d+:\d+\]", "[n:n]", "\n".join(lines))


@pytest.mark.parametrize("backend", ["nft", "iptables-legacy"])
def test_tagged_pod_cgroup_is_proxied_or_refused_node_process_is_not(
    lab: Lab, netcls: NetCls, backend: str
) -> None:
    (netcls.pods / "podA").mkdir()  # exists before tagging: must be tagged by the walk
    if backend == "iptables-legacy":  # legacy tables in use, as on any node: they never unload
        for tool in ("iptables-legacy-save", "ip6tables-legacy-save"):
            for table in ("nat", "filter"):
                lab.run_in(lab.node, [tool, "-t", table])
    before = netfilter_state(lab)
    proxy = lab.spawn(lab.node, lab.helper("fakeproxy", f"{NODE_POD_V4}:{PROXY_PORT}"))
    podwarden(
        lab,
        netcls,
        *rules_apply_args(
            backend=backend, proxy=f"{NODE_POD_V4}:{PROXY_PORT}", pod_cgroup=netcls.pods_path
        ),
    )
    assert netcls.classid("") == CLASSID and netcls.classid("podA") == CLASSID
    assert int((netcls.root / "net_cls.classid").read_text()) == 0  # the node is untouched

    proxied = get_from(lab, netcls, "podA", IMDS)
    assert proxied["outcome"] == "ok" and proxied["body"] == "PROXY /latest/meta-data/instance-id"
    node = lab.get(lab.node, IMDS)
    assert node["outcome"] == "ok" and node["body"] == "UPSTREAM /latest/meta-data/instance-id"

    (netcls.pods / "podB").mkdir()  # created after tagging: the kernel copies the classid
    assert netcls.classid("podB") == CLASSID
    late = get_from(lab, netcls, "podB", IMDS)
    assert late["outcome"] == "ok" and str(late["body"]).startswith("PROXY"), late
    wireserver = get_from(lab, netcls, "podB", f"http://{metadata_addresses.WIRESERVER_V4}:32526/")
    assert wireserver["outcome"] == "refused", wireserver

    stop(proxy)
    refused = get_from(lab, netcls, "podA", IMDS)
    assert refused["outcome"] == "refused" and float(refused["ms"]) < 100, refused  # type: ignore[arg-type]
    assert lab.upstream_clients() == [NODE_UP_V4]  # only the node process's request

    podwarden(lab, netcls, "rules", "remove", "--backend", backend)
    assert netfilter_state(lab) == before
    after = get_from(lab, netcls, "podA", IMDS)
    assert after["outcome"] == "ok" and str(after["body"]).startswith("UPSTREAM"), after


def test_missing_pod_cgroup_fails_closed(lab: Lab, netcls: NetCls) -> None:
    before = netfilter_state(lab)
    absent = f"{netcls.top}/absent"
    proc = podwarden(
        lab,
        netcls,
        *rules_apply_args(proxy=f"{NODE_POD_V4}:{PROXY_PORT}", pod_cgroup=absent),
        check=False,
    )
    assert proc.returncode != 0
    assert "so host-network pods cannot be matched" in proc.stderr
    assert str(netcls.mountpoint) in proc.stderr  # it looked in the net_cls hierarchy
    agent = lab.run_in(
        lab.node,
        netcls.enter(agent_argv(listen=f"{NODE_POD_V4}:{PROXY_PORT}", pod_cgroup=absent)),
        check=False,
    )
    assert agent.returncode != 0 and "host-network pods cannot be matched" in agent.stderr
    assert netfilter_state(lab) == before


def test_agent_in_the_pod_cgroup_stays_untagged_and_retags_reset_descendants(
    lab: Lab, netcls: NetCls
) -> None:
    """As a DaemonSet on a v1 node: the agent's cgroup is below kubepods and inherits
    the classid on creation; the agent clears its own and keeps the pods tagged."""
    (netcls.pods / "podA").mkdir()
    podwarden(
        lab, netcls, *rules_apply_args(fail_closed_only=True, pod_cgroup=netcls.pods_path)
    )  # the boot step
    (netcls.pods / "agentpod").mkdir()
    assert netcls.classid("agentpod") == CLASSID  # inherited, as a container cgroup would
    agent = lab.spawn(
        lab.node,
        netcls.enter(
            agent_argv(
                listen=f"{NODE_POD_V4}:{PROXY_PORT}",
                pod_cgroup=netcls.pods_path,
                reconcile_period="0.2",
                health_listen=HEALTH,
                log_level="warning",
            )
        ),
        wait_line=None,
        preexec=netcls.join("agentpod"),
    )
    ready = lab.wait_ready(HEALTH, timeout=15)
    assert ready["outcome"] == "ok", agent.stderr.read() if agent.stderr else ""
    assert netcls.classid("agentpod") == 0 and netcls.classid("podA") == CLASSID

    allowed = get_from(lab, netcls, "podA", IMDS)
    assert allowed["outcome"] == "ok" and allowed["status"] == 200, allowed
    assert allowed["body"] == "UPSTREAM /latest/meta-data/instance-id"  # via the agent
    secret = f"http://{metadata_addresses.IMDS_V4}/latest/meta-data/iam/security-credentials/"
    denied = get_from(lab, netcls, "podA", secret)
    assert denied["outcome"] == "ok" and denied["status"] != 200, denied
    assert "security-credentials" not in lab.log.read_text()

    (netcls.pods / "podA" / "net_cls.classid").write_text("0")  # someone resets a pod
    deadline = time.monotonic() + 2.0  # ten periods; two are needed at most
    while netcls.classid("podA") != CLASSID and time.monotonic() < deadline:
        time.sleep(0.05)
    assert netcls.classid("podA") == CLASSID
    metrics = lab.run_in(lab.node, lab.helper("client", "once", f"http://{HEALTH}/metrics"))
    body = str(json.loads(metrics.stdout)["body"])
    retags = [
        float(line.split()[-1])
        for line in body.splitlines()
        if line.startswith("podwarden_netcls_retags_total{")
    ]
    assert retags and retags[0] >= 1, body
    stop(agent)
    podwarden(lab, netcls, "rules", "remove")
