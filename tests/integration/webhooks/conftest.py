"""A real webhook over TLS on loopback, certificates from `webhook certs`, and a client."""

from __future__ import annotations

import json
import ssl
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml

from podwarden.lab.apiserver.sar_answers import AnswerTable
from podwarden.lab.ports import free_port
from podwarden.webhooks import certs, server, settings

SERVICE, NAMESPACE = "podwarden-webhook", "podwarden"
HOSTNAME = f"{SERVICE}.{NAMESPACE}.svc"
EXAMPLES = Path(__file__).resolve().parents[3] / "examples" / "psp-walkthrough"


@pytest.fixture(scope="session")
def cert_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("certs")
    certs.issue(service=SERVICE, namespace=NAMESPACE, out=out)
    return out


def client_context(ca_file: Path) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(ca_file))


def review(
    obj: dict[str, Any] | None,
    *,
    namespace: str = "default",
    operation: str = "CREATE",
    api_version: str = "admission.k8s.io/v1",
    user: str = "alice",
    groups: tuple[str, ...] = ("system:authenticated",),
    resource: tuple[str, str, str] = ("", "v1", "pods"),
    kind: str = "Pod",
    sub_resource: str = "",
    old: dict[str, Any] | None = None,
    dry_run: bool = False,
) -> dict[str, Any]:
    group, version, plural = resource
    request: dict[str, Any] = {
        "uid": str(uuid.uuid4()),
        "kind": {"group": group, "version": version, "kind": kind},
        "resource": {"group": group, "version": version, "resource": plural},
        "namespace": namespace,
        "name": ((obj or {}).get("metadata") or {}).get("name", ""),
        "operation": operation,
        "userInfo": {"username": user, "groups": list(groups)},
        "object": obj,
        "oldObject": old,
        "dryRun": dry_run,
    }
    if sub_resource:
        request["subResource"] = sub_resource
    return {"apiVersion": api_version, "kind": "AdmissionReview", "request": request}


class Client:
    """POSTs reviews to a running webhook over TLS, trusting only its CA."""

    def __init__(self, running: server.Running, ca_file: Path) -> None:
        self.running = running
        self.port = int(running.url.rsplit(":", 1)[1])
        self._ssl = client_context(ca_file)
        self._session = aiohttp.ClientSession()

    async def post_raw(self, path: str, body: bytes) -> tuple[int, Any]:
        async with self._session.post(
            f"https://127.0.0.1:{self.port}{path}",
            data=body,
            headers={"Content-Type": "application/json"},
            ssl=self._ssl,
            server_hostname=HOSTNAME,
        ) as response:
            text = await response.text()
            try:
                return response.status, json.loads(text)
            except json.JSONDecodeError:
                return response.status, text

    async def post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        status, answer = await self.post_raw(path, json.dumps(body).encode())
        assert status == 200, answer
        assert answer["apiVersion"] == body["apiVersion"]
        assert answer["kind"] == "AdmissionReview"
        assert answer["response"]["uid"] == body["request"]["uid"]
        response: dict[str, Any] = answer["response"]
        return response

    async def get(self, path: str) -> tuple[int, str]:
        async with self._session.get(
            f"https://127.0.0.1:{self.port}{path}", ssl=self._ssl, server_hostname=HOSTNAME
        ) as response:
            return response.status, await response.text()

    async def close(self) -> None:
        await self._session.close()


Starter = Callable[..., Awaitable[Client]]


def write_yaml(path: Path, docs: list[dict[str, Any]]) -> Path:
    path.write_text(yaml.safe_dump_all(docs), encoding="utf-8")
    return path


def namespace(name: str, **labels: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels}}


@pytest.fixture
async def start_webhook(cert_dir: Path, tmp_path: Path) -> AsyncIterator[Starter]:
    """`await start_webhook(cluster=[...], config={...})` → a Client; stopped at teardown."""
    started: list[Client] = []

    async def start(
        *,
        cluster: list[dict[str, Any]] | None = None,
        config: dict[str, Any] | None = None,
        kubeconfig: Path | None = None,
        tls_cert: Path | None = None,
        tls_key: Path | None = None,
    ) -> Client:
        parsed = settings.from_data(config or {}, source="test config", base=EXAMPLES)
        cluster_file = None
        if kubeconfig is None:
            cluster_file = write_yaml(
                tmp_path / f"cluster-{len(started)}.yaml", cluster or [namespace("default")]
            )
        running = await server.start(
            host="127.0.0.1",
            port=free_port(),
            tls_cert=tls_cert or cert_dir / certs.TLS_CERT,
            tls_key=tls_key or cert_dir / certs.TLS_KEY,
            settings=parsed,
            cluster_file=cluster_file,
            kubeconfig=kubeconfig,
            poll_interval=0.05,
            sync_timeout=5.0,
        )
        client = Client(running, cert_dir / certs.CA_CERT)
        started.append(client)
        return client

    yield start
    for client in started:
        await client.close()
        await client.running.stop()


def may_use(
    policy: str,
    *,
    group: str = "policy",
    user: str = "alice",
    groups: tuple[str, ...] = ("system:authenticated",),
    namespace: str = "default",
    allowed: bool = True,
) -> dict[str, Any]:
    """One SubjectAccessReview answer for the lab API server: may `user` (exactly these
    `groups`) `use` `policy` (in RBAC group `group`) in `namespace`?"""
    return {
        "user": user,
        "groups": list(groups),
        "verb": "use",
        "group": group,
        "resource": "podsecuritypolicies",
        "name": policy,
        "namespace": namespace,
        "allowed": allowed,
        "reason": f"test fixture: {user} {'may' if allowed else 'may not'} use {policy}",
    }


def sar_answers(*answers: dict[str, Any]) -> AnswerTable:
    return AnswerTable.from_data(list(answers), source="test answers")


def load_example(name: str) -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load((EXAMPLES / name).read_text())
    return doc
