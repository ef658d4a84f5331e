"""`podwarden proxy` with identity flags: a cluster file as the view, and flag errors (exit 2)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import yaml

from podwarden.api import keys
from podwarden.lab.ports import free_port, wait_listening

from .conftest import READER, Moto
from .helpers import IMDS_CREDS, permit_all_roles, pod

pytestmark = pytest.mark.peers("moto", "awscli")

PODWARDEN = str(Path(sys.executable).parent / "podwarden")


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def test_a_cluster_file_drives_identity_and_its_changes_take_effect(moto: Moto, tmp_path):
    cluster = tmp_path / "cluster.yaml"
    annotated = pod("mypod", "127.0.0.1", annotations={keys.AWS_ROLE: READER})
    cluster.write_text(yaml.safe_dump_all([permit_all_roles(), annotated]))
    cloud_port, port = free_port(), free_port()
    clean = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env = {
        **clean,
        **moto.env(),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "x"),
        "AWS_CONFIG_FILE": str(tmp_path / "x"),
    }
    cloud = subprocess.Popen(
        [PODWARDEN, "lab", "cloud", "--provider", "aws", "--listen", f"127.0.0.1:{cloud_port}"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=clean,
    )
    proxy = None
    try:
        wait_listening("127.0.0.1", cloud_port, timeout=20)
        proxy = subprocess.Popen(
            [
                PODWARDEN,
                "proxy",
                "--provider",
                "aws",
                "--upstream",
                f"http://127.0.0.1:{cloud_port}",
                "--listen",
                f"127.0.0.1:{port}",
                "--cluster-file",
                str(cluster),
                "--sts-endpoint",
                moto.url,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=env,
        )
        wait_listening("127.0.0.1", port, timeout=20)
        base = f"http://127.0.0.1:{port}{IMDS_CREDS}"
        assert _get(base) == (200, "reader")
        status, body = _get(base + "reader")
        assert status == 200 and json.loads(body)["Code"] == "Success"
        bare = pod("mypod", "127.0.0.1", uid=annotated["metadata"]["uid"])
        cluster.write_text(yaml.safe_dump_all([permit_all_roles(), bare]))
        deadline = time.monotonic() + 10
        while _get(base)[0] != 404 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert _get(base)[0] == 404
    finally:
        for process in (proxy, cloud):
            if process is not None:
                process.terminate()
                process.wait(timeout=10)


def test_bad_identity_flags_exit_2_naming_the_flag(tmp_path):
    done = subprocess.run(
        [
            PODWARDEN,
            "proxy",
            "--provider",
            "aws",
            "--upstream",
            "http://127.0.0.1:9",
            "--listen",
            "127.0.0.1:0",
            "--kubeconfig",
            str(tmp_path / "k"),
        ],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 2
    assert "--node: required with --kubeconfig/--in-cluster" in done.stderr
    done = subprocess.run(
        [
            PODWARDEN,
            "proxy",
            "--provider",
            "aws",
            "--upstream",
            "http://127.0.0.1:9",
            "--listen",
            "127.0.0.1:0",
            "--cluster-file",
            str(tmp_path / "f"),
            "--session-duration",
            "5m",
        ],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 2
    assert "session-duration: 300s is outside 1200s-43200s" in done.stderr
