"""cgroup v1 (net_cls) host-network matching: selection, exemption, tagging, rendering.

The tagging walk runs here over a directory tree that mimics a net_cls
hierarchy (a `net_cls.classid` file per cgroup); the kernel's own behaviour
(inheritance on mkdir, sockets re-stamped) is tested in
tests/system/netfilter/test_hostnet_v1.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from podwarden.config import ConfigError
from podwarden.netfilter import cgroup_match, iptables, nft, render
from podwarden.netfilter.render import CgroupMatch, ClassidMatch, HostPort, RuleSpec
from podwarden.netfilter.settings import RulesConfig, rule_spec

CLASSID = 0x00504457


def cgroup_tree(root: Path, *paths: str, classid: int = 0) -> None:
    """Create `paths` (and their parents, root included) as cgroups that lack one yet,
    each with a net_cls.classid file holding `classid`."""
    root.mkdir(parents=True, exist_ok=True)
    for path in paths:
        directory = root
        for part in Path(path).parts:
            directory /= part
            if not directory.is_dir():
                directory.mkdir()
                (directory / "net_cls.classid").write_text(f"{classid}\n")
        if not (root / "net_cls.classid").exists():
            (root / "net_cls.classid").write_text("0\n")


def classid_of(root: Path, path: str) -> int:
    return int((root / path / "net_cls.classid").read_text())


def mountinfo(tmp_path: Path, *mounts: str) -> Path:
    info = tmp_path / "mountinfo"
    lines = ["30 25 0:26 / /sys/fs/cgroup ro,nosuid - tmpfs tmpfs ro", *mounts]
    info.write_text("\n".join(lines) + "\n")
    return info


def test_net_cls_mount_is_read_from_mountinfo_preferring_sys_fs_cgroup(tmp_path: Path) -> None:
    info = mountinfo(
        tmp_path,
        "40 30 0:40 /sub /mnt/bind rw - cgroup cgroup rw,net_cls",  # a subtree: not the root
        "41 30 0:40 / /tmp/x rw - cgroup pw rw,net_cls",
        "42 30 0:40 / /sys/fs/cgroup/net_cls,net_prio rw - cgroup cgroup rw,net_cls,net_prio",
        "43 30 0:41 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory",
    )
    assert cgroup_match.netcls_mount(info) == Path("/sys/fs/cgroup/net_cls,net_prio")
    info = mountinfo(tmp_path, "41 30 0:40 / /tmp/x rw - cgroup pw rw,net_cls")
    assert cgroup_match.netcls_mount(info) == Path("/tmp/x")
    info = mountinfo(tmp_path, "43 30 0:41 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory")
    with pytest.raises(cgroup_match.CgroupError, match="no cgroup v1 net_cls hierarchy is mounted"):
        cgroup_match.netcls_mount(info)


def test_pod_cgroup_resolves_to_net_cls_when_v2_lacks_it(tmp_path: Path) -> None:
    netcls = tmp_path / "netcls"
    cgroup_tree(netcls, "kubepods/besteffort")
    info = mountinfo(tmp_path, f"41 30 0:40 / {netcls} rw - cgroup pw rw,net_cls")
    match, exempt = cgroup_match.pod_match("/kubepods/", classid=0x1234, mountinfo=info)
    assert match == ClassidMatch(0x1234, "kubepods", str(netcls), ())
    assert exempt == ()


def test_pod_cgroup_found_nowhere_is_an_error_naming_both_hierarchies(tmp_path: Path) -> None:
    netcls = tmp_path / "netcls"
    cgroup_tree(netcls)
    info = mountinfo(tmp_path, f"41 30 0:40 / {netcls} rw - cgroup pw rw,net_cls")
    with pytest.raises(cgroup_match.CgroupError) as caught:
        cgroup_match.pod_match("kubepods", mountinfo=info)
    assert str(caught.value) == (
        "pod_cgroup: 'kubepods' does not exist below the cgroup v2 root (none mounted) "
        f"nor below a net_cls hierarchy ({netcls}), so host-network pods cannot be matched"
    )
    with pytest.raises(cgroup_match.CgroupError, match=r"\(none mounted\) nor .*\(none mounted\)"):
        cgroup_match.pod_match("kubepods", mountinfo=mountinfo(tmp_path))


def test_agent_below_the_pod_cgroup_is_left_untagged(tmp_path: Path) -> None:
    netcls = tmp_path / "netcls"
    cgroup_tree(netcls, "kubepods/podA/agent", "kubepods/podB")
    proc = tmp_path / "cgroup"
    proc.write_text("11:net_cls,net_prio:/kubepods/podA/agent\n4:memory:/x\n0::/\n")
    assert cgroup_match.own_netcls_cgroup(proc) == "kubepods/podA/agent"
    assert cgroup_match.netcls_exemption(netcls, "kubepods", proc_cgroup=proc) == (
        "kubepods/podA/agent",
    )
    # a private cgroup namespace says `/`: found by its PID in cgroup.procs instead
    proc.write_text("11:net_cls,net_prio:/\n")
    (netcls / "kubepods/podA/agent/cgroup.procs").write_text("7\n4242\n")
    assert cgroup_match.netcls_exemption(netcls, "kubepods", pid=4242, proc_cgroup=proc) == (
        "kubepods/podA/agent",
    )
    assert cgroup_match.netcls_exemption(netcls, "kubepods", pid=99, proc_cgroup=proc) == ()
    proc.write_text("11:net_cls:/kubepods\n")  # the agent is in the pod cgroup itself
    with pytest.raises(
        cgroup_match.CgroupError, match="runs in the net_cls cgroup 'kubepods' itself"
    ):
        cgroup_match.netcls_exemption(netcls, "kubepods", proc_cgroup=proc)


def test_tagging_reaches_every_descendant_and_clears_only_our_classid_below_the_agent(
    tmp_path: Path,
) -> None:
    netcls = tmp_path / "netcls"
    cgroup_tree(netcls, "kubepods/podA/c1", "kubepods/podB", "system.slice")
    cgroup_tree(netcls, "kubepods/podA/agent/sub", classid=CLASSID)  # inherited on mkdir
    cgroup_tree(netcls, "kubepods/podA/agent/other", classid=77)  # someone else's classid
    match = ClassidMatch(CLASSID, "kubepods", str(netcls), ("kubepods/podA/agent",))
    # kubepods, podA, c1, podB tagged; agent and agent/sub cleared
    assert cgroup_match.tag_netcls(match) == 6
    for path in ("kubepods", "kubepods/podA", "kubepods/podA/c1", "kubepods/podB"):
        assert classid_of(netcls, path) == CLASSID, path
    assert classid_of(netcls, "kubepods/podA/agent") == 0
    assert classid_of(netcls, "kubepods/podA/agent/sub") == 0
    assert classid_of(netcls, "kubepods/podA/agent/other") == 77
    assert classid_of(netcls, "system.slice") == 0 and classid_of(netcls, "") == 0
    assert cgroup_match.tag_netcls(match) == 0  # nothing left to change: nothing counted
    (netcls / "kubepods/podB/net_cls.classid").write_text("0\n")  # reset behind our back
    assert cgroup_match.tag_netcls(match) == 1 and classid_of(netcls, "kubepods/podB") == CLASSID


def test_tagging_a_vanished_pod_cgroup_or_an_unwritable_one_is_an_error(tmp_path: Path) -> None:
    netcls = tmp_path / "netcls"
    cgroup_tree(netcls, "kubepods")
    with pytest.raises(cgroup_match.CgroupError, match=r"the pod cgroup .*/gone no longer exists"):
        cgroup_match.tag_netcls(ClassidMatch(CLASSID, "gone", str(netcls)))
    (netcls / "kubepods/net_cls.classid").write_text("not a number\n")
    with pytest.raises(cgroup_match.CgroupError, match=r"cannot set .*kubepods/net_cls.classid"):
        cgroup_match.tag_netcls(ClassidMatch(CLASSID, "kubepods", str(netcls)))


def test_net_cls_rules_match_the_classid_in_both_backends() -> None:
    pods = ClassidMatch(CLASSID, "kubepods", "/sys/fs/cgroup/net_cls", ("kubepods/agent",))
    ruleset = render.render(
        RuleSpec(
            provider="aws",
            pod_interfaces=("cali+",),
            proxy4=HostPort("10.0.0.1", 8181),
            pod_cgroup=pods,
        )
    )
    assert ruleset.netcls == pods
    for name in ("nat_output", "filter_output"):
        (rule,) = ruleset.chain(name).rules  # no v2-style return rule: exemption is untagging
        assert rule.cgroup == pods and rule.verdict.kind == "jump"
        assert nft.rule_text(rule).startswith("meta cgroup 5260375 jump ")
        (line,) = iptables.rule_lines(name, rule, 4)
        assert " -m cgroup --cgroup 5260375 " in line
    v2 = RuleSpec(
        provider="aws",
        pod_interfaces=("cali+",),
        proxy4=HostPort("10.0.0.1", 8181),
        pod_cgroup=CgroupMatch("kubepods", 1, "kubepods"),
    )
    assert render.render(v2).netcls is None


@pytest.mark.parametrize(
    ("classid", "exempt", "message"),
    [
        (0, (), "netcls_classid: 0x0 is not in 0x1-0xffffffff"),
        (1 << 32, (), "netcls_classid: 0x100000000 is not in 0x1-0xffffffff"),
        (CLASSID, (CgroupMatch("a", 1, "a"),), "exempt_cgroups: a net_cls pod cgroup exempts"),
    ],
)
def test_bad_net_cls_specs_are_refused(
    classid: int, exempt: tuple[CgroupMatch, ...], message: str
) -> None:
    with pytest.raises(render.RuleSpecError, match=message):
        RuleSpec(
            provider="aws",
            pod_interfaces=("cali+",),
            proxy4=HostPort("10.0.0.1", 8181),
            pod_cgroup=ClassidMatch(classid, "kubepods", "/x"),
            exempt_cgroups=exempt,
        )


def test_classid_setting_is_checked_and_a_missing_pod_cgroup_fails_closed() -> None:
    with pytest.raises(Exception, match="netcls_classid"):
        RulesConfig.model_validate({"netcls_classid": 0})
    assert RulesConfig().netcls_classid == cgroup_match.DEFAULT_CLASSID
    settings = RulesConfig(
        provider="aws",
        pod_interface=["cali+"],
        proxy="10.0.0.1:80",
        pod_cgroup="pwtest-surely-absent/kubepods",
    )
    with pytest.raises(ConfigError, match="so host-network pods cannot be matched"):
        rule_spec(settings)
