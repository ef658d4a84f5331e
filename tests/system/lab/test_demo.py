"""`podwarden demo` end to end (the slow one): every expectation holds, nothing leaks."""

from __future__ import annotations

import subprocess
import time

import pytest

from podwarden.lab import topology
from podwarden.lab.cloud import secrets

from .conftest import assert_clean

pytestmark = pytest.mark.peers("kubectl", "moto", "awscli", "nftables", "iptables", "curl")


def test_demo_runs_green_within_two_minutes_and_cleans_up(where):
    started = time.monotonic()
    got = subprocess.run(
        [*topology.podwarden_argv(), "demo"],
        capture_output=True,
        text=True,
        env=where.env,
        timeout=180,
        check=False,
    )
    took = time.monotonic() - started
    assert got.returncode == 0, got.stdout[-3000:] + got.stderr[-2000:]
    assert "ALL EXPECTATIONS HELD" in got.stdout
    assert took < 120
    for line in (
        "GCE kube-env",
        "AWS node role keys",
        "Azure managed identity token",
        "podwarden probe (aws proxy)",
        "agent killed: pod reads node keys",
        "agent restarted: pod reads region",
        "host-network pod reads node keys",
        "node process (kubelet) reads node keys",
        "rules flushed by hand",
        "node A reads the secret of a pod on B",
        "node A relabels node B (dry run)",
        "node-scoped DaemonSet pod on A lists B's pods",
        "podwarden nodeauth verify --node lab-node",
    ):
        assert line in got.stdout
    assert "This metadata endpoint is concealed." in got.stdout
    assert [v for v in secrets.ALL if v in got.stdout + got.stderr] == []
    assert_clean(where)
