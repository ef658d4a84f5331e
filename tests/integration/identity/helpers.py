"""Cluster objects and clients that speak from a chosen loopback address (one per pod)."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiohttp

from podwarden.api import keys

IMDS_CREDS = "/latest/meta-data/iam/security-credentials/"


def namespace(name: str, annotations: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "kind": "Namespace",
        "apiVersion": "v1",
        "metadata": {"name": name, "annotations": annotations or {}},
    }


def permit_all_roles(name: str = "team") -> dict[str, Any]:
    return namespace(name, {keys.AWS_ALLOWED_ROLES: json.dumps(["*"])})


def pod(
    name: str,
    ip: str,
    *,
    ns: str = "team",
    annotations: dict[str, str] | None = None,
    uid: str | None = None,
    phase: str = "Running",
) -> dict[str, Any]:
    return {
        "kind": "Pod",
        "apiVersion": "v1",
        "metadata": {
            "name": name,
            "namespace": ns,
            "uid": uid or str(uuid.uuid4()),
            "annotations": annotations or {},
        },
        "spec": {"nodeName": "node-a", "containers": [{"name": "c", "image": "busybox"}]},
        "status": {"phase": phase, "podIP": ip, "podIPs": [{"ip": ip}]},
    }


@asynccontextmanager
async def client_from(address: str) -> AsyncIterator[aiohttp.ClientSession]:
    """An HTTP client whose connections leave from `address` (a pod on loopback)."""
    connector = aiohttp.TCPConnector(local_addr=(address, 0), force_close=True)
    async with aiohttp.ClientSession(connector=connector, auto_decompress=False) as session:
        yield session


async def get(
    session: aiohttp.ClientSession, url: str, headers: dict[str, str] | None = None
) -> tuple[int, str]:
    async with session.get(url, headers=headers or {}) as response:
        return response.status, await response.text()
