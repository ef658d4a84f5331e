"""`podwarden proxy` as a process: start-up errors, SIGTERM drain, exit codes."""

from __future__ import annotations

import asyncio
import signal
import sys
from pathlib import Path

import aiohttp

from podwarden.lab.ports import free_port
from podwarden.metadata.model import ProviderName

from .helpers import url

PODWARDEN = str(Path(sys.executable).parent / "podwarden")
FLAVOR = {"Metadata-Flavor": "Google"}


async def run_cli(*args: str, timeout: float = 20) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        PODWARDEN,
        "proxy",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(process.communicate(), timeout)
    return process.returncode or 0, output.decode()


async def test_bad_policy_file_exits_2_naming_the_key_and_reason(tmp_path):
    policy = tmp_path / "policy.yaml"
    policy.write_text("rules:\n  - id: r1\n    path: /latest/meta-data/x\n    action: permit\n")
    code, output = await run_cli(
        "--provider",
        "aws",
        "--upstream",
        "http://127.0.0.1:9",
        "--listen",
        "127.0.0.1:0",
        "--policy",
        str(policy),
    )
    assert code == 2
    assert f"{policy}: rules.0.action:" in output
    assert "'allow', 'deny' or 'conceal'" in output
    assert "Traceback" not in output


async def test_policy_option_for_another_provider_exits_2(tmp_path):
    policy = tmp_path / "policy.yaml"
    policy.write_text("imdsv2: required\n")
    code, output = await run_cli(
        "--provider",
        "gce",
        "--upstream",
        "http://127.0.0.1:9",
        "--listen",
        "127.0.0.1:0",
        "--policy",
        str(policy),
    )
    assert code == 2
    assert "imdsv2: only applies to provider aws, not gce" in output


async def test_bad_flags_exit_2(tmp_path):
    code, output = await run_cli(
        "--provider", "gce", "--upstream", "https://example.invalid/x", "--listen", "127.0.0.1:0"
    )
    assert code == 2
    assert "upstream:" in output and "http://HOST[:PORT]" in output
    code, output = await run_cli(
        "--provider", "gce", "--upstream", "http://127.0.0.1:9", "--listen", "nope"
    )
    assert code == 2
    assert "--listen: 'nope' is not HOST:PORT" in output


async def wait_port(port: int, timeout: float = 15) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            return
        except OSError:
            if asyncio.get_running_loop().time() > deadline:
                raise
            await asyncio.sleep(0.05)


