"""The raw-bytes fuzz target against live proxies (fuzz/http1_server.py) runs clean briefly,
and its oracles really catch what they are for: a permissive proxy and a silent server."""

from __future__ import annotations

import asyncio
import subprocess
import sys

import pytest

from podwarden.metadata.model import ProviderName
from tests.conftest import REPO

pytest.importorskip("atheris")


def test_http1_fuzz_target_runs_clean_for_a_few_seconds():
    result = subprocess.run(
        [sys.executable, "-m", "fuzz", "--target", "http1", "--seconds", "4"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    executed = [
        line
        for line in result.stderr.splitlines()
        if line.startswith("stat::number_of_executed_units:")
    ]
    assert executed, result.stderr[-2000:]
    assert int(executed[0].split(":")[-1]) > 200  # it really sent bytes, not just started


def test_a_proxy_that_lets_a_secret_through_is_a_finding(tmp_path):
    from fuzz import http1_server

    permissive = tmp_path / "open.yaml"
    permissive.write_text(
        "mode: replace\nrules:\n  - id: everything\n    path: /**\n    action: allow\n"
    )
    lab = http1_server.Lab(policy_files={ProviderName.GCE: permissive})
    strict = http1_server.Lab()
    try:
        innocent = (
            b"GET /computeMetadata/v1/instance/id HTTP/1.1\r\nMetadata-Flavor: Google\r\n\r\n"
        )
        http1_server.check(ProviderName.GCE, innocent, running=lab)  # nothing secret: no finding
        secret = innocent.replace(b"instance/id", b"instance/attributes/kube-env")
        with pytest.raises(http1_server.Bypass):
            http1_server.check(ProviderName.GCE, secret, running=lab)
        http1_server.check(ProviderName.GCE, secret, running=strict)  # the preset conceals it
    finally:
        lab.close()
        strict.close()


async def test_a_server_that_neither_answers_nor_closes_is_a_finding():
    from fuzz import http1_server

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(10)
        writer.close()

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        with pytest.raises(http1_server.Hang):
            await asyncio.to_thread(http1_server.exchange, port, b"GET / HTTP/1.1\r\n\r\n")
    finally:
        server.close()
