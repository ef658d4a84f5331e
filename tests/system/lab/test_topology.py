"""The lab's network on its own: addresses, routes, IPv6, DNAT, side doors, clean-up.

The cloud host here is a stand-in that echoes the address a request reached,
so these tests show the topology's paths independently of the emulator.
"""

from __future__ import annotations

import os
import sys

import pytest

from podwarden.api import metadata_addresses
from podwarden.lab import netns, plan, processes, state, topology

from .conftest import assert_clean, echo_cloud_argv, echo_proxy_argv


def curl(the_lab, pod, url):
    return the_lab.exec(pod, ["curl", "-sS", "--max-time", "3", url])


def test_pods_reach_every_metadata_address_of_the_cloud_host_v4_and_v6(where):
    with topology.lab(
        provider="aws",
        pods=2,
        proxy=False,
        prefix=where.prefix,
        state_dir=where.state_dir,
        cloud_argv=echo_cloud_argv(),
    ) as the_lab:
        for address in metadata_addresses.HOSTS_V4:
            got = curl(the_lab, "pod-b", f"http://{address}/latest/")
            assert got.stdout == f"echo-cloud {address} 80 /latest/ from 10.77.2.2\n", got.stderr
        for address in metadata_addresses.HOSTS_V6:
            got = curl(the_lab, "pod-a", f"http://[{address}]/x")
            assert got.stdout == f"echo-cloud {address} 80 /x from fd77:0:1::2\n", got.stderr
        got = curl(the_lab, "pod-a", f"http://{metadata_addresses.WIRESERVER_V4}:32526/vmSettings")
        assert got.stdout.startswith(f"echo-cloud {metadata_addresses.WIRESERVER_V4} 32526 ")
        assert (
            netns.run(
                ["sysctl", "-n", "net.ipv4.ip_forward"], netns=the_lab.plan.node
            ).stdout.strip()
            == "1"
        )
        assert (
            netns.run(
                ["sysctl", "-n", "net.ipv4.ip_forward"], netns=the_lab.plan.pod_netns("pod-a")
            ).stdout.strip()
            == "0"
        )
        links = netns.ip("-o", "link", "show", netns=the_lab.plan.node)
        assert "pwva@" in links and "pwvb@" in links and "pwcloud@" in links
        records = list(the_lab.state.processes)
    assert_clean(where, records)


def test_the_dnat_sends_pod_metadata_traffic_to_the_proxy_and_closes_side_doors(where):
    with topology.lab(
        provider="aws",
        pods=1,
        proxy=True,
        prefix=where.prefix,
        state_dir=where.state_dir,
        cloud_argv=echo_cloud_argv(),
        proxy_argv=echo_proxy_argv,
        interception_mode="lab-dnat",  # the echo stand-in proxy shows the plain DNAT's paths
    ) as the_lab:
        got = curl(the_lab, "pod-a", "http://169.254.169.254/latest/meta-data/")
        assert got.stdout == "echo-cloud 10.77.0.1 8775 /latest/meta-data/ from 10.77.1.2\n"
        got = curl(the_lab, "pod-a", "http://[fd00:ec2::254]/latest/")
        assert got.stdout == "echo-cloud fd77::1 8775 /latest/ from fd77:0:1::2\n"
        for url in (
            "http://169.254.170.2/",
            "http://168.63.129.16:32526/vmSettings",
            "http://100.100.100.200/",
            "http://[fd00:ec2::23]/",
        ):
            got = curl(the_lab, "pod-a", url)
            assert got.returncode == 7, (url, got.stdout)  # reset: "couldn't connect"
        # the node itself still reaches the cloud directly (the proxy's upstream)
        got = netns.run(
            ["curl", "-sS", "--max-time", "3", "http://169.254.169.254/n"], netns=the_lab.plan.node
        )
        assert got.stdout == "echo-cloud 169.254.169.254 80 /n from 10.76.0.1\n"
        # proxy off: the pod talks to the cloud again
        the_lab.stop_proxy()
        got = curl(the_lab, "pod-a", "http://169.254.169.254/latest/")
        assert got.stdout.startswith("echo-cloud 169.254.169.254 80 ")
        assert [p.name for p in the_lab.state.processes] == ["cloud", "apiserver"]


def test_a_lab_that_fails_half_way_leaves_nothing(where):
    with pytest.raises(topology.LabError, match="cloud exited"):
        topology.up(
            provider="aws",
            pods=2,
            proxy=False,
            prefix=where.prefix,
            state_dir=where.state_dir,
            cloud_argv=[sys.executable, "-c", "raise SystemExit(3)"],
        )
    assert_clean(where)


def test_down_is_idempotent_and_works_from_the_state_file_alone(where):
    the_lab = topology.up(
        provider="gce",
        pods=1,
        proxy=False,
        prefix=where.prefix,
        state_dir=where.state_dir,
        cloud_argv=echo_cloud_argv(),
    )
    records = list(the_lab.state.processes)
    recorded = state.load(state_dir=where.state_dir)
    assert recorded is not None and recorded.ready and recorded.provider == "gce"
    assert topology.down(state_dir=where.state_dir, prefix=where.prefix) == []
    assert_clean(where, records)
    assert topology.down(state_dir=where.state_dir, prefix=where.prefix) == []
    assert_clean(where, records)


def test_a_second_lab_in_the_same_place_is_refused(where):
    with (
        topology.lab(
            provider="aws",
            pods=1,
            proxy=False,
            prefix=where.prefix,
            state_dir=where.state_dir,
            cloud_argv=echo_cloud_argv(),
        ),
        pytest.raises(topology.LabError, match="already recorded"),
    ):
        topology.up(provider="aws", pods=1, prefix=where.prefix, state_dir=where.state_dir)


def test_down_never_signals_a_process_that_only_shares_a_recorded_pid(where):
    """A reused PID (same number, other start time) is left alone."""
    me = processes.start_ticks(os.getpid())
    assert me is not None
    impostor = state.ProcessRecord(
        name="cloud", pid=os.getpid(), start_ticks=me + 1, netns="x", argv=[], log=""
    )
    state.save(
        state.LabState(prefix=where.prefix, provider="aws", processes=[impostor]),
        state_dir=where.state_dir,
    )
    assert topology.down(state_dir=where.state_dir, prefix=where.prefix) == []
    assert not processes.is_running(impostor)  # we are alive, and not that record


def test_plan_rejects_bad_parameters_with_what_is_accepted():
    with pytest.raises(plan.PlanError, match="accepted: aws, gce, azure"):
        plan.make(provider="oracle", pods=1)
    with pytest.raises(plan.PlanError, match="between 1 and 26"):
        plan.make(provider="aws", pods=27)
    with pytest.raises(plan.PlanError, match="no pod 'pod-z'"):
        plan.make(provider="aws", pods=2).pod_netns("pod-z")


def test_down_reports_but_never_kills_a_process_it_did_not_start(where):
    import subprocess

    the_lab = topology.up(
        provider="aws",
        pods=1,
        proxy=False,
        prefix=where.prefix,
        state_dir=where.state_dir,
        cloud_argv=echo_cloud_argv(),
    )
    stray = subprocess.Popen(netns.pid_netns_argv(the_lab.plan.pod_netns("pod-a"), ["sleep", "30"]))
    try:
        failures = topology.down(state_dir=where.state_dir, prefix=where.prefix)
        assert failures == [
            f"processes not started by the lab still in {where.prefix}pod-a: [{stray.pid}]"
        ]
        assert stray.poll() is None  # still running: not the lab's to end
    finally:
        stray.kill()
        stray.wait()
    assert_clean(where)
