"""The batched access log (logs.AccessLog): same fields as structlog, written in batches."""

from __future__ import annotations

import asyncio
import io
import json
import re

from podwarden import logs
from podwarden.metadata.model import ProviderName

from .helpers import url

FLAVOR = {"Metadata-Flavor": "Google"}
ID = "/computeMetadata/v1/instance/id"
TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")


async def test_lines_reach_the_stream_on_their_own_after_a_short_delay(
    emulator, start_proxy, client
):
    stream = io.StringIO()
    logs.configure(level="info", stream=stream)
    running = await start_proxy(ProviderName.GCE, await emulator(ProviderName.GCE))
    for _ in range(3):
        async with client.get(url(running.port, ID), headers=FLAVOR) as resp:
            assert resp.status == 200
    await asyncio.sleep(0.3)  # no explicit flush: the timer writes the batch
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    requests = [line for line in lines if line["event"] == "request"]
    assert [r["cache"] for r in requests] == ["miss", "hit", "hit"]
    first = requests[0]
    assert set(first) == {
        "client",
        "method",
        "path",
        "decision",
        "rule",
        "status",
        "cache",
        "latency_ms",
        "event",
        "component",
        "level",
        "timestamp",
    }
    assert (first["component"], first["level"]) == ("metadata.proxy", "info")
    assert TIMESTAMP.match(first["timestamp"]), first["timestamp"]


async def test_a_hostile_path_is_escaped_and_truncated(emulator, start_proxy, client):
    stream = io.StringIO()
    logs.configure(level="info", stream=stream)
    running = await start_proxy(ProviderName.GCE, await emulator(ProviderName.GCE))
    target = '/computeMetadata/v1/instance/"quoted"\\%0A' + "x" * 600
    async with client.get(url(running.port, target), headers=FLAVOR) as resp:
        assert resp.status in (400, 403, 404)
    logs.flush()
    (line,) = [json.loads(x) for x in stream.getvalue().splitlines()]
    assert line["path"].startswith('/computeMetadata/v1/instance/"quoted"\\')
    assert line["path"].endswith("...") and len(line["path"]) == 515


async def test_warning_level_writes_no_access_lines(emulator, start_proxy, client):
    stream = io.StringIO()
    logs.configure(level="warning", stream=stream)
    try:
        running = await start_proxy(ProviderName.GCE, await emulator(ProviderName.GCE))
        async with client.get(url(running.port, ID), headers=FLAVOR) as resp:
            assert resp.status == 200
        logs.flush()
        assert stream.getvalue() == ""
    finally:
        logs.configure(level="info")


async def test_a_full_batch_is_written_at_once_and_stop_flushes_the_rest():
    stream = io.StringIO()
    logs.configure(level="info", stream=stream)
    access = logs.AccessLog("test", max_bytes=300, max_delay=60)
    access.write('"n": 1')
    assert stream.getvalue() == ""  # batched
    for n in range(2, 5):
        access.write(f'"n": {n}')
    assert len(stream.getvalue().splitlines()) >= 2  # the size threshold flushed
    access.flush()
    assert [json.loads(x)["n"] for x in stream.getvalue().splitlines()] == [1, 2, 3, 4]


def test_outside_an_event_loop_lines_are_written_at_once():
    stream = io.StringIO()
    logs.configure(level="info", stream=stream)
    logs.AccessLog("test").write('"n": 1')
    assert json.loads(stream.getvalue())["component"] == "test"
