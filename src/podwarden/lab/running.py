"""A running lab: exec in pods, kubectl, moto, and the node's agent (or proxies) on and off.

`topology.up` builds a lab and returns a `Lab`; `topology.load` rebuilds one
from the state file in a later process. Every process a `Lab` starts is
recorded in the state file before it is awaited, so `topology.down` finds it.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from podwarden.lab import (
    cgroup,
    cluster,
    files,
    interception,
    launch,
    moto,
    netns,
    processes,
    state,
)
from podwarden.lab import plan as lab_plan
from podwarden.lab.plan import Plan
from podwarden.lab.state import LabState, ProcessRecord

HEALTH_PORT = launch.HEALTH_PORT
default_proxy_argv = launch.default_proxy_argv
default_agent_argv = launch.default_agent_argv
podwarden_argv = launch.podwarden_argv


class LabError(Exception):
    """The lab could not be brought up or used; the message says what and where."""


ProxyArgv = Callable[[str, str], list[str]]


@dataclass
class Lab:
    """A running lab: run commands in pods, switch the agent (or proxy) on and off.

    The agent (or proxy) always gets the lab's identity flags (launch.identity_flags)
    and node environment (files.node_aws_env); `service_flags` and
    `service_env` are added after them, for experiments with other flags.
    """

    plan: Plan
    state: LabState
    state_dir: Path
    interception_mode: str = interception.DEFAULT_MODE
    proxy_argv: ProxyArgv = default_proxy_argv
    service_flags: list[str] = field(default_factory=list)
    service_env: dict[str, str] = field(default_factory=dict)
    reconcile_period: float = 1.0

    @property
    def kubeconfig(self) -> Path:
        """The kubeconfig of the lab API server (reachable from the node and the pods)."""
        if not self.state.kubeconfig:
            raise LabError("this lab has no API server (recorded before it had one?)")
        return Path(self.state.kubeconfig)

    def kubectl_argv(self, args: Sequence[str]) -> list[str]:
        """kubectl with the lab's kubeconfig, run in the node namespace."""
        cache = files.kube_cache_path(self.state_dir)
        kubectl = [
            "kubectl",
            "--kubeconfig",
            str(self.kubeconfig),
            "--cache-dir",
            str(cache),
            *args,
        ]
        return netns.pid_netns_argv(self.plan.node, kubectl)

    def kubectl(self, *args: str, timeout: float = 30.0) -> subprocess.CompletedProcess[str]:
        """Run kubectl against the lab API server, capture text (the caller checks the code)."""
        return subprocess.run(
            self.kubectl_argv(args), capture_output=True, text=True, timeout=timeout, check=False
        )

    def start_sts(self) -> None:
        """Start and seed moto on the cloud host (IAM, STS, S3; see moto.py).

        The agent (or proxy) started afterwards assumes roles there with the
        node's own keys; one already running keeps its flags until restarted.
        """
        if self.state.sts == "moto":
            return
        record = self._spawn("moto", self.plan.cloud, moto.argv())
        processes.wait_listening(record, [moto.PORT], timeout=30)
        try:
            moto.seed(
                cloud_netns=self.plan.cloud,
                credentials_file=files.node_credentials_path(self.state_dir),
            )
        except moto.MotoError as exc:
            raise LabError(f"{exc}; see {record.log}") from exc
        self.state.sts = "moto"
        self._save()

    def identity_flags(self, provider: str) -> list[str]:
        """The identity flags the lab's agent (or proxy) runs with for `provider`."""
        if not self.state.kubeconfig:
            return []
        return launch.identity_flags(provider, kubeconfig=self.kubeconfig, sts=self.state.sts)

    @property
    def pod_cgroup(self) -> Path | None:
        """The lab's pod cgroup directory (host-network pods), None without cgroup v2."""
        return cgroup.directory(self.plan.prefix)

    def exec_hostnet(
        self, argv: Sequence[str], *, in_pod_cgroup: bool, timeout: float = 30.0
    ) -> subprocess.CompletedProcess[str]:
        """Run `argv` in the node's namespace: as a host-network pod, or as a node process.

        Entered with `nsenter --net` (which keeps /sys/fs/cgroup); with
        `in_pod_cgroup` the shell joins the lab's pod cgroup before it execs.
        """
        full = ["nsenter", f"--net={netns.NETNS_DIR / self.plan.node}"]
        if in_pod_cgroup:
            found = self.pod_cgroup
            if found is None:
                raise LabError("this lab has no pod cgroup (needs a writable cgroup v2)")
            full += ["sh", "-c", f'echo $$ > {found}/cgroup.procs && exec "$@"', "sh"]
        return subprocess.run(
            [*full, *argv], capture_output=True, text=True, timeout=timeout, check=False
        )

    def exec(
        self,
        pod: str,
        argv: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        timeout: float = 30.0,
    ) -> subprocess.CompletedProcess[str]:
        """Run `argv` in `pod`'s namespace (environment passed through), capture text."""
        full_env = None if env is None else {**os.environ, **env}
        return subprocess.run(
            netns.pid_netns_argv(self.plan.pod_netns(pod), argv),
            capture_output=True,
            text=True,
            timeout=timeout,
            env=full_env,
            check=False,
        )

    def start_proxy(self, provider: str | None = None) -> None:
        """Start the agent (or `podwarden proxy` + rules) in the node; ready when it returns."""
        # Rules stay while proxies are swapped: pods meet "refused", never the cloud.
        self.stop_proxy(keep_interception=True)
        chosen = provider or self.plan.provider
        if self.interception_mode == "agent":
            self._start_agent(chosen)
        else:
            self._start_proxies(chosen)
        self.state.proxy = True
        self.state.provider = chosen
        self.state.interception = self.interception_mode
        self._save()

    def _start_agent(self, provider: str) -> None:
        found = self.pod_cgroup
        argv = default_agent_argv(
            provider,
            pod_cgroup=found.relative_to(found.parent).as_posix() if found else None,
            reconcile_period=self.reconcile_period,
        )
        record = self._spawn(
            "agent",
            self.plan.node,
            [*argv, *self.identity_flags(provider), *self.service_flags],
            nsenter=True,
        )
        processes.wait_listening(record, [lab_plan.PROXY_PORT, HEALTH_PORT], timeout=30)
        self.wait_ready(record)

    def wait_ready(self, record: ProcessRecord, *, timeout: float = 20.0) -> None:
        """Until the agent's /readyz says proxy and rules are both up (bounded)."""
        deadline = time.monotonic() + timeout
        url = f"http://127.0.0.1:{HEALTH_PORT}/readyz"
        while True:
            if not processes.is_running(record):
                raise LabError(f"agent exited before it was ready; see {record.log}")
            probe = netns.run(
                ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "1", url],
                netns=self.plan.node,
                check=False,
            )
            if probe.stdout.strip() == "200":
                return
            if time.monotonic() > deadline:
                raise LabError(f"agent not ready after {timeout}s; see {record.log}")
            time.sleep(0.05)

    def kill_proxy(self) -> None:
        """SIGKILL the agent (or proxies) and leave every rule: a crash, as the demo shows it."""
        for record in [p for p in self.state.processes if _is_service(p.name)]:
            processes.kill(record)
            self.state.processes.remove(record)
        self.state.proxy = False
        self._save()

    def _start_proxies(self, chosen: str) -> None:
        listens = {
            "proxy": f"{lab_plan.NODE_POD_SIDE_V4}:{lab_plan.PROXY_PORT}",
            "proxy6": f"[{lab_plan.NODE_POD_SIDE_V6}]:{lab_plan.PROXY_PORT}",
        }
        # A stand-in proxy (the tests' echo server) takes no podwarden flags.
        real = self.proxy_argv is default_proxy_argv
        flags = [*(self.identity_flags(chosen) if real else []), *self.service_flags]
        started = [
            self._spawn(name, self.plan.node, [*self.proxy_argv(chosen, listen), *flags])
            for name, listen in listens.items()
        ]
        for record in started:  # both start at once; wait for each afterwards
            processes.wait_listening(record, [lab_plan.PROXY_PORT])
        interception.install(
            mode=self.interception_mode,
            node_netns=self.plan.node,
            provider=chosen,
            podwarden_argv=podwarden_argv(),
        )

    def stop_proxy(self, *, keep_interception: bool = False) -> None:
        """Stop the agent/proxy and remove interception (the "without podwarden" state).

        `keep_interception=True` leaves the rules in place: the "proxy is down"
        case, where fail-closed rules must refuse pods rather than let them through.
        The service stops first: a running agent would put removed rules back.
        """
        for record in [p for p in self.state.processes if _is_service(p.name)]:
            processes.stop(record)
            self.state.processes.remove(record)
        if not keep_interception:
            interception.remove(
                mode=self.interception_mode,
                node_netns=self.plan.node,
                podwarden_argv=podwarden_argv(),
            )
        self.state.proxy = False
        self._save()

    def _start_base(self, cloud_argv: list[str]) -> None:
        """Cloud emulator and API server, started together, each awaited."""
        self.state.kubeconfig = str(files.write_cluster(self.plan, state_dir=self.state_dir))
        cloud = self._spawn("cloud", self.plan.cloud, cloud_argv)
        api_state = files.apiserver_state_path(self.state_dir)
        auth = files.auth_config_path(self.state_dir)
        api = self._spawn("apiserver", self.plan.node, launch.apiserver_argv(api_state, auth))
        processes.wait_listening(cloud, lab_plan.CLOUD_PORTS)
        processes.wait_listening(api, [cluster.APISERVER_PORT], timeout=30)

    def _spawn(
        self, name: str, ns: str, argv: list[str], *, nsenter: bool = False
    ) -> ProcessRecord:
        record = processes.start(
            name=name,
            netns_name=ns,
            argv=argv,
            log_dir=self.state_dir / "logs",
            env=self._env(name),
            keep_sysfs=nsenter,
        )
        self.state.processes.append(record)
        self._save()
        return record

    def _env(self, name: str) -> dict[str, str | None]:
        env: dict[str, str | None] = {"PYTHONUNBUFFERED": "1"}
        if _is_service(name):
            env.update(files.node_aws_env(self.state_dir))
            env.update(self.service_env)
        return env

    def _record_namespace(self, ns: str) -> None:
        self.state.namespaces.append(ns)
        self._save()

    def _save(self) -> None:
        state.save(self.state, state_dir=self.state_dir)


def _is_service(name: str) -> bool:
    """The processes `stop_proxy` stops: the agent or the proxies (not cloud, API server…)."""
    return name == "agent" or name.startswith("proxy")
