"""`--config` YAML and flags: every flag is a key, errors name the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from podwarden.agent.settings import AgentConfig
from podwarden.config import ConfigError
from podwarden.flags import load
from podwarden.netfilter import cgroup_match
from podwarden.netfilter.conntrack import _count
from podwarden.netfilter.settings import RulesConfig, rule_spec


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "rules.yaml"
    path.write_text(text)
    return path


def test_yaml_keys_are_the_flags_and_flags_win(tmp_path: Path):
    path = write(
        tmp_path,
        "provider: gce\npod_interface: [cali+, cni0]\nproxy: 10.0.0.1:988\n"
        "backend: iptables-legacy\n",
    )
    merged = load(RulesConfig, {"proxy": "10.0.0.2:988", "pod_interface": ()}, config_file=path)
    assert merged.provider == "gce" and merged.backend == "iptables-legacy"
    assert merged.pod_interface == ["cali+", "cni0"] and merged.proxy == "10.0.0.2:988"
    ruleset_spec = rule_spec(merged)
    assert ruleset_spec.proxy4 is not None and ruleset_spec.proxy4.host == "10.0.0.2"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "provider: aws\nproxy_port: 1\n",
            "rules.yaml: proxy_port: Extra inputs are not permitted",
        ),
        ("backend: pf\n", "rules.yaml: backend: Input should be 'nft', 'iptables'"),
        ("provider: [aws]\n", "rules.yaml: provider: Input should be 'aws'"),
        ("- provider\n", "expected a mapping of settings"),
        ("provider: aws\n  x: [\n", "not valid YAML"),
    ],
)
def test_bad_files_name_the_key(tmp_path: Path, text: str, message: str):
    with pytest.raises(ConfigError, match=message.replace("[", r"\[")):
        load(RulesConfig, {}, config_file=write(tmp_path, text))


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({}, "provider: required"),
        ({"provider": "aws"}, "pod_interface: required"),
        ({"provider": "aws", "pod_interface": ["cali+"]}, "proxy: required unless"),
        (
            {"provider": "aws", "pod_interface": ["cali+"], "proxy": "node:80"},
            "proxy: 'node:80' is not ADDRESS:PORT with an IP address",
        ),
        (
            {"provider": "aws", "pod_interface": ["cali+"], "proxy": "10.0.0.1:0"},
            "proxy: '10.0.0.1:0' needs a port in 1-65535",
        ),
        (
            {
                "provider": "aws",
                "pod_interface": ["cali+"],
                "proxy": "10.0.0.1:80",
                "pod_cgroup": "../etc",
            },
            "pod_cgroup: '../etc' must be a path below",
        ),
    ],
)
def test_incomplete_settings_name_the_missing_key(values: dict[str, object], message: str):
    with pytest.raises(ConfigError, match=message):
        rule_spec(RulesConfig.model_validate(values))


def test_v6_proxy_flag_lands_in_proxy6():
    spec = rule_spec(RulesConfig(provider="aws", pod_interface=["cali+"], proxy="[fd00::1]:80"))
    assert spec.proxy4 is None and spec.proxy6 is not None and spec.proxy6.host == "fd00::1"


def test_agent_config_derives_proxy_from_listen_and_refuses_rule_only_keys(tmp_path: Path):
    agent = AgentConfig(
        provider="aws",
        upstream="http://169.254.169.254",
        listen="127.0.0.1:988",
        pod_interface=["cali+"],
    ).checked()
    assert agent.proxy == "127.0.0.1:988"
    with pytest.raises(ConfigError, match="proxy: not an agent key"):
        AgentConfig(provider="aws", upstream="u", listen="l", proxy="x").checked()
    with pytest.raises(ConfigError, match="upstream: required"):
        AgentConfig(provider="aws", listen="l").checked()
    with pytest.raises(ConfigError, match="reconcile_period: Input should be greater than 0"):
        load(AgentConfig, {}, config_file=write(tmp_path, "reconcile_period: 0\n"))


def test_cgroup_paths_resolve_for_nft_and_iptables_on_a_hybrid_layout(tmp_path: Path):
    fake = tmp_path / "unified"  # tmp_path plays /sys/fs/cgroup, v2 mounted at unified/
    (fake / "kubepods.slice" / "pod1").mkdir(parents=True)
    match = cgroup_match.resolve("/kubepods.slice/pod1/", mount=fake, sysfs=tmp_path)
    assert match.path == "kubepods.slice/pod1"  # the iptables cgroup match's path
    assert match.level == 2
    assert match.nft_path == "unified/kubepods.slice/pod1"  # nft resolves below /sys/fs/cgroup
    with pytest.raises(cgroup_match.CgroupError, match="does not exist"):
        cgroup_match.resolve("kubepods", mount=fake, sysfs=tmp_path)


def test_v2_mount_is_read_from_mountinfo(tmp_path: Path):
    info = tmp_path / "mountinfo"
    info.write_text(
        "30 25 0:26 / /sys/fs/cgroup ro,nosuid - tmpfs tmpfs ro\n"
        "31 30 0:27 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw\n"
    )
    assert str(cgroup_match.v2_mount(info)) == "/sys/fs/cgroup/unified"
    info.write_text("30 25 0:26 / /sys/fs/cgroup ro - tmpfs tmpfs ro\n")
    with pytest.raises(cgroup_match.CgroupError, match="no cgroup v2 hierarchy"):
        cgroup_match.v2_mount(info)


def test_conntrack_deleted_count_is_parsed():
    assert _count("conntrack v1.4.7 (conntrack-tools): 3 flow entries have been deleted.") == 3
    assert _count("conntrack v1.4.7 (conntrack-tools): 0 flow entries have been deleted.") == 0
    assert _count("") == 0
