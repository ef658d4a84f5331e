"""The lab's default node process is `podwarden agent`: its cases, and what `lab down` removes."""

from __future__ import annotations

import json
import subprocess

from podwarden.lab import cgroup, demo, demo_agent, netns, topology
from podwarden.lab.cloud import secrets

from .conftest import assert_clean

PODWARDEN = topology.podwarden_argv()


def _agent_act() -> demo.Act:
    return next(act for act in demo.ACTS if act.run is demo_agent.run)


def test_lab_up_runs_the_agent_with_a_pod_cgroup_and_down_removes_both(where):
    up = subprocess.run(
        [*PODWARDEN, "lab", "up", "--pods", "1"],
        capture_output=True,
        text=True,
        env=where.env,
        timeout=90,
        check=False,
    )
    try:
        assert up.returncode == 0, up.stderr
        assert "podwarden on (agent)" in up.stdout
        status = json.loads(
            subprocess.run(
                [*PODWARDEN, "lab", "status", "--format", "json"],
                capture_output=True,
                text=True,
                env=where.env,
                check=True,
            ).stdout
        )
        assert status["interception"] == "agent"
        assert status["processes_alive"] == {"cloud": True, "apiserver": True, "agent": True}
        assert cgroup.directory(where.prefix) is not None
        # the agent's own table is live in the node namespace (and nowhere else)
        the_lab = topology.load(state_dir=where.state_dir)
        table = netns.run(["nft", "list", "table", "inet", "podwarden"], netns=the_lab.plan.node)
        assert "pwv" in table.stdout
        got = the_lab.exec(
            "pod-a", ["curl", "-s", "-m", "3", "http://169.254.169.254/latest/user-data"]
        )
        assert [v for v in secrets.ALL if v in got.stdout] == []
    finally:
        down = subprocess.run(
            [*PODWARDEN, "lab", "down"], capture_output=True, text=True, env=where.env, check=False
        )
    assert down.returncode == 0, down.stderr
    assert_clean(where)


def test_the_agent_act_holds_every_expectation(where):
    lines: list[str] = []
    ok = demo.run(
        prefix=where.prefix, state_dir=where.state_dir, echo=lines.append, acts=[_agent_act()]
    )
    text = "\n".join(lines)
    assert ok, text
    for check in (
        "host-network pod reads node keys",
        "host-network pod reads region",
        "node process (kubelet) reads node keys",
        "agent killed: pod reads node keys",
        "agent restarted: pod reads region",
        "rules flushed by hand",
    ):
        assert check in text
    assert "refused in " in text and "restored in " in text
    assert [v for v in secrets.ALL if v in text] == []
    assert_clean(where)


def test_the_agent_act_says_it_is_skipped_without_the_agent(where):
    lines: list[str] = []
    ok = demo.run(
        prefix=where.prefix,
        state_dir=where.state_dir,
        echo=lines.append,
        interception="lab-dnat",
        acts=[_agent_act()],
    )
    assert ok
    assert "skipped: needs --interception agent (not lab-dnat)" in "\n".join(lines)
    assert_clean(where)
