"""`podwarden probe` inside a lab pod: red without podwarden, green with it.

The only place the real probe (real metadata addresses) ever runs: a pod of
a lab this test built, where every metadata address belongs to the emulator.
"""

from __future__ import annotations

import json
import uuid

import pytest

from podwarden.lab import topology
from podwarden.lab.cloud import secrets

PROBE = [*topology.podwarden_argv(), "probe"]


@pytest.fixture(scope="module")
def the_lab(tmp_path_factory):
    prefix = f"pwt{uuid.uuid4().hex[:4]}-"
    with topology.lab(
        provider="aws", pods=1, proxy=False, prefix=prefix, state_dir=tmp_path_factory.mktemp("lab")
    ) as running:
        yield running


def no_secret_in(text):
    return [value for value in secrets.ALL if value in text] == []


def test_without_podwarden_the_probe_is_red_and_prints_no_secret(the_lab):
    the_lab.stop_proxy()
    table = the_lab.exec("pod-a", PROBE, timeout=30)
    assert table.returncode == 1, table.stderr
    assert "EXPOSED: this pod can read" in table.stdout
    assert no_secret_in(table.stdout + table.stderr)

    env = {"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": "/v2/credentials/emulator-task-0001"}
    as_json = the_lab.exec("pod-a", [*PROBE, "--format", "json"], env=env, timeout=30)
    assert as_json.returncode == 1
    assert no_secret_in(as_json.stdout + as_json.stderr)
    report = json.loads(as_json.stdout)
    exposed = {f["check"]: set(f["exposed"]) for f in report["findings"]}
    assert exposed["aws-imdsv2-node-credentials"] == {"credentials"}
    assert exposed["aws-imds-ipv6-node-credentials"] == {"credentials"}
    assert exposed["gce-kube-env"] == {"kube-env"}
    assert exposed["azure-managed-identity-token"] == {"credentials"}
    assert exposed["azure-wireserver-hostgaplugin"] == {"bootstrap token"}
    assert exposed["ecs-task-credentials"] == {"credentials"}
    assert exposed["alibaba-ram-credentials"] == {"credentials"}
    assert report["elapsed_ms"] < 3000


def test_with_podwarden_the_probe_is_green(the_lab):
    """AWS here; `podwarden demo` (tests/system/lab/test_demo.py) runs it behind all three."""
    the_lab.start_proxy("aws")
    got = the_lab.exec("pod-a", [*PROBE, "--format", "json"], timeout=30)
    assert got.returncode == 0, got.stdout
    assert no_secret_in(got.stdout + got.stderr)
    report = json.loads(got.stdout)
    assert report["exposed"] is False
    by_id = {f["check"]: f for f in report["findings"]}
    # the metadata address answers (through the proxy), the side doors are closed
    assert by_id["aws-imdsv1-node-credentials"]["reachable"] is True
    assert by_id["azure-wireserver-hostgaplugin"]["reachable"] is False
    assert by_id["alibaba-ram-credentials"]["reachable"] is False
