"""`podwarden audit` against the lab API server, seeded with real `kubectl apply`; the same
cluster dumped by `kubectl get -o yaml` and read with --cluster-file; the HTML report as
headless Chromium renders it."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from podwarden.testing import browser

from .test_kubectl import kubectl

pytestmark = pytest.mark.peers("kubectl")
DATA = Path(__file__).parent / "data" / "audit-cluster.yaml"
PODWARDEN = [sys.executable, "-m", "podwarden"]


def podwarden(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*PODWARDEN, *args], capture_output=True, text=True, timeout=120, env=dict(os.environ)
    )


@pytest.fixture
def seeded(lab, kubeconfig: Path) -> Path:
    kubectl(kubeconfig, "apply", "-f", str(DATA))
    return kubeconfig


def findings(report: dict[str, Any]) -> dict[tuple[str, str], str]:
    return {(f["check"], f["subject"]): f["severity"] for f in report["findings"]}


EXPECTED = {
    ("agent-missing", "node node-3"): "critical",
    ("agent-not-ready", "node node-2"): "medium",
    ("firewall-bypass", "pod locked/legacy-priv"): "critical",
    ("firewall-bypass", "pod team-a/sniffer"): "high",
    ("firewall-bypass", "pod team-a/node-exporter-node-1"): "high",
    ("role-not-permitted", "pod team-a/intruder"): "medium",
    ("pss-existing-violations", "namespace locked"): "medium",
    ("pss-unlabelled", "namespace team-a"): "low",
    # the log shipper's DaemonSet mounts one secret on every node: any kubelet reads it
    ("node-blast-radius", "Secret kube-system/shipper-token"): "high",
}
NOT_EXPECTED = [
    ("agent-missing", "node node-1"),
    ("firewall-bypass", "pod team-a/metrics"),  # host network, caught by the pod cgroup
    ("firewall-bypass", "pod kube-system/podwarden-agent-a"),  # the agent itself
    ("role-not-permitted", "pod team-a/web"),  # reader is permitted
    ("pss-unlabelled", "namespace locked"),
]


def test_audit_of_a_live_cluster(seeded: Path) -> None:
    result = podwarden("audit", "--kubeconfig", str(seeded), "--format", "json")
    assert result.returncode == 1, result.stderr  # critical findings reach --fail-on high
    report = json.loads(result.stdout)
    got = findings(report)
    assert EXPECTED.items() <= got.items()
    assert not [key for key in NOT_EXPECTED if key in got]
    assert report["counts"]["pods"] == 12 and report["counts"]["nodes"] == 3
    team = next(n for n in report["namespaces"] if n["name"] == "team-a")
    assert team["dryRun"]["baseline"]["warnings"] == [
        'existing pods in namespace "team-a" violate the new PodSecurity enforce level '
        '"baseline:latest"',
        "metrics (and 1 other pod): host namespaces",
        "sniffer: non-default capabilities",
    ]
    assert team["dryRun"]["restricted"]["violatingPods"] == 5


def test_a_kubectl_dump_read_as_a_cluster_file_gives_the_same_findings(
    seeded: Path, tmp_path: Path
) -> None:
    dump = kubectl(seeded, "get", "namespaces,nodes,pods,configmaps", "-A", "-o", "yaml").stdout
    path = tmp_path / "dump.yaml"
    path.write_text(dump, encoding="utf-8")
    from_file = podwarden("audit", "--cluster-file", str(path), "--format", "json")
    live = podwarden("audit", "--kubeconfig", str(seeded), "--format", "json")
    assert from_file.returncode == live.returncode == 1
    assert findings(json.loads(from_file.stdout)) == findings(json.loads(live.stdout))


def test_fail_on_and_table(seeded: Path) -> None:
    result = podwarden("audit", "--kubeconfig", str(seeded), "--fail-on", "never")
    assert result.returncode == 0
    assert re.search(r"critical\s+agent-missing\s+node node-3", result.stdout)
    assert 'Warning: existing pods in namespace "team-a" violate' in result.stdout
    assert "node blast radius: 3 node(s) judged" in result.stdout
    assert re.search(
        r"high\s+node-blast-radius\s+Secret kube-system/shipper-token\s+secret "
        r"kube-system/shipper-token is readable from all 3 nodes through DaemonSet "
        r"kube-system/log-shipper",
        result.stdout,
    ), result.stdout


def test_an_unreachable_api_server_exits_2(tmp_path: Path) -> None:
    config = tmp_path / "kubeconfig"
    config.write_text(
        "apiVersion: v1\nkind: Config\nclusters: [{name: x, cluster: {server: 'http://127.0.0.1:9'}}]\n"
        "contexts: [{name: x, context: {cluster: x, user: x}}]\ncurrent-context: x\n"
        "users: [{name: x, user: {}}]\n"
    )
    result = podwarden("audit", "--kubeconfig", str(config))
    assert result.returncode == 2
    assert "cannot reach the API server" in result.stderr


def test_html_report_in_headless_chromium(seeded: Path, tmp_path: Path) -> None:
    if browser.chromium() is None:
        pytest.skip("chromium not installed (make setup installs it as root)")
    page = tmp_path / "audit.html"
    result = podwarden(
        "audit", "--kubeconfig", str(seeded), "--format", "html", "--output", str(page)
    )
    assert result.returncode == 1 and f"report written to {page}" in result.stderr
    source = page.read_text(encoding="utf-8")
    # one self-contained page: nothing to fetch, no script
    assert not re.search(r"""<[^>]*\s(src|href)\s*=|url\(|@import|<script|<link""", source, re.I)
    dom = browser.dump_dom(page)
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", dom))
    assert "podwarden cluster audit" in text
    assert "Nodes without the agent (1)" in text and "node node-3" in text
    assert "Pods that can bypass the metadata firewall (3)" in text
    assert "pod locked/legacy-priv" in text and "pod team-a/metrics" not in text
    # the attacker's annotation is text on the page, never an element
    assert "<img" not in dom.split("<body", 1)[1].replace("&lt;img", "")
    assert "&lt;img src=x onerror=alert(1)&gt;admin" in dom
    # the severity cards show the counts
    assert re.search(r"2\s*critical", text, re.I) and re.search(r"3\s*high", text, re.I)
    shot = browser.screenshot(page, tmp_path / "audit.png")
    assert shot.stat().st_size > 20_000  # a rendered page, not a blank one
    keep = os.environ.get("PODWARDEN_KEEP_SCREENSHOT")
    if keep:
        Path(keep).write_bytes(shot.read_bytes())
