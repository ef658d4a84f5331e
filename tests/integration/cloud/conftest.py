"""Start emulator apps on loopback free ports; every test talks to 127.0.0.1 only."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from podwarden.lab.cloud import server
from podwarden.lab.ports import free_port

StartEmulator = Callable[..., Awaitable[str]]


@pytest.fixture
async def emulator() -> AsyncIterator[StartEmulator]:
    """`await emulator("aws", imdsv2_required=True)` → base URL; stopped after the test."""
    runners: list[web.AppRunner] = []

    async def start(provider: str, **opts: Any) -> str:
        port = free_port()
        runners.append(await server.start(provider, "127.0.0.1", port, **opts))
        return f"http://127.0.0.1:{port}"

    yield start
    for runner in runners:
        await runner.cleanup()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    """A plain client that sends exactly the headers a test gives it."""
    async with aiohttp.ClientSession(
        timeout=aiohttp.ClientTimeout(total=10), skip_auto_headers=("User-Agent",)
    ) as session:
        yield session
