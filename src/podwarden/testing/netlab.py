"""A tiny self-contained lab for the netfilter tests and `bench rules`: pod ↔ node ↔ cloud.

Shared by tests/system/netfilter and bench/rules.py (so neither imports the other).

The cloud namespace owns every metadata address and runs helpers/upstream.py;
the node namespace routes between them and is where rules, proxies and the
agent run (through nsenter, which keeps /sys/fs/cgroup visible for cgroup
matches). Everything is created through a Tracker and removed in `close`.
`agent_argv` / `rules_apply_args` build the command lines every test and the bench
run there, so a flag is spelled (and changed) in one place.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from podwarden.api import metadata_addresses
from podwarden.lab import netns
from podwarden.netfilter import backends, endpoints, localnet, reconcile, render
from podwarden.netfilter.runner import Runner

HELPERS = Path(__file__).resolve().parent / "netlab_helpers"
PODWARDEN = Path(sys.executable).with_name("podwarden")
POD_V4, NODE_POD_V4 = "10.55.0.2", "10.55.0.1"
POD_V6, NODE_POD_V6 = "fd00:55::2", "fd00:55::1"
NODE_UP_V4, CLOUD_V4 = "10.56.0.1", "10.56.0.2"
NODE_UP_V6, CLOUD_V6 = "fd00:56::1", "fd00:56::2"


@dataclass
class Lab:
    tag: str
    tracker: netns.Tracker
    pod: str = ""
    node: str = ""
    cloud: str = ""
    pod_if: str = ""
    log: Path = field(default_factory=Path)

    @property
    def node_runner(self) -> Runner:
        return Runner.in_netns(self.node)

    def installer(
        self, backend: backends.BackendName, spec: render.RuleSpec
    ) -> reconcile.Installer:
        """`spec` rendered and bound to `backend` in the node, as the agent holds it: for
        tests that check drift against the live rules or repair it."""
        runner = self.node_runner
        return reconcile.Installer(
            backends.select(backend, runner=runner), render.render(spec), runner
        )

    def flush_by_hand(self, backend: str, *, drop_forward_jump: bool = False) -> None:
        """Break the installed rules from outside (an admin's flush): drift to repair.

        `drop_forward_jump` also deletes the iptables FORWARD jump (the refusal)."""
        if backend == "nft":
            self.run_in(self.node, ["nft", "flush", "table", "inet", "podwarden"])
            return
        tool = iptables_tool(backend)
        self.run_in(self.node, [tool, "-t", "nat", "-F", "PODWARDEN-TO-PROXY"])
        if drop_forward_jump:
            comment = ["-m", "comment", "--comment", "podwarden:jump-filter_forward"]
            self.run_in(
                self.node, [tool, "-D", "FORWARD", *comment, "-j", "PODWARDEN-FILTER-FORWARD"]
            )

    def nsenter(self, ns: str, argv: list[str]) -> list[str]:
        return ["nsenter", f"--net=/run/netns/{ns}", *argv]

    def run_in(
        self, ns: str, argv: list[str], *, check: bool = True, timeout: float = 30
    ) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            self.nsenter(ns, argv), capture_output=True, text=True, timeout=timeout, check=False
        )
        if check and proc.returncode != 0:
            raise AssertionError(f"{argv} failed ({proc.returncode}): {proc.stderr}")
        return proc

    def spawn(
        self,
        ns: str,
        argv: list[str],
        *,
        wait_line: str | None = "ready",
        preexec: str | None = None,
        stderr_to: Path | None = None,
    ) -> subprocess.Popen[str]:
        """Start a process in `ns`, killed (by PID) at close."""
        full = self.nsenter(ns, argv)
        if preexec is not None:  # shell step first (e.g. join a cgroup), then exec
            full = self.nsenter(ns, ["sh", "-c", f'{preexec} && exec "$@"', "sh", *argv])
        # stderr to a file when asked: a chatty process must never block on a full pipe
        err = stderr_to.open("w") if stderr_to is not None else subprocess.PIPE
        proc = subprocess.Popen(
            full, stdout=subprocess.PIPE, stderr=err, text=True, start_new_session=True
        )
        if stderr_to is not None:
            err.close()  # type: ignore[union-attr]
        self.tracker.on_close(f"process {proc.pid}", lambda: stop(proc))
        if wait_line is not None:
            line = proc.stdout.readline() if proc.stdout else ""
            if wait_line not in line:
                stop(proc)
                raise AssertionError(
                    f"{argv} did not start: {line!r} {proc.stderr.read() if proc.stderr else ''}"
                )
        return proc

    def helper(self, name: str, *args: str) -> list[str]:
        return [sys.executable, str(HELPERS / f"{name}.py"), *args]

    def get(
        self,
        ns: str,
        url: str,
        *,
        timeout: float = 2.0,
        source: str = "",
        preexec: str | None = None,
    ) -> dict[str, object]:
        """One GET from `ns` (from the local address `source` when given; after the shell
        step `preexec`, e.g. joining a pod cgroup, when given)."""
        argv = self.helper("client", "once", url, str(timeout), *([source] if source else []))
        if preexec is not None:
            argv = ["sh", "-c", f'{preexec} && exec "$@"', "sh", *argv]
        out = self.run_in(ns, argv).stdout
        return json.loads(out)  # type: ignore[no-any-return]

    def get_in_cgroup(
        self, directory: Path, url: str, *, timeout: float = 2.0
    ) -> dict[str, object]:
        """One GET from a node process inside the cgroup `directory` (a host-network pod)."""
        return self.get(self.node, url, timeout=timeout, preexec=join_cgroup(directory))

    def wait_url(self, url: str, *, timeout: float = 15) -> dict[str, object]:
        """Poll `url` from the node until it answers 200 or `timeout` (the outcome says)."""
        argv = self.helper("client", "wait", url, str(timeout))
        return json.loads(self.run_in(self.node, argv).stdout)  # type: ignore[no-any-return]

    def wait_ready(self, health: str, *, timeout: float = 15) -> dict[str, object]:
        """Until the agent whose health server listens on `health` reports ready."""
        return self.wait_url(f"http://{health}/readyz", timeout=timeout)

    def dns(self, ns: str, host: str) -> dict[str, object]:
        return json.loads(self.run_in(ns, self.helper("client", "dns", host)).stdout)  # type: ignore[no-any-return]

    def upstream_clients(self) -> list[str]:
        if not self.log.exists():
            return []
        return [line.split()[0] for line in self.log.read_text().splitlines() if line]

    def pod_leaks(self) -> list[str]:
        """Upstream requests that came from a pod address (must be none)."""
        return [a for a in self.upstream_clients() if a.startswith(("10.55.", "fd00:55:"))]

    def pod_leak_windows(self, *, gap: float = 0.1) -> list[float]:
        """Seconds of each burst of pod requests that reached the real service."""
        stamps = sorted(
            float(line.split()[3])
            for line in (self.log.read_text().splitlines() if self.log.exists() else [])
            if line.startswith(("10.55.", "fd00:55:"))
        )
        windows: list[float] = []
        start = last = None
        for stamp in stamps:
            if last is not None and stamp - last > gap:
                windows.append(last - start)  # type: ignore[operator]
                start = stamp
            start = stamp if start is None else start
            last = stamp
        if start is not None and last is not None:
            windows.append(last - start)
        return windows

    def podwarden(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return self.run_in(self.node, [str(PODWARDEN), *args], check=check)

    def close(self) -> list[str]:
        return self.tracker.close()


def join_cgroup(directory: Path) -> str:
    """A shell step that moves the shell (then what it execs) into the cgroup `directory`."""
    return f"echo $$ > {directory}/cgroup.procs"


def agent_argv(
    *,
    listen: str,
    provider: str = "aws",
    upstream: str = f"http://{metadata_addresses.IMDS_V4}",
    backend: str | None = None,
    pod_cgroup: str | None = None,
    reconcile_period: float | str | None = None,
    health_listen: str | None = None,
    log_level: str | None = None,
    extra: Sequence[str] = (),
) -> list[str]:
    """The full `podwarden agent` command line the lab runs in its node namespace.

    One builder so every test starts the agent the same way; an option left at None is
    not passed (the agent's own default applies)."""
    argv = [str(PODWARDEN), "agent", "--provider", provider, "--upstream", upstream]
    argv += ["--listen", listen, "--pod-interface", "cali+"]
    argv += _options(
        backend=backend,
        pod_cgroup=pod_cgroup,
        reconcile_period=None if reconcile_period is None else str(reconcile_period),
        health_listen=health_listen,
        log_level=log_level,
    )
    return [*argv, *extra]


def rules_apply_args(
    *,
    provider: str = "aws",
    backend: str | None = None,
    proxy: str | None = None,
    pod_cgroup: str | None = None,
    fail_closed_only: bool = False,
    extra: Sequence[str] = (),
) -> list[str]:
    """The arguments after `podwarden` for `rules apply` on the lab's pod interfaces
    (for `Lab.podwarden`); an option left at None is not passed."""
    args = ["rules", "apply", "--provider", provider, "--pod-interface", "cali+"]
    args += _options(backend=backend, proxy=proxy, pod_cgroup=pod_cgroup)
    if fail_closed_only:
        args.append("--fail-closed-only")
    return [*args, *extra]


def _options(**values: str | None) -> list[str]:
    """`--name value` for each value given, in order (underscores become dashes)."""
    out: list[str] = []
    for name, value in values.items():
        if value is not None:
            out += [f"--{name.replace('_', '-')}", value]
    return out


def iptables_tool(backend: str) -> str:
    """The iptables binary an iptables backend drives."""
    return "iptables-legacy" if backend == "iptables-legacy" else "iptables-nft"


def stop(proc: subprocess.Popen[str], *, sig: int = signal.SIGTERM, timeout: float = 5) -> None:
    """Stop one process we started, by its PID (process group: nsenter's child too)."""
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, sig)
    except ProcessLookupError:
        return
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=timeout)


