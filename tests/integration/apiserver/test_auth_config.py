"""The lab API server's users, authorizer table and node-label guard (authconfig.py, guard.py)."""

from __future__ import annotations

import requests
import yaml

from podwarden.lab.apiserver.server import ServerThread

AUTH = {
    "users": [
        {"token": "token-node-a", "user": "system:node:node-a", "groups": ["system:nodes"]},
        {"token": "token-alice", "user": "alice", "groups": ["dev"]},
    ],
    "authorizers": [
        {
            "type": "Table",
            "rules": [
                {"groups": ["system:nodes"], "verbs": ["get", "patch"], "resources": ["nodes"]},
                {"users": ["alice"], "verbs": ["list"], "resources": ["pods"], "decision": "deny",
                 "reason": "alice may not list pods"},
            ],
        }
    ],
    "admission": [{"type": "NodeLabels"}],
}  # fmt: skip


def test_tokens_the_table_and_the_node_label_guard(tmp_path):
    auth = tmp_path / "auth.yaml"
    auth.write_text(yaml.safe_dump(AUTH))
    with ServerThread(auth_config=auth) as server:
        for name in ("node-a", "node-b"):
            requests.post(f"{server.url}/api/v1/nodes", json={"metadata": {"name": name}})
        as_node = {"Authorization": "Bearer token-node-a"}
        assert requests.get(f"{server.url}/api/v1/nodes/node-b", headers=as_node).status_code == 200
        secret = requests.get(f"{server.url}/api/v1/namespaces/default/secrets", headers=as_node)
        assert secret.status_code == 403
        assert secret.json()["message"] == (
            'secrets is forbidden: User "system:node:node-a" cannot list resource "secrets" in '
            'API group "" in the namespace "default"'
        )
        denied = requests.get(
            f"{server.url}/api/v1/pods", headers={"Authorization": "Bearer token-alice"}
        )
        assert denied.json()["message"].endswith("at the cluster scope: alice may not list pods")
        assert (
            requests.get(
                f"{server.url}/api/v1/pods", headers={"Authorization": "Bearer nope-nope"}
            ).status_code
            == 401
        )
        assert requests.get(f"{server.url}/api/v1/pods").status_code == 200  # the lab administrator
        patch = {"metadata": {"labels": {"node-restriction.kubernetes.io/x": "1"}}}
        headers = {**as_node, "Content-Type": "application/merge-patch+json"}
        refused = requests.patch(f"{server.url}/api/v1/nodes/node-b", json=patch, headers=headers)
        assert refused.json()["message"] == (
            'nodes "node-b" is forbidden: node "node-a" is not allowed to modify node "node-b"'
        )
        own = requests.patch(f"{server.url}/api/v1/nodes/node-a", json=patch, headers=headers)
        assert own.json()["message"] == (
            'nodes "node-a" is forbidden: is not allowed to modify labels: '
            "node-restriction.kubernetes.io/x"
        )
        fine = requests.patch(
            f"{server.url}/api/v1/nodes/node-a",
            json={"metadata": {"labels": {"pool": "x"}}},
            headers=headers,
        )
        assert fine.status_code == 200
        impersonated = requests.patch(
            f"{server.url}/api/v1/nodes/node-b?dryRun=All",
            json=patch,
            headers={
                "Content-Type": "application/merge-patch+json",
                "Impersonate-User": "system:node:node-a",
                "Impersonate-Group": "system:nodes",
            },
        )
        assert impersonated.status_code == 403
