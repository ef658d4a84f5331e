"""The command lines of the lab's long-lived processes: emulator, proxy, agent.

Pure (no I/O but finding this podwarden's own script), so a test can read
exactly what the lab runs.
"""

from __future__ import annotations

import sys
from pathlib import Path

from podwarden.lab import plan as lab_plan

UPSTREAM = f"http://{lab_plan.IMDS_V4}"
HEALTH_PORT = 8776  # the agent's /readyz, on 127.0.0.1 in the node namespace


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


def default_agent_argv(
    provider: str, *, pod_cgroup: str | None, reconcile_period: float
) -> list[str]:
    """`podwarden agent` for the lab: pods on `pwv+`, IPv4 and IPv6, health on 127.0.0.1."""
    argv = [
        *podwarden_argv(),
        "agent",
        "--provider",
        provider,
        "--upstream",
        UPSTREAM,
        "--listen",
        f"{lab_plan.NODE_POD_SIDE_V4}:{lab_plan.PROXY_PORT}",
        "--listen6",
        f"[{lab_plan.NODE_POD_SIDE_V6}]:{lab_plan.PROXY_PORT}",
        "--pod-interface",
        lab_plan.POD_INTERFACE_PATTERN,
        "--reconcile-period",
        str(reconcile_period),
        "--health-listen",
        f"127.0.0.1:{HEALTH_PORT}",
    ]
    return argv + (["--pod-cgroup", pod_cgroup] if pod_cgroup else [])
