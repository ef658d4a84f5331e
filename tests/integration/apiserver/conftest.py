"""A lab API server in a background thread, and a kubeconfig pointing at it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from podwarden.lab.apiserver.server import ServerThread
from podwarden.testing.kubectl import KUBECONFIG


@pytest.fixture
def lab() -> Iterator[ServerThread]:
    with ServerThread(bookmark_interval=0.2) as server:
        yield server


@pytest.fixture
def kubeconfig(lab: ServerThread, tmp_path: Path) -> Path:
    path = tmp_path / "kubeconfig"
    path.write_text(KUBECONFIG.format(url=lab.url), encoding="utf-8")
    return path


@pytest.fixture
def http(lab: ServerThread) -> Iterator[requests.Session]:
    session = requests.Session()
    session.headers["Content-Type"] = "application/json"
    yield session
    session.close()


def pod_body(
    name: str, *, node: str = "node-a", ip: str | None = None, labels: dict[str, str] | None = None
) -> dict:
    body: dict = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": labels or {}},
        "spec": {"nodeName": node, "containers": [{"name": "c", "image": "busybox:1.36"}]},
    }
    if ip:
        body["status"] = {"phase": "Running", "podIP": ip, "podIPs": [{"ip": ip}]}
    return body
