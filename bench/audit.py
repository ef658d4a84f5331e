"""`podwarden audit` on a seeded cluster of realistic size, against the peer in the same run.

The lab API server is seeded with N pods (default 1,000) over 50 namespaces and 20 nodes,
a mix of plain, restricted-ready, host-network, NET_RAW, privileged and role-annotated
pods, and an agent per node but one. Measured, each best of REPEATS runs:

- `podwarden audit --kubeconfig … --format json` as a user runs it (process start, list,
  judge, render);
- the peer: `kubectl get namespaces,nodes,pods,configmaps -A -o json` — the same objects
  listed by kubectl alone, what any audit has to pay before it judges anything;
- the judging alone (`scan.run` on the snapshot, in process).

Timings are reported with their ratio to the peer, never asserted.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import requests

from bench import report
from podwarden.audit import cluster_commands, scan
from podwarden.kube import client
from podwarden.lab.apiserver.server import ServerThread

PODS = int(os.environ.get("BENCH_AUDIT_PODS", "1000"))
NAMESPACES = 50
NODES = 20
REPEATS = 3


def _pod(index: int) -> tuple[str, dict[str, Any]]:
    namespace = f"team-{index % NAMESPACES:02d}"
    container: dict[str, Any] = {"name": "app", "image": f"registry.example/app:{index % 7}"}
    spec: dict[str, Any] = {"nodeName": f"node-{index % NODES:02d}", "containers": [container]}
    annotations = {}
    kind = index % 10
    if kind in (0, 1, 2):
        container["securityContext"] = {
            "allowPrivilegeEscalation": False,
            "capabilities": {"drop": ["ALL"]},
            "runAsNonRoot": True,
            "seccompProfile": {"type": "RuntimeDefault"},
        }
    elif kind == 3:
        spec["hostNetwork"] = True
    elif kind == 4:
        container["securityContext"] = {"capabilities": {"add": ["NET_RAW"]}}
    elif kind == 5 and index % 50 == 5:
        container["securityContext"] = {"privileged": True}
    elif kind in (6, 7):
        annotations["iam.amazonaws.com/role"] = f"role-{index % 4}"
    body = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": f"app-{index:05d}", "annotations": annotations},
        "spec": spec,
        "status": {"phase": "Running", "qosClass": "BestEffort"},
    }
    return namespace, body


def seed(url: str) -> None:
    http = requests.Session()
    for i in range(NAMESPACES):
        labels = {"pod-security.kubernetes.io/enforce": "baseline"} if i % 3 == 0 else {}
        annotations = {"iam.amazonaws.com/allowed-roles": '["role-0", "role-1"]'}
        http.post(
            f"{url}/api/v1/namespaces",
            json={
                "metadata": {"name": f"team-{i:02d}", "labels": labels, "annotations": annotations}
            },
        ).raise_for_status()
    for i in range(NODES):
        http.post(
            f"{url}/api/v1/nodes", json={"metadata": {"name": f"node-{i:02d}"}}
        ).raise_for_status()
    for i in range(NODES - 1):
        agent = {
            "metadata": {
                "name": f"podwarden-agent-{i:02d}",
                "labels": {"app.kubernetes.io/name": "podwarden-agent"},
            },
            "spec": {
                "nodeName": f"node-{i:02d}",
                "hostNetwork": True,
                "containers": [{"name": "agent", "image": "podwarden"}],
            },
            "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]},
        }
        http.post(f"{url}/api/v1/namespaces/kube-system/pods", json=agent).raise_for_status()
    http.post(
        f"{url}/api/v1/namespaces/kube-system/configmaps",
        json={
            "metadata": {"name": "podwarden-agent"},
            "data": {"agent.yaml": "pod_cgroup: kubepods.slice\n"},
        },
    ).raise_for_status()
    for i in range(PODS):
        namespace, body = _pod(i)
        http.post(f"{url}/api/v1/namespaces/{namespace}/pods", json=body).raise_for_status()


def best(command: list[str]) -> tuple[float, subprocess.CompletedProcess[str]]:
    times = []
    result = None
    for _ in range(REPEATS):
        started = time.perf_counter()
        result = subprocess.run(command, capture_output=True, text=True, timeout=300)
        times.append(time.perf_counter() - started)
    assert result is not None
    return min(times), result


def main() -> None:
    with ServerThread() as lab, tempfile.TemporaryDirectory() as tmp:
        seed(lab.url)
        config = Path(tmp) / "kubeconfig"
        config.write_text(
            "apiVersion: v1\nkind: Config\ncurrent-context: lab\n"
            f"clusters: [{{name: lab, cluster: {{server: '{lab.url}'}}}}]\n"
            "users: [{name: lab, user: {}}]\n"
            "contexts: [{name: lab, context: {cluster: lab, user: lab}}]\n"
        )
        env_kubectl = [
            "kubectl",
            f"--kubeconfig={config}",
            "get",
            "namespaces,nodes,pods,configmaps",
            "-A",
            "-o",
            "json",
        ]
        peer, _ = best(env_kubectl)
        audit = [
            sys.executable,
            "-m",
            "podwarden",
            "audit",
            "--kubeconfig",
            str(config),
            "--format",
            "json",
            "--fail-on",
            "never",
        ]
        ours, result = best(audit)
        findings = result.stdout.count('"check":')
        settings = scan.Settings()
        snap = asyncio.run(cluster_commands.read_api(client.from_kubeconfig(config), settings))
        judge_times = []
        for _ in range(REPEATS):
            started = time.perf_counter()
            scan.run(snap, settings)
            judge_times.append(time.perf_counter() - started)
    rows = [
        {
            "case": f"podwarden audit, {PODS} pods (process, list, judge, JSON)",
            "seconds": ours,
            "ratio_to_peer": ours / peer,
            "findings": findings,
        },
        {
            "case": "peer: kubectl get ns,nodes,pods,cm -A -o json (list only)",
            "seconds": peer,
            "ratio_to_peer": 1.0,
            "findings": None,
        },
        {
            "case": "judging alone (scan.run, in process)",
            "seconds": min(judge_times),
            "ratio_to_peer": min(judge_times) / peer,
            "findings": findings,
        },
    ]
    print(report.table(f"audit: {PODS} pods, {NAMESPACES} namespaces, {NODES} nodes", rows))
    print(f"saved {report.save('audit', rows)}")


if __name__ == "__main__":
    main()