async def test_sigterm_drains_in_flight_requests_then_exits_0(emulator):
    upstream = await emulator(ProviderName.GCE)
    port, metrics_port = free_port(), free_port()
    process = await asyncio.create_subprocess_exec(
        PODWARDEN,
        "proxy",
        "--provider",
        "gce",
        "--upstream",
        upstream,
        "--listen",
        f"127.0.0.1:{port}",
        "--metrics-listen",
        f"127.0.0.1:{metrics_port}",
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        await wait_port(port)
        long_poll = (
            "/computeMetadata/v1/instance/attributes/cluster-name"
            "?wait_for_change=true&timeout_sec=1"
        )
        async with aiohttp.ClientSession() as client:
            async with client.get(url(metrics_port, "/readyz")) as resp:
                assert resp.status == 200

            async def slow() -> tuple[int, str]:
                async with client.get(url(port, long_poll), headers=FLAVOR) as resp:
                    return resp.status, await resp.text()

            task = asyncio.create_task(slow())
            await asyncio.sleep(0.4)
            process.send_signal(signal.SIGTERM)
            await asyncio.sleep(0.2)
            # No new connections once draining has begun.
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", port)
            except OSError:
                pass
            else:
                writer.close()
                raise AssertionError("the proxy still accepts connections while draining")
            assert await task == (200, "emulator-cluster")
        code = await asyncio.wait_for(process.wait(), 10)
        assert code == 0
        logs = (await process.stderr.read()).decode()  # type: ignore[union-attr]
        assert '"event": "draining"' in logs
        assert '"event": "stopped"' in logs
        assert "Traceback" not in logs
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


async def test_connection_limits_from_the_command_line(emulator):
    """`--max-connections-per-client 1`: a second connection from the same address gets 503."""
    upstream = await emulator(ProviderName.GCE)
    port = free_port()
    process = await asyncio.create_subprocess_exec(
        PODWARDEN,
        "proxy",
        "--provider=gce",
        f"--upstream={upstream}",
        f"--listen=127.0.0.1:{port}",
        "--max-connections-per-client=1",
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        for _ in range(100):
            try:
                first = await asyncio.open_connection("127.0.0.1", port)
                break
            except OSError:
                await asyncio.sleep(0.1)
        else:
            raise AssertionError("proxy did not listen")
        second_reader, second_writer = await asyncio.open_connection("127.0.0.1", port)
        second_writer.write(b"GET / HTTP/1.1\r\nHost: x\r\nMetadata-Flavor: Google\r\n\r\n")
        status = await asyncio.wait_for(second_reader.readline(), 5)
        assert status.startswith(b"HTTP/1.1 503"), status
        first[1].close()
        second_writer.close()
    finally:
        process.send_signal(signal.SIGTERM)
        await asyncio.wait_for(process.wait(), 20)


async def _start_aws_proxy(upstream: str, port: int, *extra: str) -> asyncio.subprocess.Process:
    process = await asyncio.create_subprocess_exec(
        PODWARDEN,
        "proxy",
        "--provider",
        "aws",
        "--upstream",
        upstream,
        "--listen",
        f"127.0.0.1:{port}",
        *extra,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    await wait_port(port)
    return process


async def _stop(process: asyncio.subprocess.Process) -> None:
    if process.returncode is None:
        process.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(process.wait(), 10)
        except TimeoutError:
            process.kill()
            await process.wait()


async def _get_with(token: str, port: int, *, source: str = "127.0.0.1") -> int:
    connector = aiohttp.TCPConnector(local_addr=(source, 0), force_close=True)
    async with aiohttp.ClientSession(connector=connector) as fresh:  # a fresh connection each
        headers = {"X-aws-ec2-metadata-token": token}
        async with fresh.get(url(port, "/latest/meta-data/instance-id"), headers=headers) as resp:
            return resp.status


async def test_imdsv2_tokens_survive_a_restart_with_the_key_file(emulator, tmp_path):
    """Issue 9, finding 5: tokens checked without per-process state (one key file per node)."""
    upstream = await emulator(ProviderName.AWS)
    key_file = tmp_path / "token.key"
    port = free_port()
    process = await _start_aws_proxy(upstream, port, "--token-key-file", str(key_file))
    try:
        async with aiohttp.ClientSession() as client:
            ttl = {"X-aws-ec2-metadata-token-ttl-seconds": "600"}
            async with client.put(url(port, "/latest/api/token"), headers=ttl) as resp:
                assert resp.status == 200
                token = await resp.text()
        statuses = [await _get_with(token, port) for _ in range(40)]
        assert statuses == [200] * 40
        await _stop(process)
        process = await _start_aws_proxy(upstream, port, "--token-key-file", str(key_file))
        assert await _get_with(token, port) == 200
        assert await _get_with(token, port, source="127.0.0.2") == 401  # bound to its client
        assert await _get_with(token[:-4] + "AAAA", port) == 401
    finally:
        await _stop(process)
    assert oct(key_file.stat().st_mode & 0o777) == "0o600"


async def test_the_workers_flag_is_gone():
    code, output = await run_cli(
        "--provider", "gce", "--upstream", "http://127.0.0.1:9", "--listen", "127.0.0.1:0",
        "--workers", "4",
    )  # fmt: skip
    assert code == 2
    assert "No such option '--workers'" in output
