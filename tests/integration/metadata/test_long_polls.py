"""GCE long-polls (`?wait_for_change=true`) cannot take the node's metadata from other pods.

Issue 9, finding 2: 64 long-polls from one client used up the upstream pool,
every other client then got 502, and closing the attacker's sockets did not
let go of the upstream requests. Clients here leave from distinct loopback
addresses (127.0.0.2 attacks, 127.0.0.3 is the victim), so the proxy sees
different clients, as it sees different pods.
"""

from __future__ import annotations

import asyncio
import socket
import struct
import time
from collections.abc import AsyncIterator

import pytest

from podwarden.lab.cloud import gce
from podwarden.lab.cloud import server as cloud_server
from podwarden.metadata.model import ProviderName

from .test_http1 import read_response

ATTACKER, VICTIM = "127.0.0.2", "127.0.0.3"
V1 = "/computeMetadata/v1"
LONG_POLL = f"{V1}/instance/attributes/cluster-name?wait_for_change=true&timeout_sec=50"
ORDINARY = f"{V1}/instance/attributes/cluster-location"  # uncached: reaches the upstream
SDK_PATIENCE = 1.0  # seconds botocore and google-auth give the metadata service by default


@pytest.fixture
async def upstream() -> AsyncIterator[tuple[str, gce.Metadata]]:
    """The GCE emulator and its handler (whose `waiting` counts held long-polls)."""
    app = cloud_server.build_app("gce")
    runner = await cloud_server.serve(app, [("127.0.0.1", 0)])
    metadata = cloud_server.handler(app, "gce")
    assert isinstance(metadata, gce.Metadata)
    yield f"http://127.0.0.1:{int(runner.addresses[0][1])}", metadata
    await runner.cleanup()


def request(target: str) -> bytes:
    return f"GET {target} HTTP/1.1\r\nHost: metadata\r\nMetadata-Flavor: Google\r\n\r\n".encode()


async def open_from(address: str, port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_connection("127.0.0.1", port, local_addr=(address, 0))


async def long_polls(
    port: int, count: int
) -> list[tuple[asyncio.StreamReader, asyncio.StreamWriter]]:
    opened = [await open_from(ATTACKER, port) for _ in range(count)]
    for _, writer in opened:
        writer.write(request(LONG_POLL))
    return opened


async def refused_at_once(opened, *, within: float) -> list[int]:
    """Statuses of the long-polls answered within `within` seconds (the held ones are not)."""

    async def status(reader: asyncio.StreamReader) -> int | None:
        try:
            return int((await asyncio.wait_for(read_response(reader), within))["status"])
        except TimeoutError:
            return None

    found = await asyncio.gather(*(status(reader) for reader, _ in opened))
    return [s for s in found if s is not None]


async def ordinary(port: int, address: str = VICTIM) -> tuple[int, float]:
    reader, writer = await open_from(address, port)
    started = time.perf_counter()
    writer.write(request(ORDINARY))
    answer = await asyncio.wait_for(read_response(reader), 10)
    writer.close()
    return int(answer["status"]), time.perf_counter() - started


async def wait_until(condition, *, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() >= deadline:
            return False
        await asyncio.sleep(0.02)
    return True


async def test_64_long_polls_from_one_client_never_starve_another(upstream, start_proxy):
    base, metadata = upstream
    running = await start_proxy(ProviderName.GCE, base)
    before = [await ordinary(running.port) for _ in range(5)]
    assert [status for status, _ in before] == [200] * 5
    opened = await long_polls(running.port, 64)
    try:
        answered = asyncio.ensure_future(refused_at_once(opened, within=1.0))
        assert await wait_until(lambda: metadata.waiting >= 4, timeout=2)
        during = [await ordinary(running.port) for _ in range(20)]
        assert [status for status, _ in during] == [200] * 20
        slowest = max(seconds for _, seconds in during)
        assert slowest < SDK_PATIENCE, f"an ordinary request took {slowest:.3f}s"
        # The client's budget (4) is held upstream, the rest was refused at once.
        assert await answered == [429] * 60
        assert metadata.waiting == 4
        # The victim's own long-polls have their own budget.
        reader, writer = await open_from(VICTIM, running.port)
        writer.write(request(LONG_POLL.replace("timeout_sec=50", "timeout_sec=1")))
        assert (await asyncio.wait_for(read_response(reader), 5))["status"] == 200
        writer.close()
    finally:
        for _, writer in opened:
            writer.close()


@pytest.mark.parametrize("ending", ["close", "reset"])
async def test_closing_the_long_poll_clients_lets_go_of_the_upstream_at_once(
    upstream, start_proxy, ending
):
    base, metadata = upstream
    running = await start_proxy(ProviderName.GCE, base)
    opened = await long_polls(running.port, 64)
    await refused_at_once(opened, within=0.5)
    assert await wait_until(lambda: metadata.waiting > 0, timeout=2)
    for _, writer in opened:
        if ending == "reset":  # an RST instead of a FIN: SO_LINGER with a zero timeout
            sock = writer.get_extra_info("socket")
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        writer.close()
    assert await wait_until(lambda: metadata.waiting == 0, timeout=2), (
        f"{metadata.waiting} upstream long-polls still held after their clients left"
    )
    assert running.long_polls_held == 0
    assert (await ordinary(running.port, ATTACKER))[0] == 200


async def test_a_half_closed_ordinary_request_is_still_answered(upstream, start_proxy):
    """Only long-polls end at the client's FIN; other requests keep the half-close contract."""
    base, _ = upstream
    running = await start_proxy(ProviderName.GCE, base)
    reader, writer = await open_from(VICTIM, running.port)
    writer.write(request(ORDINARY))
    writer.write_eof()
    assert (await asyncio.wait_for(read_response(reader), 5))["status"] == 200
    writer.close()


async def test_a_long_poll_sent_with_its_fin_does_not_hold_the_upstream(upstream, start_proxy):
    """`printf 'GET …' | nc -N`: the request and the FIN arrive together."""
    base, metadata = upstream
    running = await start_proxy(ProviderName.GCE, base)
    for _ in range(3):
        reader, writer = await open_from(VICTIM, running.port)
        writer.write(request(LONG_POLL))
        writer.write_eof()
        await asyncio.wait_for(reader.read(), 5)  # closed without an answer: nobody is left
        writer.close()
    assert await wait_until(lambda: metadata.waiting == 0, timeout=2)
    assert running.long_polls_held == 0
