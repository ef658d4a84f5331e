"""`podwarden lab cloud` as a process: flags, several listeners, clean exit on SIGTERM."""

from __future__ import annotations

import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from podwarden.lab.cloud import commands
from podwarden.lab.ports import free_port, wait_listening

_RUN = "from podwarden.lab.cloud.commands import cloud; cloud()"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("127.0.0.1:80", ("all", "127.0.0.1", 80)),
        ("ecs=169.254.170.2:80", ("ecs", "169.254.170.2", 80)),
        ("gce=[::1]:8080", ("gce", "::1", 8080)),
    ],
)
def test_parse_listen(value, expected):
    assert commands.parse_listen(value, default_provider="all") == expected


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("127.0.0.1", "is not HOST:PORT"),
        ("nope=1.2.3.4:80", "unknown provider 'nope'"),
        ("1.2.3.4:99999", "needs a port in 1-65535"),
        ("1.2.3.4:0", "needs a port in 1-65535"),
    ],
)
def test_parse_listen_refuses_bad_values(value, message):
    with pytest.raises(click.BadParameter, match=message):
        commands.parse_listen(value, default_provider="all")


def test_bad_state_file_names_the_key(tmp_path: Path):
    state = tmp_path / "state.yaml"
    state.write_text("aws:\n  regoin: eu-west-1\n")
    result = CliRunner().invoke(commands.cloud, ["--listen", "127.0.0.1:1", "--state", str(state)])
    assert result.exit_code == 1
    assert "aws.regoin" in result.output


def test_process_serves_every_listener_and_stops_on_sigterm(tmp_path: Path):
    state = tmp_path / "state.yaml"
    state.write_text("aws:\n  region: ap-south-1\n")
    aws_port, ecs_port = free_port(), free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-c",
            _RUN,
            "--provider",
            "aws",
            "--aws-imdsv2",
            "required",
            "--state",
            str(state),
            "--listen",
            f"127.0.0.1:{aws_port}",
            "--listen",
            f"ecs=127.0.0.1:{ecs_port}",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        wait_listening("127.0.0.1", aws_port)
        wait_listening("127.0.0.1", ecs_port)
        token_request = urllib.request.Request(
            f"http://127.0.0.1:{aws_port}/latest/api/token",
            method="PUT",
            headers={"X-aws-ec2-metadata-token-ttl-seconds": "30"},
        )
        token = urllib.request.urlopen(token_request, timeout=5).read().decode()
        region = urllib.request.Request(
            f"http://127.0.0.1:{aws_port}/latest/meta-data/placement/region",
            headers={"X-aws-ec2-metadata-token": token},
        )
        assert urllib.request.urlopen(region, timeout=5).read() == b"ap-south-1"
        ecs = f"http://127.0.0.1:{ecs_port}/v2/credentials/emulator-task-0001"
        assert urllib.request.urlopen(ecs, timeout=5).status == 200
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
