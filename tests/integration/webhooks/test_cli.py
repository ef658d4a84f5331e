"""`podwarden webhook` as a real process."""

from __future__ import annotations

import json
import signal
import ssl
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from podwarden import cli
from podwarden.lab.ports import free_port, wait_listening
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
    assert done.exit_code == 2  # a configuration error, as for every command
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


def test_the_webhook_serves_from_one_process(cert_dir: Path, tmp_path: Path) -> None:
    """No `--workers` (issue 9/11): the webhook scales by Deployment replicas."""
    labels = {"pod-security.kubernetes.io/enforce": "baseline"}
    cluster = write_yaml(tmp_path / "cluster.yaml", [namespace("default", **labels)])
    port = free_port()
    process = _start(
        ["--listen", f"127.0.0.1:{port}", "--tls-cert", str(cert_dir / certs.TLS_CERT),
         "--tls-key", str(cert_dir / certs.TLS_KEY), "--cluster-file", str(cluster)]
    )  # fmt: skip
    try:
        wait_listening("127.0.0.1", port, timeout=20)
        assert _ask(port, cert_dir / certs.CA_CERT)["allowed"] is False
        assert _children(process.pid) == []
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=15)
        assert process.returncode == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate(timeout=15)


def test_the_workers_flag_is_gone() -> None:
    done = CliRunner().invoke(cli.main, ["webhook", "--workers", "2"])
    assert done.exit_code == 2
    assert "No such option '--workers'" in done.output
