"""`kubectl podwarden …` through the real kubectl binary, which finds the plugin on PATH,
against the lab API server: `why`, `audit`, `nodeauth report`, and kubectl's global flags
(--kubeconfig, $KUBECONFIG with several files, --context, -n, the context's namespace)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .test_kubectl import kubectl

pytestmark = pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl not installed")
ROOT = Path(__file__).resolve().parents[3]
DATA = Path(__file__).parent / "data"
VENV_BIN = Path(sys.executable).parent


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """The venv's bin first on PATH (where pip puts kubectl-podwarden), a home of our own."""
    home = tmp_path / "home"
    home.mkdir()
    return {
        **{k: v for k, v in os.environ.items() if k != "KUBECONFIG"},
        "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        "HOME": str(home),
        "KUBECACHEDIR": str(tmp_path / "cache"),
    }


def run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["kubectl", *args], capture_output=True, text=True, timeout=120, env=env, check=False
    )


@pytest.fixture
def cluster(lab, kubeconfig: Path) -> Path:
    kubectl(kubeconfig, "apply", "-f", str(DATA / "audit-cluster.yaml"))
    kubectl(kubeconfig, "apply", "-f", str(ROOT / "deploy" / "crds"))
    kubectl(kubeconfig, "wait", "--for=condition=Established", "crd", "--all", "--timeout=20s")
    kubectl(
        kubeconfig, "apply", "-f", str(ROOT / "examples" / "psp-walkthrough" / "policy-crd.yaml")
    )
    walkthrough = ROOT / "examples" / "psp-walkthrough" / "pod-rootfs.yaml"
    moved = kubeconfig.parent / "pod-rootfs-team-a.yaml"
    moved.write_text(walkthrough.read_text().replace("namespace: default", "namespace: team-a"))
    kubectl(kubeconfig, "apply", "-f", str(moved))
    return kubeconfig


def test_kubectl_discovers_the_plugin(env: dict[str, str]) -> None:
    listed = run(env, "plugin", "list")
    assert f"{VENV_BIN}/kubectl-podwarden" in listed.stdout, listed.stdout + listed.stderr
    shown = run(env, "podwarden", "--help")
    assert shown.returncode == 0 and "why" in shown.stdout and "audit" in shown.stdout


def test_why_names_the_policy_its_patch_the_pss_level_and_the_role(
    cluster: Path, env: dict[str, str]
) -> None:
    kubectl(cluster, "apply", "-f", str(DATA / "psp-rbac.yaml"))
    result = run(env, "podwarden", "why", "rootfs", "-n", "team-a", "--kubeconfig", str(cluster))
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert out.startswith("pod team-a/rootfs (node -, service account default)")
    assert "today: admitted by 'example' (usable by system:serviceaccount:team-a:default)" in out
    assert (
        "add /spec/containers/0/securityContext "
        "{'capabilities': {'drop': ['NET_RAW', 'SYS_CHROOT']}}" in out
    )
    assert "restricted:latest" in out and "hostPath volumes" in out
    assert "baseline   baseline:latest      fails: hostPath volumes" in out

    web = run(
        env,
        "podwarden",
        "why",
        "pod/web",
        "-n",
        "team-a",
        "--kubeconfig",
        str(cluster),
        "-o",
        "json",
    )
    answer = json.loads(web.stdout)
    assert answer["identity"] == [
        {
            "annotation": "iam.amazonaws.com/role",
            "role": "reader",
            "permitted": True,
            "why": "role 'reader' matches 'reader' in iam.amazonaws.com/allowed-roles",
        }
    ]
    assert answer["metadataFirewall"] == []


def test_without_a_use_grant_the_policy_does_not_admit(cluster: Path, env: dict[str, str]) -> None:
    result = run(env, "podwarden", "why", "rootfs", "-n", "team-a", "--kubeconfig", str(cluster))
    assert "today: refused for system:serviceaccount:team-a:default" in result.stdout


def test_why_shows_an_unpermitted_role_and_a_bypass(cluster: Path, env: dict[str, str]) -> None:
    intruder = run(
        env, "podwarden", "why", "intruder", "-n", "team-a", "--kubeconfig", str(cluster)
    )
    assert (
        "iam.amazonaws.com/role=<img src=x onerror=alert(1)>admin: NOT permitted" in intruder.stdout
    )
    sniffer = run(env, "podwarden", "why", "sniffer", "-n", "team-a", "--kubeconfig", str(cluster))
    assert "high: adds NET_ADMIN/NET_RAW" in sniffer.stdout


