"""The kube2iam walkthrough on loopback, every part real and unchanged.

The lab API server, `podwarden proxy` (as a process, with its identity
flags), moto (IAM/STS/S3 enforcing policies), kubectl for the annotations and
awscli as the pod (whose address, 127.0.0.1, is the pod's IP).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from podwarden.lab.apiserver.server import ServerThread
from podwarden.lab.ports import free_port, wait_listening

from .conftest import BUCKET, Moto, pod_env
from .helpers import namespace, pod

pytestmark = pytest.mark.peers("kubectl", "moto", "awscli")

BIN = Path(sys.executable).parent
KUBECONFIG = """\
apiVersion: v1
kind: Config
clusters:
- name: lab
  cluster: {{server: "{url}"}}
users:
- name: lab
  user: {{}}
contexts:
- name: lab
  context: {{cluster: lab, user: lab, namespace: team}}
current-context: lab
"""


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[tuple[ServerThread, Path]]:
    with ServerThread(bookmark_interval=0.2) as server:
        config = tmp_path / "kubeconfig"
        config.write_text(KUBECONFIG.format(url=server.url), encoding="utf-8")
        yield server, config


def _spawn(argv: list[str], *, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    handle = log.open("wb")
    return subprocess.Popen(argv, stdout=handle, stderr=subprocess.STDOUT, env=env)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@pytest.fixture
def proxy_port(cluster, moto: Moto, tmp_path: Path) -> Iterator[int]:
    _, kubeconfig = cluster
    cloud_port, port = free_port(), free_port()
    clean = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    node_env = {
        **clean,
        **moto.env(),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"),
        "AWS_CONFIG_FILE": str(tmp_path / "none"),
    }
    cloud = _spawn(
        [
            str(BIN / "podwarden"),
            "lab",
            "cloud",
            "--provider",
            "aws",
            "--listen",
            f"127.0.0.1:{cloud_port}",
        ],
        env=clean,
        log=tmp_path / "cloud.log",
    )
    proxy = None
    try:
        wait_listening("127.0.0.1", cloud_port, timeout=20)
        proxy = _spawn(
            [
                str(BIN / "podwarden"),
                "proxy",
                "--provider",
                "aws",
                "--upstream",
                f"http://127.0.0.1:{cloud_port}",
                "--listen",
                f"127.0.0.1:{port}",
                "--kubeconfig",
                str(kubeconfig),
                "--node",
                "node-a",
                "--base-role-arn",
                "arn:aws:iam::123456789012:role/",
                "--sts-endpoint",
                moto.url,
                "--session-tags",
            ],
            env=node_env,
            log=tmp_path / "proxy.log",
        )
        wait_listening("127.0.0.1", port, timeout=20)
        yield port
    finally:
        if proxy is not None:
            _stop(proxy)
        _stop(cloud)


def _kubectl(kubeconfig: Path, *args: str) -> str:
    done = subprocess.run(
        ["kubectl", "--kubeconfig", str(kubeconfig), *args],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def _ls(moto: Moto, port: int, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "aws"), "--endpoint-url", moto.url, "s3", "ls", f"s3://{BUCKET}"],
        capture_output=True,
        text=True,
        timeout=60,
        env=pod_env(port, tmp_path),
        check=False,
    )


def _until(check, *, timeout: float = 10.0):
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result[0] or time.monotonic() > deadline:
            return result[1]
        time.sleep(0.2)


def test_the_kube2iam_walkthrough(cluster, moto, proxy_port, tmp_path):
    server, kubeconfig = cluster
    ns = namespace("team", {"iam.amazonaws.com/allowed-roles": json.dumps(["reader", "no-list"])})
    (tmp_path / "ns.json").write_text(json.dumps(ns))
    _kubectl(kubeconfig, "apply", "-f", str(tmp_path / "ns.json"))
    body = pod("mypod", "127.0.0.1")
    del body["metadata"]["uid"]
    created = requests.post(f"{server.url}/api/v1/namespaces/team/pods", json=body, timeout=10)
    assert created.status_code == 201, created.text

    before = _ls(moto, proxy_port, tmp_path)
    assert before.returncode != 0
    assert "Unable to locate credentials" in before.stderr

    _kubectl(kubeconfig, "annotate", "pods", "mypod", "iam.amazonaws.com/role=reader")
    listing = _until(lambda: ((r := _ls(moto, proxy_port, tmp_path)).returncode == 0, r))
    assert listing.returncode == 0, listing.stderr
    assert "report.csv" in listing.stdout

    _kubectl(kubeconfig, "annotate", "pods", "mypod", "iam.amazonaws.com/role-")
    after = _until(lambda: ((r := _ls(moto, proxy_port, tmp_path)).returncode != 0, r))
    assert "Unable to locate credentials" in after.stderr

    _kubectl(kubeconfig, "annotate", "pods", "mypod", "iam.amazonaws.com/role=no-list")
    denied = _until(lambda: ("AccessDenied" in (r := _ls(moto, proxy_port, tmp_path)).stderr, r))
    assert denied.returncode != 0
    assert "AccessDenied" in denied.stderr

    _kubectl(kubeconfig, "annotate", "--overwrite", "pods", "mypod", "iam.amazonaws.com/role=admin")
    refused = _until(
        lambda: ("Unable to locate" in (r := _ls(moto, proxy_port, tmp_path)).stderr, r)
    )
    assert "Unable to locate credentials" in refused.stderr
    events = _until(
        lambda: ("IdentityNotPermitted" in (out := _kubectl(kubeconfig, "get", "events")), out)
    )
    assert "IdentityNotPermitted" in events
    assert "admin" in events
