"""The files a lab keeps beside its state file: API server objects, kubeconfig, node keys.

All live in the lab's state directory (tmpfs /run/podwarden-lab by default,
root only): `up` writes them, `down` removes them, so a new lab never starts
from an old lab's objects or keys. Logs stay for post-mortems.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from podwarden.lab import cluster, moto, nodes
from podwarden.lab.plan import Plan


def kubeconfig_path(state_dir: Path) -> Path:
    """Where the lab's kubeconfig is written."""
    return state_dir / cluster.KUBECONFIG_NAME


def apiserver_state_path(state_dir: Path) -> Path:
    """The lab API server's `--state` file (seed, then its own snapshots)."""
    return state_dir / cluster.APISERVER_STATE_NAME


def node_credentials_path(state_dir: Path) -> Path:
    """The node's AWS shared-credentials file (present only with moto)."""
    return state_dir / moto.NODE_CREDENTIALS_NAME


def kube_cache_path(state_dir: Path) -> Path:
    """kubectl's discovery and HTTP cache for this lab (not the user's ~/.kube/cache)."""
    return state_dir / "kube-cache"


def auth_config_path(state_dir: Path) -> Path:
    """The lab API server's `--auth-config` (tokens, authorizers, admission: nodes.py)."""
    return state_dir / nodes.AUTH_CONFIG_NAME


def nodeauth_path(state_dir: Path) -> Path:
    """Where the demo's node-authorization act keeps podwarden's certificates."""
    return state_dir / "nodeauth"


def write_cluster(plan: Plan, *, state_dir: Path) -> Path:
    """Write the API server's seed objects, its auth config and the kubeconfig; return the
    kubeconfig path."""
    state_dir.mkdir(parents=True, exist_ok=True)
    nodes.write_auth_config(auth_config_path(state_dir))
    apiserver_state_path(state_dir).write_text(json.dumps(cluster.seed_objects(plan), indent=1))
    config = kubeconfig_path(state_dir)
    config.write_text(cluster.kubeconfig_text())
    return config


def node_aws_env(state_dir: Path) -> dict[str, str | None]:
    """The environment of the lab's agent/proxy for AWS (None removes a variable).

    The standard chain then finds the lab's own keys (moto's node user) or,
    without them, the emulated instance role: never the keys, profile, web
    identity or container credentials of whoever ran `lab up` (every AWS_*
    variable of this process is removed).
    """
    env: dict[str, str | None] = {key: None for key in os.environ if key.startswith("AWS_")}
    env["AWS_SHARED_CREDENTIALS_FILE"] = str(node_credentials_path(state_dir))
    env["AWS_CONFIG_FILE"] = str(state_dir / "aws-config-none")  # never created
    return env


def remove(state_dir: Path) -> None:
    """Remove every file above and the kubectl cache (no error for what does not exist)."""
    for path in (
        kubeconfig_path(state_dir),
        apiserver_state_path(state_dir),
        node_credentials_path(state_dir),
        auth_config_path(state_dir),
    ):
        path.unlink(missing_ok=True)
    shutil.rmtree(kube_cache_path(state_dir), ignore_errors=True)
    shutil.rmtree(nodeauth_path(state_dir), ignore_errors=True)
