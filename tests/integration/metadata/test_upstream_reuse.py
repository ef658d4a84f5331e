"""The proxy reuses pooled keep-alive connections to the metadata service.

A proxy that opened one upstream connection per request would still answer
correctly, so only the upstream's side can tell: a byte-for-byte TCP relay in
front of the emulator counts the connections it accepted and the HTTP request
lines that crossed it. The paths asked for are allowed but not cached, so every
request really is forwarded.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable

import aiohttp
import pytest

from podwarden.metadata.model import ProviderName

REQUESTS = 20


class ConnectionCountingRelay:
    """A loopback TCP relay to `upstream_port` that counts accepted connections.

    It also counts request lines (`... HTTP/1.1` CRLF) sent towards the
    upstream, to prove that the requests did reach it and were not answered
    from the proxy's cache.
    """

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.connections = 0
        self.request_lines = 0
        self.port = 0
        self._server: asyncio.Server | None = None
        self._pipes: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = int(self._server.sockets[0].getsockname()[1])

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._pipes):
            task.cancel()
        for task in list(self._pipes):
            with contextlib.suppress(asyncio.CancelledError, OSError):
                await task
        if self._server is not None:
            await self._server.wait_closed()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        pipes = {
            asyncio.create_task(self._pipe(reader, up_writer, count_requests=True)),
            asyncio.create_task(self._pipe(up_reader, writer, count_requests=False)),
        }
        self._pipes |= pipes
        try:
            await asyncio.wait(pipes, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in pipes:
                task.cancel()
            self._pipes -= pipes
            for closing in (writer, up_writer):
                closing.close()

    async def _pipe(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *, count_requests: bool
    ) -> None:
        tail = b""
        while chunk := await reader.read(65536):
            if count_requests:
                seen = tail + chunk
                self.request_lines += seen.count(b" HTTP/1.1\r\n")
                tail = seen[-16:].rpartition(b"\n")[2]  # a request line split across reads
            writer.write(chunk)
            await writer.drain()


@pytest.fixture
async def counting_relay(
    emulator,
) -> AsyncIterator[Callable[[ProviderName], Awaitable[ConnectionCountingRelay]]]:
    relays: list[ConnectionCountingRelay] = []

    async def start(provider: ProviderName) -> ConnectionCountingRelay:
        url = await emulator(provider)
        relay = ConnectionCountingRelay(int(url.rsplit(":", 1)[1]))
        await relay.start()
        relays.append(relay)
        return relay

    yield start
    for relay in relays:
        await relay.stop()


@pytest.mark.parametrize(
    ("provider", "target", "headers"),
    [
        (
            ProviderName.GCE,
            "/computeMetadata/v1/instance/description",
            {"Metadata-Flavor": "Google"},
        ),
        (ProviderName.AWS, "/latest/meta-data/local-ipv4", {}),
        (
            ProviderName.AZURE,
            "/metadata/instance/network?api-version=2021-02-01",
            {"Metadata": "true"},
        ),
    ],
    ids=["gce", "aws", "azure"],
)
async def test_sequential_uncached_forwards_share_pooled_connections(
    counting_relay, start_proxy, provider, target, headers
):
    relay = await counting_relay(provider)
    running = await start_proxy(provider, f"http://127.0.0.1:{relay.port}")
    # A fresh client connection per request: reuse must come from the proxy's pool,
    # not from a client that happens to keep one connection open.
    for _ in range(REQUESTS):
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"http://127.0.0.1:{running.port}{target}", headers=headers) as response,
        ):
            assert response.status == 200, await response.text()
    # AWS adds the proxy's own IMDSv2 token PUT, on the same pooled connection.
    assert relay.request_lines >= REQUESTS, "requests were answered without the upstream"
    assert 1 <= relay.connections <= 2, (
        f"{relay.connections} upstream connections for {relay.request_lines} requests"
    )
