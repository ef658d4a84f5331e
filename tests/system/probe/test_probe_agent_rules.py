"""The lab with the agent's own rules (`podwarden rules apply`) instead of its plain DNAT.

The same pod view must hold: benign metadata through the proxy, no secret
from any door, the side doors refused rather than open.
"""

from __future__ import annotations

import json
import uuid

import pytest

from podwarden.lab import topology
from podwarden.lab.cloud import secrets

PROBE = [*topology.podwarden_argv(), "probe", "--format", "json"]


@pytest.fixture(scope="module")
def the_lab(tmp_path_factory):
    prefix = f"pwt{uuid.uuid4().hex[:4]}-"
    with topology.lab(
        provider="aws",
        pods=1,
        proxy=True,
        prefix=prefix,
        state_dir=tmp_path_factory.mktemp("lab"),
        interception_mode="podwarden-rules",
    ) as running:
        yield running


def test_probe_is_green_behind_the_agent_rules(the_lab):
    got = the_lab.exec("pod-a", PROBE, timeout=30)
    assert got.returncode == 0, got.stdout[-2000:] + got.stderr[-1000:]
    assert [v for v in secrets.ALL if v in got.stdout + got.stderr] == []
    by_id = {f["check"]: f for f in json.loads(got.stdout)["findings"]}
    assert by_id["aws-imdsv2-node-credentials"]["reachable"] is True
    assert by_id["alibaba-ram-credentials"]["reachable"] is False


def test_benign_metadata_still_answers_v4_and_v6(the_lab):
    for url in (
        "http://169.254.169.254/latest/meta-data/placement/region",
        "http://[fd00:ec2::254]/latest/meta-data/placement/region",
    ):
        got = the_lab.exec("pod-a", ["curl", "-s", "--max-time", "3", url])
        assert got.stdout == "us-east-1", (url, got.stdout, got.stderr)


def test_stopping_the_proxy_removes_the_rules_and_reopens_the_door(the_lab):
    """`stop_proxy` is the lab's "without podwarden" switch: rules removed as well."""
    the_lab.stop_proxy()
    got = the_lab.exec("pod-a", PROBE, timeout=30)
    assert got.returncode == 1
    the_lab.start_proxy("aws")
    assert the_lab.exec("pod-a", PROBE, timeout=30).returncode == 0
