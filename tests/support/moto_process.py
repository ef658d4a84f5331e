"""moto's server (this venv's `moto_server`) on a free loopback port, for one test session.

The peer contracts and the identity integration tests each seed it their own way; the
process — start, wait for the port, stop even when the tests fail — is the same, so it
lives here once.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from podwarden.lab.ports import free_port, wait_listening


@contextmanager
def on_loopback(env: Mapping[str, str]) -> Iterator[str]:
    """Run moto_server with `env`; yields its URL and ends the process afterwards."""
    port = free_port()
    server = Path(sys.executable).with_name("moto_server")
    proc = subprocess.Popen(
        [str(server), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=dict(env),
    )
    try:
        wait_listening("127.0.0.1", port, timeout=30)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
