"""`podwarden webhook` as a real process."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import ssl
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from podwarden import cli
from podwarden.testing.net import free_port, wait_listening
from podwarden.webhooks import certs
from tests.integration.webhooks.conftest import (
    HOSTNAME,
    load_example,
    namespace,
    review,
    write_yaml,
)

PODWARDEN = str(Path(sys.executable).parent / "podwarden")


def _start(args: list[str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [PODWARDEN, "webhook", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def test_config_errors_name_the_key(cert_dir: Path, tmp_path: Path) -> None:
    config = tmp_path / "webhook.yaml"
    config.write_text("mode: psp\npsp: {policies: [nowhere.yaml]}\n")
    cluster = write_yaml(tmp_path / "cluster.yaml", [namespace("default")])
    runner = CliRunner()
    done = runner.invoke(
        cli.main,
        ["webhook", "--listen", "127.0.0.1:1", "--tls-cert", str(cert_dir / "tls.crt"),
         "--tls-key", str(cert_dir / "tls.key"), "--cluster-file", str(cluster),
         "--config", str(config)],
    )  # fmt: skip
    assert done.exit_code == 1
    assert f"{config}: psp.policies[0]: " in done.output
    assert "nowhere.yaml: cannot read" in done.output
    missing = runner.invoke(cli.main, ["webhook", "--listen", "127.0.0.1:1"])
    assert missing.exit_code == 2
    assert "missing --tls-cert, --tls-key" in missing.output


def test_the_command_serves_reviews_over_tls(cert_dir: Path, tmp_path: Path) -> None:
    labels = {"pod-security.kubernetes.io/enforce": "baseline"}
    cluster = write_yaml(tmp_path / "cluster.yaml", [namespace("default", **labels)])
    port = free_port()
    process = _start(
        ["--listen", f"127.0.0.1:{port}", "--tls-cert", str(cert_dir / certs.TLS_CERT),
         "--tls-key", str(cert_dir / certs.TLS_KEY), "--cluster-file", str(cluster)]
    )  # fmt: skip
    try:
        wait_listening("127.0.0.1", port, timeout=20)
        context = ssl.create_default_context(cafile=str(cert_dir / certs.CA_CERT))
        context.check_hostname = False  # the name is checked by the other tests; here: the CA
        body = review(load_example("pod-privileged.yaml"))
        request = urllib.request.Request(
            f"https://127.0.0.1:{port}/validate",
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json", "Host": HOSTNAME},
        )
        with urllib.request.urlopen(request, context=context, timeout=10) as response:
            answer = json.loads(response.read())["response"]
        assert answer["allowed"] is False
        assert answer["status"]["message"].startswith('violates PodSecurity "baseline:latest"')
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            _, stderr = process.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            _, stderr = process.communicate(timeout=15)
    assert process.returncode == 0, stderr[-2000:]
    assert '"event": "admission"' in stderr  # the refusal was recorded


def _children(pid: int) -> list[int]:
    text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    return [int(child) for child in text.split()]


def _listening_pids(port: int) -> set[int]:
    done = subprocess.run(
        ["ss", "-ltnpH", f"sport = :{port}"], capture_output=True, text=True, check=True
    )
    return {int(pid) for pid in re.findall(r"pid=(\d+)", done.stdout)}


def _ask(port: int, ca_file: Path) -> dict[str, Any]:
    context = ssl.create_default_context(cafile=str(ca_file))
    context.check_hostname = False  # the CA is what matters here
    request = urllib.request.Request(
        f"https://127.0.0.1:{port}/validate",
        data=json.dumps(review(load_example("pod-privileged.yaml"))).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, context=context, timeout=10) as response:
        answer: dict[str, Any] = json.loads(response.read())["response"]
    return answer


def _gone(pid: int, *, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while Path(f"/proc/{pid}").exists() and _state(pid) != "Z":  # a zombie has exited
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)
    return True


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return "Z"


@pytest.mark.parametrize("ending", ["sigterm", "sigkill"])
def test_workers_share_the_port_and_never_outlive_the_first(
    cert_dir: Path, tmp_path: Path, ending: str
) -> None:
    labels = {"pod-security.kubernetes.io/enforce": "baseline"}
    cluster = write_yaml(tmp_path / "cluster.yaml", [namespace("default", **labels)])
    port = free_port()
    process = _start(
        ["--listen", f"127.0.0.1:{port}", "--tls-cert", str(cert_dir / certs.TLS_CERT),
         "--tls-key", str(cert_dir / certs.TLS_KEY), "--cluster-file", str(cluster),
         "--workers", "3"]
    )  # fmt: skip
    children: list[int] = []
    try:
        wait_listening("127.0.0.1", port, timeout=20)
        deadline = time.monotonic() + 30
        while len(_listening_pids(port)) < 3 and time.monotonic() < deadline:
            time.sleep(0.1)
        children = _children(process.pid)
        assert len(children) == 2
        assert _listening_pids(port) == {process.pid, *children}  # one port, three processes
        for _ in range(6):  # a fresh connection each: whichever process the kernel picks
            assert _ask(port, cert_dir / certs.CA_CERT)["allowed"] is False
        process.send_signal(signal.SIGTERM if ending == "sigterm" else signal.SIGKILL)
        process.communicate(timeout=15)
        for child in children:
            assert _gone(child, timeout=15), f"worker {child} outlived the first process"
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate(timeout=15)
        for child in children:
            if not _gone(child, timeout=0):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(child, signal.SIGKILL)


def test_workers_must_be_positive() -> None:
    done = CliRunner().invoke(cli.main, ["webhook", "--workers", "0"])
    assert done.exit_code == 2
    assert "--workers" in done.output
