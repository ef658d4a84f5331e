"""The lab itself: build the namespaces, start the cloud and the proxy, tear it all down.

`up` records every step in the state file before taking it, and tears down
on any failure; `down` works from that file in a later process, kills only
the PIDs it recorded, deletes the recorded namespaces (their links go with
them) and any left-over namespace with the lab's prefix, and can be run any
number of times. Tests use `lab(...)`, a context manager that always tears down.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from podwarden.lab import interception, netns, network, processes, state
from podwarden.lab import plan as lab_plan
from podwarden.lab.plan import Plan
from podwarden.lab.state import LabState, ProcessRecord

UPSTREAM = f"http://{lab_plan.IMDS_V4}"


class LabError(Exception):
    """The lab could not be brought up or used; the message says what and where."""


def podwarden_argv() -> list[str]:
    """How to run this podwarden (the venv's script when present) as a subprocess."""
    script = Path(sys.executable).with_name("podwarden")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "from podwarden.cli import main; main()"]


def default_cloud_argv() -> list[str]:
    """The emulator: every cloud on the IMDS address, each other host on its own."""
    listens = [
        f"all={lab_plan.IMDS_V4}:80",
        f"all=[{lab_plan.IMDS_V6}]:80",
        f"ecs={lab_plan.ECS_V4}:80",
        f"eks-pod-identity={lab_plan.EKS_POD_IDENTITY_V4}:80",
        f"eks-pod-identity=[{lab_plan.EKS_POD_IDENTITY_V6}]:80",
        f"alibaba={lab_plan.ALIBABA_V4}:80",
        f"wireserver={lab_plan.WIRESERVER_V4}:80",
        f"hostgaplugin={lab_plan.WIRESERVER_V4}:32526",
    ]
    return [*podwarden_argv(), "lab", "cloud", *(a for item in listens for a in ("--listen", item))]


def default_proxy_argv(provider: str, listen: str) -> list[str]:
    """`podwarden proxy` for `provider` on `listen`, in front of the cloud host."""
    return [
        *podwarden_argv(),
        "proxy",
        "--provider",
        provider,
        "--upstream",
        UPSTREAM,
        "--listen",
        listen,
    ]


ProxyArgv = Callable[[str, str], list[str]]


