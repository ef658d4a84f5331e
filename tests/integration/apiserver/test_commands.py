"""`podwarden lab apiserver` as a process: serves, stops on SIGTERM, keeps its state."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import requests

from podwarden.lab.ports import free_port, wait_listening

PODWARDEN = str(Path(sys.executable).parent / "podwarden")


def test_command_serves_and_saves_state_on_sigterm(tmp_path: Path) -> None:
    port = free_port()
    state = tmp_path / "state.json"
    process = subprocess.Popen(
        [PODWARDEN, "lab", "apiserver", "--listen", f"127.0.0.1:{port}", "--state", str(state)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_listening("127.0.0.1", port, timeout=15)
        url = f"http://127.0.0.1:{port}"
        response = requests.post(
            f"{url}/api/v1/namespaces", json={"metadata": {"name": "kept"}}, timeout=5
        )
        assert response.status_code == 201
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=10)
    assert process.returncode == 0
    saved = json.loads(state.read_text())
    assert saved["kind"] == "PodwardenLabState"
    assert "kept" in {o["metadata"]["name"] for o in saved["objects"] if o["kind"] == "Namespace"}


def test_command_refuses_a_bad_listen_address() -> None:
    result = subprocess.run(
        [PODWARDEN, "lab", "apiserver", "--listen", "nowhere"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert "is not HOST:PORT" in result.stderr
