"""The lab itself: build the namespaces, start the cloud, the API server and the agent.

By default the node runs `podwarden agent` (proxy, rules and reconcile in
one process, as the DaemonSet does); `interception_mode="lab-dnat"` or
`"podwarden-rules"` run a plain `podwarden proxy` with separate rules.
The node also runs the lab API server (lab pods are Pod objects, see
cluster.py), and the agent follows it with its identity flags; `sts="moto"`
adds moto on the cloud host so AWS roles can really be assumed (moto.py).

`up` records every step in the state file before taking it, and tears down
on any failure; `down` works from that file in a later process, kills only
the PIDs it recorded, deletes the recorded namespaces (their links go with
them) and any left-over namespace with the lab's prefix, and can be run any
number of times. Tests use `lab(...)`, a context manager that always tears down.
The running lab's own operations (exec, kubectl, the agent) are in running.py.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from podwarden.lab import cgroup, files, interception, launch, netns, network, processes, state
from podwarden.lab import plan as lab_plan
from podwarden.lab.running import Lab as Lab
from podwarden.lab.running import LabError as LabError
from podwarden.lab.running import ProxyArgv as ProxyArgv
from podwarden.lab.state import LabState

# The command lines live in launch.py; these names stay importable from here.
UPSTREAM = launch.UPSTREAM
HEALTH_PORT = launch.HEALTH_PORT
podwarden_argv = launch.podwarden_argv
default_cloud_argv = launch.default_cloud_argv
default_proxy_argv = launch.default_proxy_argv
default_agent_argv = launch.default_agent_argv
STS_CHOICES = ("none", "moto")


def up(
    *,
    provider: str = "aws",
    pods: int = 2,
    proxy: bool = True,
    prefix: str = lab_plan.DEFAULT_PREFIX,
    state_dir: Path = state.STATE_DIR,
    cloud_argv: Sequence[str] | None = None,
    proxy_argv: ProxyArgv | None = None,
    interception_mode: str = interception.DEFAULT_MODE,
    sts: str = "none",
) -> Lab:
    """Build and start a lab; on any failure tear down what was built and raise LabError.

    `sts="moto"` also starts moto (Lab.start_sts) before the agent.
    """
    if not netns.available():
        raise LabError("the lab needs root and iproute2 (network namespaces)")
    plan = lab_plan.make(provider=provider, pods=pods, prefix=prefix)
    if interception_mode not in interception.MODES:
        accepted = ", ".join(interception.MODES)
        raise LabError(f"interception {interception_mode!r} unknown (accepted: {accepted})")
    if sts not in STS_CHOICES:
        raise LabError(f"sts {sts!r} unknown (accepted: {', '.join(STS_CHOICES)})")
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
        if interception_mode == "agent":
            try:
                cgroup.create(prefix)
            except cgroup.CgroupUnavailable:
                pass  # the agent runs without host-network matching; the demo says so
        the_lab._start_base(list(cloud_argv or default_cloud_argv()))
        if sts == "moto":
            the_lab.start_sts()
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
    failures += cgroup.remove(prefix)
    files.remove(state_dir)  # after the API server stopped: it saves its objects on exit
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
    interception_mode: str = interception.DEFAULT_MODE,
    sts: str = "none",
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
        sts=sts,
    )
    try:
        yield the_lab
    finally:
        down(state_dir=state_dir, prefix=prefix)
