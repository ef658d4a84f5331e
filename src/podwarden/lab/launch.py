"""The command lines of the lab's long-lived processes: emulator, API server, proxy, agent.

Pure (no I/O but finding this podwarden's own script), so a test can read
exactly what the lab runs.
"""

from __future__ import annotations

import sys
from pathlib import Path

from podwarden.api import metadata_addresses
from podwarden.lab import cluster, moto
from podwarden.lab import plan as lab_plan

UPSTREAM = f"http://{metadata_addresses.IMDS_V4}"
HEALTH_PORT = 8776  # the agent's /readyz, on 127.0.0.1 in the node namespace
# Where identity's cloud APIs point when the lab has none: a closed port on the
# cloud host, so a role that cannot be assumed is refused at once and no request
# ever leaves the lab's namespaces (the real STS or IAM Credentials endpoints).
UNREACHABLE = f"http://{lab_plan.CLOUD_V4}:9"


def podwarden_argv() -> list[str]:
    """How to run this podwarden (the venv's script when present) as a subprocess."""
    script = Path(sys.executable).with_name("podwarden")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "from podwarden.cli import main; main()"]


def default_cloud_argv() -> list[str]:
    """The emulator: every cloud on the IMDS address, each other host on its own."""
    listens = [
        f"all={metadata_addresses.IMDS_V4}:80",
        f"all=[{metadata_addresses.IMDS_V6}]:80",
        f"ecs={metadata_addresses.ECS_V4}:80",
        f"eks-pod-identity={metadata_addresses.EKS_POD_IDENTITY_V4}:80",
        f"eks-pod-identity=[{metadata_addresses.EKS_POD_IDENTITY_V6}]:80",
        f"alibaba={metadata_addresses.ALIBABA_V4}:80",
        f"wireserver={metadata_addresses.WIRESERVER_V4}:80",
        f"hostgaplugin={metadata_addresses.WIRESERVER_V4}:{metadata_addresses.HOSTGAPLUGIN_PORT}",
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


def apiserver_argv(state_file: Path, auth_config: Path | None = None) -> list[str]:
    """The lab API server on the node's pod-side address, its objects kept in `state_file`,
    its users and authorizers in `auth_config` (nodes.py)."""
    listen = f"{lab_plan.NODE_POD_SIDE_V4}:{cluster.APISERVER_PORT}"
    argv = [*podwarden_argv(), "lab", "apiserver", "--listen", listen, "--state", str(state_file)]
    return [*argv, "--auth-config", str(auth_config)] if auth_config is not None else argv


def identity_flags(provider: str, *, kubeconfig: Path, sts: str) -> list[str]:
    """The identity flags of the lab's agent (or proxies) for `provider`.

    Pods are followed on the lab node through the lab API server. AWS roles
    are assumed in moto when `sts == "moto"`, else at UNREACHABLE (so they are
    refused with IMDS's error shape); GCP service accounts are minted at
    UNREACHABLE; Azure needs nothing (token requests go to the emulator).
    """
    flags = ["--kubeconfig", str(kubeconfig), "--node", cluster.NODE_NAME]
    if provider == "aws":
        endpoint = moto.URL if sts == "moto" else UNREACHABLE
        flags += ["--base-role-arn", moto.BASE_ROLE_ARN, "--sts-endpoint", endpoint]
    elif provider == "gce":
        flags += ["--gcp-iam-endpoint", UNREACHABLE]
    return flags
