"""The kube2iam walkthrough in the lab, through real netfilter (root, network namespaces).

pod-a's traffic to 169.254.169.254 (and fd00:ec2::254) is DNATed to the
proxy in the node namespace; kubectl annotates the pod in the lab API server;
awscli in pod-a lists the bucket in moto (IAM enforcement on) only while the
annotation names a role that may list it.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from podwarden.api import metadata_addresses
from podwarden.lab import demo, demo_identity, netns, topology

pytestmark = [pytest.mark.timeout(300), pytest.mark.peers("kubectl", "moto", "awscli", "nftables")]
ROLES = "/latest/meta-data/iam/security-credentials/"


@pytest.fixture
def ctx(tmp_path: Path):
    prefix = f"pwi{uuid.uuid4().hex[:4]}-"
    lines: list[str] = []
    context = demo.DemoContext(prefix=prefix, state_dir=tmp_path / "lab", pods=1, echo=lines.append)
    yield context
    topology.down(state_dir=tmp_path / "lab", prefix=prefix)
    if netns.NETNS_DIR.exists():
        assert not list(netns.NETNS_DIR.glob(f"{prefix}*"))


def test_the_walkthrough_through_real_netfilter(ctx):
    seen: dict[int, tuple[str, str]] = {}

    def both_families(walkthrough: demo_identity.Walkthrough, step: int) -> None:
        answers = []
        for url in (
            f"http://{metadata_addresses.IMDS_V4}{ROLES}",
            f"http://[{metadata_addresses.IMDS_V6}]{ROLES}",
        ):
            done = walkthrough.lab.exec(demo_identity.POD, ["curl", "-s", "-g", "-m", "5", url])
            answers.append(done.stdout.strip())
        seen[step] = (answers[0], answers[1])

    rows = demo_identity.walk(ctx, after_step=both_families)
    assert [(r.check, r.after) for r in rows] == [
        (check, expected) for check, _, expected in demo_identity.STEPS
    ]
    assert all(r.ok for r in rows)
    assert seen[1] == ("reader", "reader")  # IPv4 and IPv6 both give the pod's own role
    assert seen[3] == ("no-list", "no-list")
    assert "reader" not in seen[0][0] and "reader" not in seen[2][1]
