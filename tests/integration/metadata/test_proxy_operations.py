"""Operating the proxy: upstream failures, metrics and health, log lines, request limits."""

from __future__ import annotations

import asyncio

from podwarden.lab.ports import free_port
from podwarden.metadata.model import ProviderName

from .helpers import url

FLAVOR = {"Metadata-Flavor": "Google"}
ID = "/computeMetadata/v1/instance/id"


async def test_upstream_down_is_a_502_with_a_clear_text(start_proxy, client):
    running = await start_proxy(ProviderName.GCE, f"http://127.0.0.1:{free_port()}")
    async with client.get(url(running.port, ID), headers=FLAVOR) as resp:
        body = await resp.text()
        assert resp.status == 502
        assert resp.headers["Content-Type"].startswith("text/plain")
        assert resp.headers["Metadata-Flavor"] == "Google"
    assert body == "Bad gateway: the metadata service is unreachable (connect)\n"
    assert "Traceback" not in body


async def test_upstream_that_never_answers_is_a_502_after_the_timeout(start_proxy, client):
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(65536)
        await asyncio.sleep(5)
        writer.close()

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        running = await start_proxy(
            ProviderName.GCE, f"http://127.0.0.1:{port}", upstream_timeout=0.3
        )
        async with client.get(url(running.port, ID), headers=FLAVOR) as resp:
            assert resp.status == 502
            assert await resp.text() == (
                "Bad gateway: the metadata service did not answer in time\n"
            )
    finally:
        server.close()


async def test_metrics_health_and_readiness(emulator, start_proxy, client):
    running = await start_proxy(
        ProviderName.GCE, await emulator(ProviderName.GCE), metrics_host="127.0.0.1"
    )
    for _ in range(3):
        async with client.get(url(running.port, ID), headers=FLAVOR) as resp:
            assert resp.status == 200
    async with client.get(
        url(running.port, "/computeMetadata/v1/instance/attributes/kube-env"), headers=FLAVOR
    ) as resp:
        assert resp.status == 403
    metrics = url(running.metrics_port, "/metrics")
    async with client.get(metrics) as resp:
        text = await resp.text()
    assert (
        'podwarden_requests_total{decision="allow",provider="gce",rule="gce.instance-id"} 3.0'
        in text
    )
    assert (
        'podwarden_requests_total{decision="deny",provider="gce",rule="gce.concealed-attribute"}'
        " 1.0" in text
    )
    assert 'podwarden_cache_hits_total{provider="gce"} 2.0' in text
    assert 'podwarden_cache_misses_total{provider="gce"} 1.0' in text
    assert 'podwarden_request_duration_seconds_count{provider="gce"} 4.0' in text
    # process-wide metrics (pod identity, the cluster view, the process) in the same scrape
    assert "process_resident_memory_bytes" in text or "python_gc_objects_collected_total" in text
    for path, expected in (("/healthz", 200), ("/readyz", 200)):
        async with client.get(url(running.metrics_port, path)) as resp:
            assert resp.status == expected
    running.draining = True  # what stop() sets first
    async with client.get(url(running.metrics_port, "/readyz")) as resp:
        assert resp.status == 503


async def test_upstream_errors_are_counted(start_proxy, client):
    running = await start_proxy(
        ProviderName.GCE, f"http://127.0.0.1:{free_port()}", metrics_host="127.0.0.1"
    )
    async with client.get(url(running.port, ID), headers=FLAVOR) as resp:
        assert resp.status == 502
    async with client.get(url(running.metrics_port, "/metrics")) as resp:
        text = await resp.text()
    assert 'podwarden_upstream_errors_total{kind="connect",provider="gce"} 1.0' in text


async def test_one_json_log_line_per_request(emulator, start_proxy, client, log_lines):
    running = await start_proxy(ProviderName.GCE, await emulator(ProviderName.GCE))
    async with client.get(url(running.port, ID), headers=FLAVOR) as resp:
        assert resp.status == 200
    async with client.get(
        url(running.port, "/computeMetadata/v1/instance/service-accounts/default/token"),
        headers=FLAVOR,
    ) as resp:
        assert resp.status == 403
    allowed, denied = log_lines.requests()
    assert allowed["client"] == "127.0.0.1"
    assert allowed["method"] == "GET"
    assert allowed["path"] == ID
    assert (allowed["decision"], allowed["rule"], allowed["status"]) == (
        "allow",
        "gce.instance-id",
        200,
    )
    assert isinstance(allowed["latency_ms"], float)
    assert (denied["decision"], denied["rule"], denied["status"]) == ("deny", "gce.token", 403)
    assert denied["path"] == "/computeMetadata/v1/instance/service-accounts/default/token"
    assert len(log_lines.requests()) == 2


async def test_oversized_body_is_refused(emulator, start_proxy, client):
    running = await start_proxy(
        ProviderName.AWS, await emulator(ProviderName.AWS), max_body_bytes=1024
    )
    async with client.put(
        url(running.port, "/latest/api/token"),
        headers={"X-aws-ec2-metadata-token-ttl-seconds": "60"},
        data=b"x" * 4096,
    ) as resp:
        assert resp.status == 413


async def test_a_get_with_a_body_is_refused(emulator, start_proxy, client):
    running = await start_proxy(ProviderName.GCE, await emulator(ProviderName.GCE))
    async with client.get(url(running.port, ID), headers=FLAVOR, data=b"hello") as resp:
        assert resp.status == 400


async def test_stop_drains_in_flight_requests(emulator, start_proxy, client):
    # A GCE long poll holds the request upstream; stop() must wait for it.
    running = await start_proxy(ProviderName.GCE, await emulator(ProviderName.GCE))
    path = "/computeMetadata/v1/instance/attributes/cluster-name?wait_for_change=true&timeout_sec=1"

    async def slow() -> tuple[int, str]:
        async with client.get(url(running.port, path), headers=FLAVOR) as resp:
            return resp.status, await resp.text()

    task = asyncio.create_task(slow())
    await asyncio.sleep(0.3)
    assert running.inflight == 1
    await running.stop(drain_timeout=5)
    assert await task == (200, "emulator-cluster")


async def test_oversized_chunked_body_is_refused(emulator, start_proxy, client):
    running = await start_proxy(
        ProviderName.AWS, await emulator(ProviderName.AWS), max_body_bytes=1024
    )

    async def chunks():
        for _ in range(8):
            yield b"y" * 512

    async with client.put(
        url(running.port, "/latest/api/token"),
        headers={"X-aws-ec2-metadata-token-ttl-seconds": "60"},
        data=chunks(),
    ) as resp:
        assert resp.status == 413


async def test_drain_is_bounded(emulator, start_proxy, client):
    running = await start_proxy(ProviderName.GCE, await emulator(ProviderName.GCE))
    path = "/computeMetadata/v1/instance/attributes/cluster-name?wait_for_change=true&timeout_sec=3"

    async def slow() -> int:
        async with client.get(url(running.port, path), headers=FLAVOR) as resp:
            await resp.read()
            return resp.status

    task = asyncio.create_task(slow())
    await asyncio.sleep(0.3)
    started = asyncio.get_running_loop().time()
    await running.stop(drain_timeout=0.3)
    assert asyncio.get_running_loop().time() - started < 2.0
    outcome = await asyncio.gather(task, return_exceptions=True)
    assert outcome[0] != 200  # cut off, not answered
