"""`podwarden nodeauth serve` over TLS on loopback, with certificates from `webhook certs`."""

from __future__ import annotations

import json
import ssl
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml

from podwarden.webhooks import authz_server, certs
from podwarden.webhooks.authz_settings import NodeAuthSettings

CLUSTER = """
- {kind: Node, metadata: {name: node-a, uid: uid-node-a}}
- {kind: Node, metadata: {name: node-b, uid: uid-node-b}}
- kind: Pod
  metadata: {name: pod-a, namespace: default, uid: uid-pod-a}
  spec: {nodeName: node-a, serviceAccountName: app,
         volumes: [{name: s, secret: {secretName: secret-a}}]}
- kind: Pod
  metadata: {name: pod-b, namespace: default, uid: uid-pod-b}
  spec: {nodeName: node-b, volumes: [{name: s, secret: {secretName: secret-b}}]}
- kind: ServiceAccount
  metadata: {name: shipper, namespace: kube-system, annotations: {podwarden.io/node-scoped: "true"}}
"""


def write_cluster(path: Path, extra: str = "") -> Path:
    path.write_text(yaml.safe_dump(yaml.safe_load(CLUSTER + extra)))
    return path


@pytest.fixture(scope="session")
def cert_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("nodeauth-certs")
    certs.issue(
        service="podwarden-nodeauth", namespace="podwarden", out=out, ip_addresses=("127.0.0.1",)
    )
    return out


def sar(user: str, verb: str, resource: str, *, name: str = "", namespace: str = "",
        groups: list[str] | None = None, version: str = "v1", fields: str = "",
        extra: dict[str, list[str]] | None = None) -> dict[str, Any]:  # fmt: skip
    attrs: dict[str, Any] = {
        "verb": verb,
        "resource": resource,
        "name": name,
        "namespace": namespace,
    }
    if fields:
        attrs["fieldSelector"] = {"rawSelector": fields}
    spec: dict[str, Any] = {"user": user, "resourceAttributes": attrs}
    group_key = "groups" if version == "v1" else "group"
    spec[group_key] = (
        groups
        if groups is not None
        else (["system:nodes"] if user.startswith("system:node:") else [])
    )
    if extra:
        spec["extra"] = extra
    return {
        "apiVersion": f"authorization.k8s.io/{version}",
        "kind": "SubjectAccessReview",
        "spec": spec,
    }


class Client:
    def __init__(self, running: authz_server.Running, ca_file: Path) -> None:
        self.running = running
        self.base = running.url.replace("[::1]", "127.0.0.1")
        self._ssl = ssl.create_default_context(cafile=str(ca_file))
        self._session = aiohttp.ClientSession()

    async def post(self, path: str, body: Any) -> tuple[int, Any]:
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        headers = {"Content-Type": "application/json"}
        url = f"{self.base}{path}"
        async with self._session.post(url, data=raw, ssl=self._ssl, headers=headers) as response:
            text = await response.text()
            try:
                return response.status, json.loads(text)
            except json.JSONDecodeError:
                return response.status, text

    async def get(self, path: str) -> tuple[int, str]:
        async with self._session.get(f"{self.base}{path}", ssl=self._ssl) as response:
            return response.status, await response.text()

    async def close(self) -> None:
        await self._session.close()


async def serving(
    cert_dir: Path, cluster: Path, **settings: Any
) -> tuple[authz_server.Running, Client]:
    running = await authz_server.start(
        host="127.0.0.1",
        port=0,
        tls_cert=cert_dir / certs.TLS_CERT,
        tls_key=cert_dir / certs.TLS_KEY,
        settings=NodeAuthSettings.model_validate(settings),
        cluster_file=cluster,
        poll_interval=0.1,
    )
    return running, Client(running, cert_dir / certs.CA_CERT)


@pytest.fixture
async def client(cert_dir: Path, tmp_path: Path) -> AsyncIterator[Client]:
    running, the_client = await serving(
        cert_dir, write_cluster(tmp_path / "cluster.yaml"), mode="deny"
    )
    try:
        yield the_client
    finally:
        await the_client.close()
        await running.stop()