def test_a_missing_pod_is_exit_1(cluster: Path, env: dict[str, str]) -> None:
    result = run(env, "podwarden", "why", "ghost", "-n", "team-a", "--kubeconfig", str(cluster))
    assert result.returncode == 1
    assert 'pod "ghost" in namespace "team-a": 404 NotFound' in result.stderr


def write_config(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_kubeconfig_env_with_several_files_context_and_namespace(
    lab, cluster: Path, env: dict[str, str], tmp_path: Path
) -> None:
    # file 1 names the current context and a dead cluster; file 2 holds the lab's context
    first = write_config(
        tmp_path / "one",
        "apiVersion: v1\nkind: Config\ncurrent-context: lab-team-a\n"
        "clusters: [{name: dead, cluster: {server: 'http://127.0.0.1:9'}}]\n"
        "users: [{name: u, user: {}}]\n"
        "contexts: [{name: dead, context: {cluster: dead, user: u}}]\n",
    )
    second = write_config(
        tmp_path / "two",
        f"apiVersion: v1\nkind: Config\ncurrent-context: dead\n"
        f"clusters: [{{name: lab, cluster: {{server: '{lab.url}'}}}}]\n"
        "users: [{name: u, user: {}}]\n"
        "contexts: [{name: lab-team-a, context: {cluster: lab, user: u, namespace: team-a}}]\n",
    )
    env = {**env, "KUBECONFIG": f"{first}{os.pathsep}{second}"}
    # kubectl itself agrees on the cluster and namespace
    assert "web" in run(env, "get", "pods", "-o", "name").stdout
    found = run(env, "podwarden", "why", "web")
    assert found.returncode == 0, found.stderr
    assert found.stdout.startswith("pod team-a/web")
    dead = run(env, "podwarden", "why", "web", "--context", "dead")
    assert dead.returncode == 2 and "cannot reach the API server" in dead.stderr
    before = run(env, "podwarden", "--context", "lab-team-a", "-n", "locked", "why", "api")
    assert before.returncode == 0 and before.stdout.startswith("pod locked/api"), before.stderr
    unknown = run(env, "podwarden", "why", "web", "--context", "nope")
    assert unknown.returncode == 2 and "context 'nope' not found" in unknown.stderr


def test_audit_through_kubectl(cluster: Path, env: dict[str, str]) -> None:
    result = run(env, "podwarden", "audit", "--kubeconfig", str(cluster), "--format", "json")
    assert result.returncode == 1
    report = json.loads(result.stdout)
    subjects = {f["subject"] for f in report["findings"]}
    assert {"node node-3", "pod locked/legacy-priv", "pod team-a/intruder"} <= subjects
    one = run(
        env, "podwarden", "audit", "--kubeconfig", str(cluster), "-n", "locked", "--format", "json"
    )
    limited = {f["subject"] for f in json.loads(one.stdout)["findings"]}
    assert "pod locked/legacy-priv" in limited and "pod team-a/intruder" not in limited
    assert [n["name"] for n in json.loads(one.stdout)["namespaces"]] == ["locked"]


def test_nodeauth_report_hands_over_to_podwarden_nodeauth_report(
    env: dict[str, str], tmp_path: Path
) -> None:
    cluster = tmp_path / "cluster.yaml"
    cluster.write_text(NODEAUTH_CLUSTER)
    result = run(env, "podwarden", "nodeauth", "report", "--cluster-file", str(cluster))
    assert result.returncode == 0, result.stderr
    assert "2 nodes, 2 pods" in result.stdout
    as_json = run(
        env, "podwarden", "nodeauth", "report", "--cluster-file", str(cluster), "--format", "json"
    )
    nodes = {n["node"]: n for n in json.loads(as_json.stdout)["nodes"]}
    assert nodes["n1"]["secrets"] == 1 and nodes["n2"]["secrets"] == 0


NODEAUTH_CLUSTER = """
apiVersion: v1
kind: Pod
metadata: {name: a, namespace: team}
spec:
  nodeName: n1
  containers: [{name: c, image: x}]
  volumes: [{name: s, secret: {secretName: only-on-n1}}]
---
apiVersion: v1
kind: Pod
metadata: {name: b, namespace: team}
spec:
  nodeName: n2
  containers: [{name: c, image: x}]
"""
