"""Extra proxy processes sharing the listen port (SO_REUSEPORT).

One Python process serves on one core. With `workers: N` the first process
listens with SO_REUSEPORT and starts N-1 more, each a complete proxy with its
own plan memo, cache and upstream pool; the kernel spreads new connections
over them, as it does for nginx's workers. A child reads its settings from its
stdin and stops when that pipe closes, so it never outlives the first process;
SIGTERM or SIGINT drains it like the first one. The metrics listener stays in
the first process (it counts that process's requests only), and a proxy with
pod-identity handlers runs in one process: those handlers hold state that
cannot be copied into a child.

Run as a child: `python -m podwarden.metadata.workers` (the proxy does it).
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

from podwarden import logs
from podwarden.metadata.model import ProviderName
from podwarden.metadata.settings import ProxySettings


def spawn(settings: ProxySettings, *, port: int) -> list[subprocess.Popen[bytes]]:
    """Start `settings.workers - 1` children listening on `port` next to this process."""
    child = dataclasses.replace(
        settings, listen_port=port, workers=1, reuse_port=True, metrics_host=None
    )
    payload = {
        key: (str(value) if isinstance(value, Path | ProviderName) else value)
        for key, value in dataclasses.asdict(child).items()
    }
    payload["provider"] = child.provider.value
    line = json.dumps({"settings": payload, "log_level": _log_level()}).encode() + b"\n"
    children = []
    for _ in range(settings.workers - 1):
        process = subprocess.Popen(
            [sys.executable, "-m", "podwarden.metadata.workers"],
            stdin=subprocess.PIPE,
            start_new_session=False,
        )
        assert process.stdin is not None
        process.stdin.write(line)
        process.stdin.flush()  # the pipe stays open: its end is the child's signal to stop
        children.append(process)
    return children


async def stop(children: list[subprocess.Popen[bytes]], *, timeout: float) -> None:
    """SIGTERM every child (they drain), then wait; kill what outlives `timeout`."""
    for process in children:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while any(p.poll() is None for p in children) and loop.time() < deadline:
        await asyncio.sleep(0.05)
    for process in children:
        if process.poll() is None:
            process.kill()
            process.wait()
        if process.stdin is not None:
            process.stdin.close()


def watch_parent(stopping: asyncio.Event) -> None:
    """Set `stopping` when stdin (the first process's pipe) reaches end of file.

    A worker's stdin is a pipe from the process that started it: its end means that
    process is gone (even by SIGKILL), so the worker never outlives it.
    """
    loop = asyncio.get_running_loop()
    stdin = sys.stdin.fileno()

    def readable() -> None:
        try:
            data = os.read(stdin, 4096)
        except OSError:
            data = b""
        if not data:
            loop.remove_reader(stdin)
            stopping.set()

    loop.add_reader(stdin, readable)


def _log_level() -> str:
    level = logs.current_level()
    return str(logging.getLevelName(level)).lower()


async def _serve(settings: ProxySettings) -> None:
    from podwarden.metadata import proxy  # the child's only import of the server

    running = await proxy.start(settings)
    loop = asyncio.get_running_loop()
    stopping = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stopping.set)
    watch_parent(stopping)
    await stopping.wait()
    await running.stop()


def main() -> None:
    message: dict[str, Any] = json.loads(sys.stdin.buffer.readline())
    raw = message["settings"]
    raw["provider"] = ProviderName(raw["provider"])
    if raw.get("policy_file") is not None:
        raw["policy_file"] = Path(raw["policy_file"])
    logs.configure(level=message["log_level"])
    settings = ProxySettings(**raw)
    try:
        import uvloop
    except ImportError:
        asyncio.run(_serve(settings))
    else:
        uvloop.run(_serve(settings))


if __name__ == "__main__":
    main()
