"""The lab's second node and the identities of its node-authorization scenes, as data.

`lab up` seeds, beside the lab node (A, `lab-node`) and its netns pods, a second node B
(`lab-node-b`) as API objects: its Node, an application pod using a secret, and a pod of
the `log-shipper` DaemonSet on each node (service account `kube-system/log-shipper`,
annotated `podwarden.io/node-scoped: "true"`). Node B has no network namespace: nothing
in the scenes runs on it; it exists so node A has a neighbour whose data it must not
reach.

Identities are static bearer tokens (the API server's token file): the kubelet of each
node (`system:node:<name>` in `system:nodes`) and the log shipper's token bound to node A
(its `extra` carries `authentication.kubernetes.io/node-name`, as a pod-bound token's
does). The lab API server's default authorizer is the careless cluster the issue starts
from: a table that lets every node do anything and the log shipper read every pod and
node (its RBAC); no admission. Putting podwarden in front is the demo's job.
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

import yaml

NODE_A = "lab-node"
NODE_B = "lab-node-b"
NAMESPACE = "default"
SHIPPER = ("kube-system", "log-shipper")
SECRET_A = "app-a-secret"
SECRET_B = "app-b-secret"
AUTH_CONFIG_NAME = "auth.yaml"
NODE_EXTRA = "authentication.kubernetes.io/node-name"


def _pod(name: str, node: str, namespace: str, **spec: Any) -> dict[str, Any]:
    body = {"nodeName": node, "containers": [{"name": "main", "image": "podwarden-lab/api-only"}]}
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace, "labels": {"app": name}},
        "spec": {**body, **spec},
        "status": {"phase": "Running"},
    }


def _secret(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": NAMESPACE},
        "stringData": {"token": f"lab-{name}-value"},
    }


def seed_objects() -> list[dict[str, Any]]:
    """Node B, the application pods and secrets of both nodes, the log shipper."""
    shipper_ns, shipper = SHIPPER
    node_b = {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": NODE_B, "labels": {"kubernetes.io/hostname": NODE_B}},
        "status": {"conditions": [{"type": "Ready", "status": "True"}]},
    }
    shipper_pods = [
        _pod(f"{shipper}-{suffix}", node, shipper_ns, serviceAccountName=shipper)
        for suffix, node in (("a", NODE_A), ("b", NODE_B))
    ]
    for pod in shipper_pods:
        pod["metadata"]["ownerReferences"] = [
            {"apiVersion": "apps/v1", "kind": "DaemonSet", "name": shipper, "uid": "ds-uid",
             "controller": True}
        ]  # fmt: skip
    return [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": shipper_ns}},
        node_b,
        _secret(SECRET_A),
        _secret(SECRET_B),
        _pod(
            "app-a", NODE_A, NAMESPACE, volumes=[{"name": "s", "secret": {"secretName": SECRET_A}}]
        ),
        _pod(
            "app-b", NODE_B, NAMESPACE, volumes=[{"name": "s", "secret": {"secretName": SECRET_B}}]
        ),
        {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": {
                "name": shipper,
                "namespace": shipper_ns,
                "annotations": {"podwarden.io/node-scoped": "true"},
            },
        },
        *shipper_pods,
    ]


def careless_authorizer() -> dict[str, Any]:
    """The lab cluster's own authorization: what a broad RBAC binding for nodes grants."""
    shipper_ns, shipper = SHIPPER
    return {
        "type": "Table",
        "rules": [
            {"groups": ["system:nodes"], "verbs": ["*"], "resources": ["*"], "decision": "allow"},
            {
                "users": [f"system:serviceaccount:{shipper_ns}:{shipper}"],
                "verbs": ["get", "list", "watch"],
                "resources": ["pods", "nodes"],
                "decision": "allow",
            },
        ],
    }


def write_auth_config(path: Path) -> dict[str, str]:
    """Write the users and the careless authorizer; return the tokens by role."""
    tokens = {
        role: f"lab-{role}-{secrets.token_hex(12)}" for role in ("node-a", "node-b", "shipper")
    }
    shipper_ns, shipper = SHIPPER
    users = [
        {"token": tokens["node-a"], "user": f"system:node:{NODE_A}",
         "groups": ["system:nodes", "system:authenticated"]},
        {"token": tokens["node-b"], "user": f"system:node:{NODE_B}",
         "groups": ["system:nodes", "system:authenticated"]},
        {"token": tokens["shipper"], "user": f"system:serviceaccount:{shipper_ns}:{shipper}",
         "groups": ["system:serviceaccounts", f"system:serviceaccounts:{shipper_ns}",
                    "system:authenticated"],
         "extra": {NODE_EXTRA: [NODE_A]}},
    ]  # fmt: skip
    write(path, {"users": users, "authorizers": [careless_authorizer()]})
    return tokens


def write(path: Path, config: dict[str, Any]) -> None:
    """Replace the auth config atomically (the API server re-reads it on change)."""
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(yaml.safe_dump(config, sort_keys=False))
    temporary.chmod(0o600)
    temporary.replace(path)


def read(path: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(path.read_text())
    return loaded


def token(path: Path, user: str) -> str:
    """The token of `user` in the auth config."""
    return str(next(u["token"] for u in read(path)["users"] if u["user"] == user))
