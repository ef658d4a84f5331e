"""`podwarden agent` in the node namespace: real proxy, rules, reconcile, restarts."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from podwarden.api import metadata_addresses
from podwarden.netfilter import reconcile
from podwarden.netfilter.settings import RulesConfig, rule_spec
from podwarden.testing.netlab import (
    NODE_POD_V4,
    Lab,
    agent_argv,
    rules_apply_args,
    stop,
)

pytestmark = pytest.mark.peers("nftables", "iptables")

PROXY_PORT = 18184
HEALTH = "127.0.0.1:18185"
IMDS = f"http://{metadata_addresses.IMDS_V4}/latest/meta-data/instance-id"


def start_agent(
    lab: Lab,
    backend: str,
    *,
    period: float = 1.0,
    log_level: str = "warning",
    stderr_to: Path | None = None,
) -> subprocess.Popen[str]:
    argv = agent_argv(
        listen=f"{NODE_POD_V4}:{PROXY_PORT}",
        backend=backend,
        reconcile_period=period,
        health_listen=HEALTH,
        log_level=log_level,
    )
    return lab.spawn(lab.node, argv, wait_line=None, stderr_to=stderr_to)


def wait_ready(lab: Lab, agent: subprocess.Popen[str], *, timeout: float = 15) -> float:
    result = lab.wait_ready(HEALTH, timeout=timeout)
    if result["outcome"] != "ok":
        stop(agent)
        raise AssertionError(
            f"agent never became ready: {agent.stderr.read() if agent.stderr else ''}"
        )
    return float(result["waited"])


def wait_installed(agent: subprocess.Popen[str], log: Path, *, timeout: float = 20) -> float:
    """Until the agent logs that its rules are in (its proxy listens before that)."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if '"rules installed"' in log.read_text():
            return time.monotonic() - started
        if agent.poll() is not None:
            break
        time.sleep(0.02)
    stop(agent)
    raise AssertionError(f"agent did not install its rules: {log.read_text()[-2000:]}")


def installer(lab: Lab, backend: str) -> reconcile.Installer:
    """The same rule set the agent renders, to compare with the live one."""
    spec = rule_spec(
        RulesConfig(
            provider="aws",
            pod_interface=["cali+"],
            proxy=f"{NODE_POD_V4}:{PROXY_PORT}",
            backend=backend,
        )
    )  # type: ignore[arg-type]
    return lab.installer(backend, spec)  # type: ignore[arg-type]


@pytest.mark.parametrize("backend", ["nft", "iptables-legacy"])
def test_agent_proxies_pods_and_repairs_flushed_rules_within_two_periods(lab: Lab, backend: str):
    period = 1.0
    agent = start_agent(lab, backend, period=period)
    wait_ready(lab, agent)
    result = lab.get(lab.pod, IMDS)
    assert result["outcome"] == "ok" and result["status"] == 200, result
    denied = lab.get(
        lab.pod, f"http://{metadata_addresses.IMDS_V4}/latest/meta-data/iam/security-credentials/"
    )
    assert denied["outcome"] == "ok" and denied["status"] != 200, denied
    checker = installer(lab, backend)
    assert checker.drift() is None
    lab.flush_by_hand(backend, drop_forward_jump=True)
    flushed_at = time.monotonic()
    assert checker.drift() is not None
    while checker.drift() is not None:
        assert time.monotonic() - flushed_at < 2 * period, "not repaired within two periods"
        time.sleep(0.05)
    # counted right after the repair completes: poll briefly for the counter (>= 1: the
    # iptables flush is two commands, the agent may repair between them)
    pattern = re.compile(rf'podwarden_rules_repairs_total{{backend="{backend}"}} ([0-9.]+)')
    deadline = time.monotonic() + 3
    while True:
        body = str(lab.get(lab.node, f"http://{HEALTH}/metrics")["body"])
        found = pattern.search(body)
        if found and float(found.group(1)) >= 1:
            break
        assert time.monotonic() < deadline, [ln for ln in body.splitlines() if "repairs" in ln]
        time.sleep(0.1)
    assert lab.pod_leaks() == []
    stop(agent)
    assert agent.returncode == 0
    # Rules stay when the agent stops: the pod is refused, never served upstream.
    after = lab.get(lab.pod, IMDS)
    assert after["outcome"] == "refused", after
    assert checker.drift() is None
    assert lab.pod_leaks() == []


@pytest.mark.parametrize("backend", ["nft", "iptables-legacy"])
def test_twenty_agent_restarts_under_load_leak_nothing(lab: Lab, backend: str):
    lab.podwarden(*rules_apply_args(backend=backend, fail_closed_only=True))  # the init container
    stop_file = Path(tempfile.mkdtemp(prefix="pw5-")) / "stop"
    client = lab.spawn(
        lab.pod, lab.helper("client", "loop", IMDS, "300", str(stop_file)), wait_line=None
    )
    waits: list[float] = []
    try:
        for round_ in range(20):
            log = stop_file.parent / f"agent-{round_}.log"
            agent = start_agent(lab, backend, period=0.5, log_level="info", stderr_to=log)
            waits.append(wait_installed(agent, log))
            time.sleep(0.1)  # some requests are served by this incarnation
            stop(agent, sig=signal.SIGKILL if round_ % 2 else signal.SIGTERM)  # crash or stop
    finally:
        stop_file.touch()
    assert client.stdout is not None
    counts = json.loads(client.stdout.readline())
    assert lab.pod_leaks() == [], f"{len(lab.pod_leaks())} pod requests reached the real service"
    assert counts.get("ok", 0) > 0 and counts.get("refused", 0) > 0, counts
    assert set(counts) <= {"ok", "refused"}, counts  # never a hang, never another error
    served = [line for line in lab.upstream_clients() if line.startswith("10.56.")]
    print(f"agent ready after {sorted(waits)[10]:.2f}s (median of 20)")
    assert served, "the proxy never forwarded anything: the test proved nothing"
