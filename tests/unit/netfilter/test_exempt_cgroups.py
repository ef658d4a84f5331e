"""`exempt_cgroups`: host-network system pods (aws-node, CSI node plugins) keep node access.

cgroup v1 here over a directory tree that mimics net_cls (the subtrees stay
untagged); cgroup v2 end to end in tests/system/netfilter/test_hostnet.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from podwarden.config import ConfigError
from podwarden.netfilter import cgroup_match
from podwarden.netfilter.render import ClassidMatch
from podwarden.netfilter.settings import RulesConfig, rule_spec
from tests.unit.netfilter.test_cgroup_match_v1 import CLASSID, cgroup_tree, classid_of, mountinfo


def netcls_node(tmp_path: Path) -> tuple[Path, Path]:
    netcls = tmp_path / "netcls"
    cgroup_tree(netcls, "kubepods/aws-node/c", "kubepods/ebs-csi", "kubepods/podA")
    info = mountinfo(tmp_path, f"41 30 0:40 / {netcls} rw - cgroup pw rw,net_cls")
    return netcls, info


def test_v1_exempt_subtrees_are_left_untagged(tmp_path: Path) -> None:
    netcls, info = netcls_node(tmp_path)
    match, v2_exempt = cgroup_match.pod_match(
        "kubepods", exempt=("kubepods/aws-node", "/kubepods/ebs-csi/"), mountinfo=info
    )
    assert match == ClassidMatch(
        CLASSID, "kubepods", str(netcls), ("kubepods/aws-node", "kubepods/ebs-csi")
    )
    assert v2_exempt == ()
    assert isinstance(match, ClassidMatch)
    cgroup_match.tag_netcls(match)
    assert classid_of(netcls, "kubepods/podA") == CLASSID
    for path in ("kubepods/aws-node", "kubepods/aws-node/c", "kubepods/ebs-csi"):
        assert classid_of(netcls, path) == 0, path


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        (
            "system.slice/aws-node",
            "exempt_cgroups: 'system.slice/aws-node' is not below pod_cgroup",
        ),
        ("kubepods", "exempt_cgroups: 'kubepods' is not below pod_cgroup 'kubepods'"),
        ("kubepods/gone", "exempt_cgroups: .*/kubepods/gone does not exist"),
        ("kubepods/../x", "exempt_cgroups: 'kubepods/../x' must be a path below the cgroup root"),
    ],
)
def test_bad_exemptions_are_refused_with_the_key_named(
    tmp_path: Path, entry: str, message: str
) -> None:
    _, info = netcls_node(tmp_path)
    with pytest.raises(cgroup_match.CgroupError, match=message):
        cgroup_match.pod_match("kubepods", exempt=(entry,), mountinfo=info)


def test_exemptions_need_a_pod_cgroup() -> None:
    settings = RulesConfig(
        provider="aws",
        pod_interface=["cali+"],
        fail_closed_only=True,
        exempt_cgroups=["kubepods/aws-node"],
    )
    with pytest.raises(ConfigError, match="exempt_cgroups: needs pod_cgroup"):
        rule_spec(settings)
