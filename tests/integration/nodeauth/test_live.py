"""Against the lab API server: `serve --kubeconfig` follows the cluster, and `verify` tells a
cluster whose node access is careless from one where podwarden's webhooks are in force.

The lab API server answers from its fixture-declared table (the "careless RBAC": every
node may do anything) and its own independent node-label guard; podwarden's answers
reach it only when the test puts podwarden's webhooks in its chain, as kube-apiserver's
AuthorizationConfiguration and a ValidatingWebhookConfiguration would.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
import yaml

from podwarden.kube import client
from podwarden.lab import cluster
from podwarden.lab.apiserver.server import ServerThread
from podwarden.webhooks import authz_server, certs, verify
from podwarden.webhooks.authz_settings import NodeAuthSettings

OBJECTS = yaml.safe_load(
    """
- {apiVersion: v1, kind: Namespace, metadata: {name: default}}
- {apiVersion: v1, kind: Node, metadata: {name: node-a}}
- {apiVersion: v1, kind: Node, metadata: {name: node-b}}
- apiVersion: v1
  kind: Pod
  metadata: {name: pod-a, namespace: default}
  spec: {nodeName: node-a, containers: [{name: c, image: x}],
         volumes: [{name: s, secret: {secretName: secret-a}}]}
- apiVersion: v1
  kind: Pod
  metadata: {name: pod-b, namespace: default}
  spec: {nodeName: node-b, containers: [{name: c, image: x}],
         volumes: [{name: s, secret: {secretName: secret-b}}]}
"""
)
CARELESS = {
    "type": "Table",
    "rules": [
        {"groups": ["system:nodes"], "verbs": ["*"], "resources": ["*"], "decision": "allow"}
    ],
}


@pytest.fixture
def lab_api(tmp_path: Path):
    state = tmp_path / "state.yaml"
    state.write_text(yaml.safe_dump_all(OBJECTS))
    auth = tmp_path / "auth.yaml"
    auth.write_text(yaml.safe_dump({"authorizers": [CARELESS]}))
    with ServerThread(state_file=state, auth_config=auth, bookmark_interval=0.5) as server:
        kubeconfig = tmp_path / "kubeconfig"
        kubeconfig.write_text(cluster.kubeconfig_text(server.url))
        yield server, kubeconfig, auth


async def run_verify(kubeconfig: Path) -> list[verify.Check]:
    api = client.from_kubeconfig(kubeconfig)
    try:
        return await verify.run(api, "node-a", other_node="node-b")
    finally:
        await api.close()


def verdicts(checks: list[verify.Check]) -> list[str]:
    return [c.verdict for c in checks]


async def test_verify_finds_the_holes_of_a_careless_cluster(lab_api):
    _, kubeconfig, _ = lab_api
    checks = await run_verify(kubeconfig)
    assert verdicts(checks) == ["exposed", "exposed", "exposed"]
    assert "secret default/secret-b (used by pod default/pod-b on node-b)" in checks[0].name
    assert verify.exit_code(checks) == 1


async def test_verify_sees_the_labs_own_node_label_guard(lab_api):
    _, kubeconfig, auth = lab_api
    auth.write_text(
        yaml.safe_dump({"authorizers": [CARELESS], "admission": [{"type": "NodeLabels"}]})
    )
    checks = await run_verify(kubeconfig)
    assert verdicts(checks) == ["exposed", "protected", "protected"]
    assert checks[2].detail == (
        'nodes "node-b" is forbidden: node "node-a" is not allowed to modify node "node-b"'
    )


def with_podwarden(url: str, ca: Path) -> dict[str, Any]:
    return {
        "authorizers": [
            {
                "type": "Webhook",
                "url": f"{url}/authorize",
                "caFile": str(ca),
                "groups": ["system:nodes"],
            },
            CARELESS,
        ],
        "admission": [
            {
                "type": "Webhook",
                "url": f"{url}/admit",
                "caFile": str(ca),
                "groups": ["system:nodes"],
            }
        ],
    }


async def test_podwarden_in_the_chain_closes_them_and_follows_the_cluster(lab_api, tmp_path):
    server, kubeconfig, auth = lab_api
    cert_dir = tmp_path / "certs"
    certs.issue(
        service="podwarden-nodeauth",
        namespace="podwarden",
        out=cert_dir,
        ip_addresses=("127.0.0.1",),
    )
    running = await authz_server.start(
        host="127.0.0.1",
        port=0,
        tls_cert=cert_dir / certs.TLS_CERT,
        tls_key=cert_dir / certs.TLS_KEY,
        settings=NodeAuthSettings.model_validate({"mode": "deny"}),
        kubeconfig=kubeconfig,
    )
    try:
        await asyncio.wait_for(running.server.view.synced.wait(), 10)
        assert running.server.view.state.graph.pod_on("default", "pod-b", "node-b")
        auth.write_text(yaml.safe_dump(with_podwarden(running.url, cert_dir / certs.CA_CERT)))
        checks = await run_verify(kubeconfig)
        assert verdicts(checks) == ["protected", "protected", "protected"], checks
        assert "no relationship found between node 'node-a'" in checks[0].detail
        assert "node-restriction.kubernetes.io/podwarden-verify" in checks[1].detail
        assert verify.exit_code(checks) == 0
        # a new pod on node-a that uses secret-b: the watch brings it, and the secret opens
        pod = {**OBJECTS[4], "metadata": {"name": "pod-a2", "namespace": "default"}}
        pod["spec"] = {**pod["spec"], "nodeName": "node-a"}
        rtype = server.call(lambda: server.server.storage_type("pods"))
        server.call(lambda: server.server.storage.create(rtype, "default", pod))
        for _ in range(100):
            if running.server.view.state.graph.pod_on("default", "pod-a2", "node-a"):
                break
            await asyncio.sleep(0.05)
        checks = await run_verify(kubeconfig)
        assert checks[0].verdict == "protected"  # verify now picks a secret only node-b uses
        assert "secret-b" not in checks[0].name
    finally:
        await running.stop()
