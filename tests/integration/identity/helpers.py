"""Cluster objects and clients that speak from a chosen loopback address (one per pod)."""

from __future__ import annotations

import functools
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiohttp

from podwarden.api import keys
from tests.support import pods
from tests.support.pods import namespace

IMDS_CREDS = "/latest/meta-data/iam/security-credentials/"

pod = functools.partial(pods.pod, namespace="team")
"""A pod in the `team` namespace, where these tests put their workloads."""


def permit_all_roles(name: str = "team") -> dict[str, Any]:
    return namespace(name, {keys.AWS_ALLOWED_ROLES: json.dumps(["*"])})


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
