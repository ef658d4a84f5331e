"""More `podwarden webhook` processes on the same port (SO_REUSEPORT), as the proxy does.

One Python process serves on one core, and a burst queued behind one slow request
is the tail the API server sees. With `--workers N` the first process listens with
SO_REUSEPORT and starts N-1 children, each a complete webhook (its own cluster
view, certificate follower and policies) started with the same flags; the kernel
spreads new connections over them. A child watches its stdin, a pipe from the
first process, and stops when it closes, so it never outlives the first process;
stopping reuses the proxy's `metadata.workers.stop` (SIGTERM, then kill).
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Sequence

from podwarden.metadata import workers as proxy_workers

CHILD_FLAG = "--worker-child"
"""Hidden flag marking a child: listen with SO_REUSEPORT, stop when the parent's pipe closes."""


def spawn(argv: Sequence[str], *, count: int) -> list[subprocess.Popen[bytes]]:
    """Start `count` children running `podwarden webhook <argv> --worker-child`."""
    children = []
    for _ in range(count):
        process = subprocess.Popen(
            [sys.executable, "-m", "podwarden", "webhook", *argv, CHILD_FLAG],
            stdin=subprocess.PIPE,
        )
        children.append(process)  # stdin stays open: its end is the child's signal to stop
    return children


async def stop(children: list[subprocess.Popen[bytes]], *, timeout: float = 5.0) -> None:
    """Drain every child (SIGTERM), kill what outlives `timeout`, close their pipes."""
    await proxy_workers.stop(children, timeout=timeout)


def watch_parent(stopping: asyncio.Event) -> None:
    """Set `stopping` when the first process's pipe closes (shared with the proxy's workers)."""
    proxy_workers.watch_parent(stopping)
