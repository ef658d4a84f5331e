"""A lab API server on the test's own event loop, a kubeconfig for it, and helpers."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from podwarden.kube import client
from podwarden.lab.apiserver.server import LabApiServer
from podwarden.lab.ports import free_port

KUBECONFIG = """\
apiVersion: v1
kind: Config
clusters:
- name: lab
  cluster: {{server: "{url}"}}
users:
- name: lab
  user: {{token: not-checked}}
contexts:
- name: lab
  context: {{cluster: lab, user: lab}}
current-context: lab
"""


class Lab:
    """The server plus shortcuts to write objects the way an API client would."""

    def __init__(self, server: LabApiServer, port: int) -> None:
        self.server = server
        self.port = port

    @property
    def storage(self) -> Any:
        return self.server.storage

    def create_pod(
        self,
        name: str,
        *,
        node: str,
        ip: str | None = None,
        namespace: str = "default",
        annotations: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        body: dict[str, Any] = {
            "metadata": {"name": name, "annotations": annotations or {}},
            "spec": {"nodeName": node, "containers": [{"name": "c", "image": "busybox"}]},
        }
        if ip:
            body["status"] = {"phase": "Running", "podIP": ip, "podIPs": [{"ip": ip}]}
        return self.storage.create(self.server.storage_type("pods"), namespace, body)

    def delete_pod(self, name: str, namespace: str = "default") -> None:
        self.storage.delete(self.server.storage_type("pods"), namespace, name)

    def create_namespace(self, name: str, annotations: dict[str, str] | None = None) -> None:
        self.storage.create(
            self.server.storage_type("namespaces"),
            None,
            {"metadata": {"name": name, "annotations": annotations or {}}},
        )


@pytest.fixture
def port() -> int:
    return free_port()


@pytest.fixture
def kubeconfig(tmp_path: Path, port: int) -> Path:
    path = tmp_path / "kubeconfig"
    path.write_text(KUBECONFIG.format(url=f"http://127.0.0.1:{port}"), encoding="utf-8")
    return path


@pytest.fixture
async def lab(port: int) -> AsyncIterator[Lab]:
    server = LabApiServer(bookmark_interval=60.0)
    await server.start("127.0.0.1", port)
    try:
        yield Lab(server, port)
    finally:
        await server.stop()


@pytest.fixture
async def api(kubeconfig: Path) -> AsyncIterator[client.Api]:
    connection = client.from_kubeconfig(kubeconfig)
    try:
        yield connection
    finally:
        await connection.close()


async def eventually(check: Callable[[], bool], timeout: float = 5.0) -> None:
    """Wait (bounded) until `check()` holds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not check():
        if loop.time() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.02)
