"""Loopback fixtures: the emulator as upstream, an optional counting relay, the proxy."""

from __future__ import annotations

import collections
import io
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from multidict import CIMultiDict

from podwarden import logs
from podwarden.lab.cloud import server as cloud_server
from podwarden.metadata import proxy
from podwarden.metadata.model import ProviderName
from podwarden.metadata.settings import ProxySettings


class CountingRelay:
    """A transparent loopback relay in front of the emulator that counts what reaches it.

    It lets a test see, from the upstream's side, which requests the proxy sent
    and with which headers (e.g. that a cached answer did not go upstream).
    """

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.seen: list[tuple[str, str, CIMultiDict[str]]] = []
        self.runner: web.ServerRunner | None = None
        self.session: aiohttp.ClientSession | None = None
        self.port = 0

    def count(self, path: str) -> int:
        return sum(1 for _, target, _ in self.seen if target == path)

    async def _handle(self, request: web.BaseRequest) -> web.Response:
        headers = CIMultiDict((k, v) for k, v in request.headers.items() if k.lower() != "host")
        self.seen.append((request.method, request.raw_path, headers))
        assert self.session is not None
        async with self.session.request(
            request.method,
            self.upstream + request.raw_path,
            headers=headers,
            data=await request.read(),
            allow_redirects=False,
        ) as response:
            body = await response.read()
            kept = {
                k: v
                for k, v in response.headers.items()
                if k.lower()
                not in ("content-length", "transfer-encoding", "connection", "date", "server")
            }
            return web.Response(status=response.status, body=body, headers=kept)

    async def start(self) -> str:
        self.session = aiohttp.ClientSession(auto_decompress=False)
        self.runner = web.ServerRunner(web.Server(self._handle), access_log=None)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        self.port = int(self.runner.addresses[0][1])
        return f"http://127.0.0.1:{self.port}"

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()
        if self.session is not None:
            await self.session.close()


StartEmulator = Callable[..., Awaitable[str]]
StartProxy = Callable[..., Awaitable[proxy.RunningProxy]]


@pytest.fixture
async def emulator() -> AsyncIterator[StartEmulator]:
    """start(provider, **options) -> base URL of a fresh emulator on loopback."""
    runners: list[Any] = []

    async def start(provider: ProviderName, **options: Any) -> str:
        runner = await cloud_server.start(provider.value, "127.0.0.1", 0, **options)
        runners.append(runner)
        return f"http://127.0.0.1:{int(runner.addresses[0][1])}"

    yield start
    for runner in runners:
        await runner.cleanup()


@pytest.fixture
async def relay() -> AsyncIterator[Callable[[str], Awaitable[CountingRelay]]]:
    relays: list[CountingRelay] = []

    async def start(upstream: str) -> CountingRelay:
        counting = CountingRelay(upstream)
        await counting.start()
        relays.append(counting)
        return counting

    yield start
    for counting in relays:
        await counting.stop()


@pytest.fixture
async def start_proxy() -> AsyncIterator[StartProxy]:
    """start(provider, upstream, **settings) -> a running proxy on a free loopback port."""
    running: list[proxy.RunningProxy] = []

    async def start(provider: ProviderName, upstream: str, **overrides: Any) -> proxy.RunningProxy:
        identity = overrides.pop("identity", None)
        fw = overrides.pop("fw", None)
        settings = ProxySettings(provider=provider, upstream_url=upstream)
        settings = replace(settings, **overrides)
        instance = await proxy.start(settings, identity=identity, fw=fw)
        running.append(instance)
        return instance

    yield start
    for instance in running:
        await instance.stop(drain_timeout=1.0)


@pytest.fixture
async def client() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(auto_decompress=False) as session:
        yield session


class LogLines:
    """JSON log lines captured from podwarden.logs."""

    def __init__(self) -> None:
        self.stream = io.StringIO()

    def records(self) -> list[dict[str, Any]]:
        logs.flush()  # access lines are batched
        return [json.loads(line) for line in self.stream.getvalue().splitlines() if line]

    def requests(self) -> list[dict[str, Any]]:
        return [r for r in self.records() if r.get("event") == "request"]


@pytest.fixture
def log_lines() -> LogLines:
    captured = LogLines()
    logs.configure(level="info", stream=captured.stream)
    return captured


def counter() -> collections.Counter[str]:
    return collections.Counter()