def build(tmp: Path) -> Lab:
    tag = secrets.token_hex(3)
    lab = Lab(tag=tag, tracker=netns.Tracker(prefix=f"pw5{tag}-"), log=tmp / "upstream.log")
    try:
        _wire(lab)
    except BaseException:
        lab.close()
        raise
    return lab


def _wire(lab: Lab) -> None:
    ip = netns.ip
    lab.pod = lab.tracker.add_netns("pod")
    lab.node = lab.tracker.add_netns("node")
    record = localnet.STATE_DIR / (
        f"route_localnet.netns-{os.stat(f'/run/netns/{lab.node}').st_ino}"
    )  # what `rules apply` records there must not outlive the namespace
    lab.tracker.on_close(f"file {record}", lambda: record.unlink(missing_ok=True))
    lab.cloud = lab.tracker.add_netns("cloud")
    for ns in (lab.pod, lab.node, lab.cloud):  # no DAD on the links: IPv6 usable at once
        for scope in ("all", "default"):
            netns.sysctl(f"net.ipv6.conf.{scope}.accept_dad", "0", netns=ns)
    lab.pod_if = f"cali{lab.tag}"
    lab.tracker.add_veth(f"pe{lab.tag}", lab.pod, lab.pod_if, lab.node)
    lab.tracker.add_veth(f"nu{lab.tag}", lab.node, f"ce{lab.tag}", lab.cloud)
    ip("addr", "add", f"{POD_V4}/24", "dev", f"pe{lab.tag}", netns=lab.pod)
    ip("addr", "add", f"{POD_V6}/64", "dev", f"pe{lab.tag}", "nodad", netns=lab.pod)
    ip("route", "add", "default", "via", NODE_POD_V4, netns=lab.pod)
    ip("-6", "route", "add", "default", "via", NODE_POD_V6, netns=lab.pod)
    ip("addr", "add", f"{NODE_POD_V4}/24", "dev", lab.pod_if, netns=lab.node)
    ip("addr", "add", f"{NODE_POD_V6}/64", "dev", lab.pod_if, "nodad", netns=lab.node)
    ip("addr", "add", f"{NODE_UP_V4}/24", "dev", f"nu{lab.tag}", netns=lab.node)
    ip("addr", "add", f"{NODE_UP_V6}/64", "dev", f"nu{lab.tag}", "nodad", netns=lab.node)
    ip("addr", "add", f"{CLOUD_V4}/24", "dev", f"ce{lab.tag}", netns=lab.cloud)
    ip("addr", "add", f"{CLOUD_V6}/64", "dev", f"ce{lab.tag}", "nodad", netns=lab.cloud)
    for address in endpoints.METADATA_V4:
        ip("addr", "add", f"{address}/32", "dev", "lo", netns=lab.cloud)
        ip("route", "add", f"{address}/32", "via", CLOUD_V4, netns=lab.node)
    for address in endpoints.METADATA_V6:
        if address.startswith("::ffff:"):
            continue
        ip("addr", "add", f"{address}/128", "dev", "lo", "nodad", netns=lab.cloud)
        ip("-6", "route", "add", f"{address}/128", "via", CLOUD_V6, netns=lab.node)
    ip("route", "add", "10.55.0.0/24", "via", NODE_UP_V4, netns=lab.cloud)
    ip("-6", "route", "add", "fd00:55::/64", "via", NODE_UP_V6, netns=lab.cloud)
    netns.sysctl("net.ipv4.ip_forward", "1", netns=lab.node)
    netns.sysctl("net.ipv6.conf.all.forwarding", "1", netns=lab.node)
    lab.spawn(lab.cloud, lab.helper("upstream", "--log", str(lab.log)))
    _wait_reachable(lab)


def _wait_reachable(lab: Lab) -> None:
    """Until the pod reaches the cloud over both families (neighbour discovery settles)."""
    deadline = time.monotonic() + 10
    while True:
        v4 = lab.get(lab.pod, f"http://{metadata_addresses.IMDS_V4}/warmup", timeout=1)
        v6 = lab.get(lab.pod, f"http://[{metadata_addresses.IMDS_V6}]/warmup", timeout=1)
        if v4["outcome"] == "ok" and v6["outcome"] == "ok":
            lab.log.unlink(missing_ok=True)  # warm-up hits are not leaks
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"lab not reachable: v4={v4} v6={v6}")
        time.sleep(0.2)
