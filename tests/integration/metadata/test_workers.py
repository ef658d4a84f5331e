"""SO_REUSEPORT workers: extra processes serve the same port and stop with the first."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time

import aiohttp
import pytest

from podwarden.config import ConfigError
from podwarden.metadata.model import Action, Decision, ProviderName
from podwarden.testing.net import free_port, wait_listening

from .helpers import url

FLAVOR = {"Metadata-Flavor": "Google"}
ID = "/computeMetadata/v1/instance/id"


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


async def test_workers_share_the_port_and_stop_with_the_proxy(emulator, start_proxy):
    running = await start_proxy(ProviderName.GCE, await emulator(ProviderName.GCE), workers=2)
    (child,) = running.worker_pids
    await asyncio.sleep(1.5)  # the child imports and binds
    statuses = []
    for _ in range(40):  # fresh connections, spread by the kernel over both listeners
        async with (
            aiohttp.ClientSession() as session,
            session.get(url(running.port, ID), headers=FLAVOR) as resp,
        ):
            statuses.append(resp.status)
    assert statuses == [200] * 40
    assert alive(child)
    await running.stop(drain_timeout=2)
    for _ in range(50):
        if not alive(child):
            break
        await asyncio.sleep(0.1)
    assert not alive(child)


async def test_workers_and_identity_handlers_are_refused(emulator, start_proxy):
    async def handler(_request):
        return Decision(action=Action.DENY, rule_id="x", status=403)

    with pytest.raises(ConfigError, match="workers: 2 workers cannot serve pod identity"):
        await start_proxy(
            ProviderName.GCE,
            await emulator(ProviderName.GCE),
            workers=2,
            identity={"gce.token": handler},
        )


def test_workers_must_be_at_least_one():
    from podwarden.metadata.settings import ProxySettings

    with pytest.raises(ConfigError, match="workers: must be >= 1, got 0"):
        ProxySettings(provider=ProviderName.GCE, upstream_url="http://127.0.0.1:1", workers=0)


def test_cli_workers_serve_and_stop_with_the_parent(tmp_path):
    """`podwarden proxy --workers 2`: a child process serves, and SIGTERM ends both."""

    port = free_port()
    argv = [sys.executable, "-m", "podwarden", "proxy", "--provider", "gce"]
    argv += ["--upstream", "http://127.0.0.1:9", "--listen", f"127.0.0.1:{port}"]
    parent = subprocess.Popen([*argv, "--workers", "2"], stderr=subprocess.DEVNULL)
    try:
        wait_listening("127.0.0.1", port)
        children: list[int] = []
        deadline = time.monotonic() + 10
        while not children and time.monotonic() < deadline:
            listed = subprocess.run(
                ["pgrep", "-P", str(parent.pid)], capture_output=True, text=True
            )
            children = [int(pid) for pid in listed.stdout.split()]
            time.sleep(0.1)
        assert len(children) == 1
        parent.send_signal(signal.SIGTERM)
        assert parent.wait(timeout=15) == 0
        deadline = time.monotonic() + 10
        while alive(children[0]) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not alive(children[0])
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait()


def test_cli_refuses_workers_with_pod_identity(tmp_path):

    cluster = tmp_path / "cluster.yaml"
    cluster.write_text("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: default\n")
    argv = [sys.executable, "-m", "podwarden", "proxy", "--provider", "aws", "--workers", "2"]
    argv += ["--upstream", "http://127.0.0.1:9", "--listen", "127.0.0.1:0"]
    got = subprocess.run(
        [*argv, "--cluster-file", str(cluster)], capture_output=True, text=True, timeout=60
    )
    assert got.returncode == 2
    assert "workers: 2 workers cannot serve pod identity" in got.stderr