@dataclass
class Lab:
    """A running lab: run commands in pods, switch the proxy on and off."""

    plan: Plan
    state: LabState
    state_dir: Path
    interception_mode: str = "lab-dnat"
    proxy_argv: ProxyArgv = default_proxy_argv

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
        """Start `podwarden proxy` in the node (IPv4 and IPv6) and intercept pod traffic to it."""
        # Rules stay while proxies are swapped: pods meet "refused", never the cloud.
        self.stop_proxy(keep_interception=True)
        chosen = provider or self.plan.provider
        listens = {
            "proxy": f"{lab_plan.NODE_POD_SIDE_V4}:{lab_plan.PROXY_PORT}",
            "proxy6": f"[{lab_plan.NODE_POD_SIDE_V6}]:{lab_plan.PROXY_PORT}",
        }
        started = [
            self._spawn(name, self.plan.node, self.proxy_argv(chosen, listen))
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
        self.state.proxy = True
        self.state.provider = chosen
        self.state.interception = self.interception_mode
        self._save()

    def stop_proxy(self, *, keep_interception: bool = False) -> None:
        """Stop the proxy and remove interception (the "without podwarden" state).

        `keep_interception=True` leaves the rules in place: the "proxy is down"
        case, where fail-closed rules must refuse pods rather than let them through.
        """
        if not keep_interception:
            interception.remove(
                mode=self.interception_mode,
                node_netns=self.plan.node,
                podwarden_argv=podwarden_argv(),
            )
        for record in [p for p in self.state.processes if p.name.startswith("proxy")]:
            processes.stop(record)
            self.state.processes.remove(record)
        self.state.proxy = False
        self._save()

    def _start(self, name: str, ns: str, argv: list[str], ports: Sequence[int]) -> None:
        processes.wait_listening(self._spawn(name, ns, argv), ports)

    def _spawn(self, name: str, ns: str, argv: list[str]) -> ProcessRecord:
        record = processes.start(
            name=name,
            netns_name=ns,
            argv=argv,
            log_dir=self.state_dir / "logs",
            env={"PYTHONUNBUFFERED": "1"},
        )
        self.state.processes.append(record)
        self._save()
        return record

    def _record_namespace(self, ns: str) -> None:
        self.state.namespaces.append(ns)
        self._save()

    def _save(self) -> None:
        state.save(self.state, state_dir=self.state_dir)


def up(
    *,
    provider: str = "aws",
    pods: int = 2,
    proxy: bool = True,
    prefix: str = lab_plan.DEFAULT_PREFIX,
    state_dir: Path = state.STATE_DIR,
    cloud_argv: Sequence[str] | None = None,
    proxy_argv: ProxyArgv | None = None,
    interception_mode: str = "lab-dnat",
) -> Lab:
    """Build and start a lab; on any failure tear down what was built and raise LabError."""
    if not netns.available():
        raise LabError("the lab needs root and iproute2 (network namespaces)")
    plan = lab_plan.make(provider=provider, pods=pods, prefix=prefix)
    if interception_mode not in interception.MODES:
        accepted = ", ".join(interception.MODES)
        raise LabError(f"interception {interception_mode!r} unknown (accepted: {accepted})")
    existing = state.load(state_dir=state_dir)
    if existing is not None:
        raise LabError(
            f"a lab is already recorded in {state.state_path(state_dir)}"
            f" (provider {existing.provider}); run `podwarden lab down` first"
        )
    for old_log in (state_dir / "logs").glob("*.log"):  # a new lab starts new logs
        old_log.unlink(missing_ok=True)
    record = LabState(
        prefix=prefix,
        provider=provider,
        pods=[p.name for p in plan.pods],
        interception=interception_mode,
    )
    the_lab = Lab(
        plan=plan,
        state=record,
        state_dir=state_dir,
        interception_mode=interception_mode,
        proxy_argv=proxy_argv or default_proxy_argv,
    )
    try:
        network.build(plan, record=the_lab._record_namespace)
        the_lab._start(
            "cloud", plan.cloud, list(cloud_argv or default_cloud_argv()), lab_plan.CLOUD_PORTS
        )
        if proxy:
            the_lab.start_proxy(provider)
        record.ready = True
        the_lab._save()
    except BaseException as exc:
        failures = down(state_dir=state_dir, prefix=prefix)
        extra = f" (clean-up problems: {'; '.join(failures)})" if failures else ""
        if isinstance(exc, Exception):
            raise LabError(f"lab up failed: {exc}{extra}") from exc
        raise
    return the_lab


def down(*, state_dir: Path = state.STATE_DIR, prefix: str = lab_plan.DEFAULT_PREFIX) -> list[str]:
    """Tear down the recorded lab (idempotent); returns the clean-up steps that failed."""
    failures: list[str] = []
    try:
        recorded = state.load(state_dir=state_dir)
    except state.StateError as exc:
        failures.append(str(exc))
        recorded = None
    namespaces: list[str] = []
    if recorded is not None:
        prefix = recorded.prefix
        for proc in reversed(recorded.processes):
            try:
                processes.stop(proc)
            except Exception as exc:  # keep going: namespaces must still go
                failures.append(f"stop {proc.name} (pid {proc.pid}): {exc}")
        namespaces = list(recorded.namespaces)
    if netns.NETNS_DIR.exists():
        namespaces += sorted(p.name for p in netns.NETNS_DIR.iterdir() if p.name.startswith(prefix))
    if network.ETC_NETNS.exists():
        etc = network.ETC_NETNS.iterdir()
        namespaces += sorted(p.name for p in etc if p.name.startswith(prefix))
    for name in dict.fromkeys(namespaces):
        # Not ours to kill (a shell someone opened there?), but worth saying.
        strays = processes.inside_netns(netns.NETNS_DIR / name)
        if strays:
            failures.append(f"processes not started by the lab still in {name}: {strays}")
        try:
            netns.delete_netns(name)
            network.remove_etc(name)
        except Exception as exc:
            failures.append(f"delete netns {name}: {exc}")
    state.forget(state_dir=state_dir)
    return failures


def load(*, state_dir: Path = state.STATE_DIR) -> Lab:
    """The lab recorded in `state_dir` (for `exec`/`status` in a later process)."""
    recorded = state.load(state_dir=state_dir)
    if recorded is None:
        raise LabError("no lab is up (run `podwarden lab up`)")
    plan = lab_plan.make(
        provider=recorded.provider, pods=len(recorded.pods), prefix=recorded.prefix
    )
    mode = recorded.interception if recorded.interception in interception.MODES else "lab-dnat"
    return Lab(plan=plan, state=recorded, state_dir=state_dir, interception_mode=mode)


def status(*, state_dir: Path = state.STATE_DIR) -> dict[str, Any]:
    """The recorded state with what is actually alive now (for `lab status`)."""
    recorded = state.load(state_dir=state_dir)
    if recorded is None:
        return {"up": False}
    report = recorded.to_json()
    report["up"] = recorded.ready
    report["namespaces_alive"] = {n: netns.exists(n) for n in recorded.namespaces}
    report["processes_alive"] = {p.name: processes.is_running(p) for p in recorded.processes}
    return report


@contextmanager
def lab(
    *,
    provider: str = "aws",
    pods: int = 2,
    proxy: bool = True,
    prefix: str = lab_plan.DEFAULT_PREFIX,
    state_dir: Path = state.STATE_DIR,
    cloud_argv: Sequence[str] | None = None,
    proxy_argv: ProxyArgv | None = None,
    interception_mode: str = "lab-dnat",
) -> Iterator[Lab]:
    """A lab for the duration of a `with` block, torn down whatever happens inside."""
    the_lab = up(
        provider=provider,
        pods=pods,
        proxy=proxy,
        prefix=prefix,
        state_dir=state_dir,
        cloud_argv=cloud_argv,
        proxy_argv=proxy_argv,
        interception_mode=interception_mode,
    )
    try:
        yield the_lab
    finally:
        down(state_dir=state_dir, prefix=prefix)
