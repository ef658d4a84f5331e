"""The rendered rule sets, as data and in each backend's syntax, against golden files.

Set PODWARDEN_UPDATE_GOLDEN=1 to rewrite them after an intended change (then
review the diff: it is the policy).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from podwarden.netfilter import iptables, nft, render
from podwarden.netfilter.render import CgroupMatch, ClassidMatch, HostPort, RuleSpec

GOLDEN = Path(__file__).parent / "golden"
KUBEPODS = CgroupMatch(path="kubepods.slice", level=1, nft_path="kubepods.slice")
AGENT = CgroupMatch(
    path="kubepods.slice/kubepods-burstable.slice/agent",
    level=3,
    nft_path="kubepods.slice/kubepods-burstable.slice/agent",
)
# cgroup v1 node: pods tagged with a net_cls classid, the agent's own cgroup left untagged
KUBEPODS_V1 = ClassidMatch(
    classid=0x00504457,
    path="kubepods",
    mount="/sys/fs/cgroup/net_cls,net_prio",
    untagged=("kubepods/burstable/podagent/agent",),
)

CASES = {
    "aws-node-address": RuleSpec(
        provider="aws",
        pod_interfaces=("cali+", "cni0"),
        proxy4=HostPort("10.0.0.1", 8181),
        proxy6=HostPort("fd00::1", 8181),
    ),
    "gce-loopback-hostnet": RuleSpec(
        provider="gce",
        pod_interfaces=("veth+",),
        proxy4=HostPort("127.0.0.1", 988),
        pod_cgroup=KUBEPODS,
        exempt_cgroups=(AGENT,),
    ),
    "azure-v4-only": RuleSpec(
        provider="azure", pod_interfaces=("eni+", "lxc+"), proxy4=HostPort("10.0.0.1", 8181)
    ),
    "alibaba": RuleSpec(
        provider="alibaba", pod_interfaces=("cni0",), proxy4=HostPort("10.0.0.1", 8181)
    ),
    "aws-netcls-hostnet": RuleSpec(
        provider="aws",
        pod_interfaces=("eni+",),
        proxy4=HostPort("10.0.0.1", 8181),
        pod_cgroup=KUBEPODS_V1,
    ),
    "fail-closed-only-netcls": RuleSpec(
        provider="aws", pod_interfaces=("eni+",), pod_cgroup=KUBEPODS_V1, fail_closed_only=True
    ),
    "fail-closed-only": RuleSpec(
        provider="aws", pod_interfaces=("cali+",), pod_cgroup=KUBEPODS, fail_closed_only=True
    ),
}


def rendered(name: str) -> dict[str, str]:
    ruleset = render.render(CASES[name])
    return {
        "json": json.dumps(ruleset.as_data(), indent=2, sort_keys=True) + "\n",
        "nft": nft.script(ruleset),
        "iptables4": iptables.restore_script(ruleset, 4, {}),
        "iptables6": iptables.restore_script(ruleset, 6, {}),
    }


@pytest.mark.parametrize("name", sorted(CASES))
def test_rendering_matches_golden_files(name: str):
    for suffix, text in rendered(name).items():
        path = GOLDEN / f"{name}.{suffix}"
        if os.environ.get("PODWARDEN_UPDATE_GOLDEN"):
            path.write_text(text)
        assert path.exists(), f"missing golden file {path}; run with PODWARDEN_UPDATE_GOLDEN=1"
        assert text == path.read_text(), f"{path} differs from the rendering"
