"""kubectl itself against the lab API server: get, watch, annotate, label, apply, delete."""

from __future__ import annotations

import json
import os
import select
import subprocess
import time
from pathlib import Path

import pytest
import requests

from .conftest import pod_body

pytestmark = pytest.mark.peers("kubectl")


def kubectl(kubeconfig: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        ["kubectl", f"--kubeconfig={kubeconfig}", "--request-timeout=10s", *args],
        capture_output=True,
        text=True,
        timeout=30,
        env={**os.environ, "KUBECACHEDIR": str(kubeconfig.parent / "cache")},
    )
    if check and result.returncode != 0:
        raise AssertionError(f"kubectl {' '.join(args)} failed: {result.stderr}")
    return result


def create(lab, http: requests.Session, namespace: str, body: dict) -> dict:
    response = http.post(f"{lab.url}/api/v1/namespaces/{namespace}/pods", json=body)
    assert response.status_code == 201, response.text
    return response.json()


def test_get_pods_in_all_namespaces(lab, http, kubeconfig) -> None:
    http.post(f"{lab.url}/api/v1/namespaces", json={"metadata": {"name": "team-a"}})
    create(lab, http, "default", pod_body("web", ip="10.0.0.7"))
    create(lab, http, "team-a", pod_body("worker", ip="10.0.0.8"))
    out = kubectl(kubeconfig, "get", "pods", "-A", "-o", "wide").stdout.splitlines()
    assert out[0].split()[:6] == ["NAMESPACE", "NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    rows = {tuple(line.split()[:2]): line.split() for line in out[1:]}
    assert set(rows) == {("default", "web"), ("team-a", "worker")}
    assert "10.0.0.7" in rows[("default", "web")] and "node-a" in rows[("default", "web")]


def test_get_json_is_the_stored_object(lab, http, kubeconfig) -> None:
    created = create(lab, http, "default", pod_body("web", ip="10.0.0.7"))
    shown = json.loads(kubectl(kubeconfig, "get", "pod", "web", "-o", "json").stdout)
    assert shown["metadata"]["uid"] == created["metadata"]["uid"]
    assert shown["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"]
    assert shown["status"]["podIPs"] == [{"ip": "10.0.0.7"}]


def test_annotate_and_label_then_select(lab, http, kubeconfig) -> None:
    create(lab, http, "default", pod_body("web"))
    create(lab, http, "default", pod_body("db"))
    kubectl(kubeconfig, "annotate", "pods", "web", "iam.amazonaws.com/role=reader")
    kubectl(kubeconfig, "label", "pods", "web", "tier=front")
    stored = http.get(f"{lab.url}/api/v1/namespaces/default/pods/web").json()
    assert stored["metadata"]["annotations"] == {"iam.amazonaws.com/role": "reader"}
    assert stored["metadata"]["labels"] == {"tier": "front"}
    names = kubectl(kubeconfig, "get", "pods", "-l", "tier=front", "-o", "name").stdout.split()
    assert names == ["pod/web"]
    names = kubectl(kubeconfig, "get", "pods", "-l", "!tier", "-o", "name").stdout.split()
    assert names == ["pod/db"]
    kubectl(kubeconfig, "annotate", "pods", "web", "iam.amazonaws.com/role-")
    stored = http.get(f"{lab.url}/api/v1/namespaces/default/pods/web").json()
    assert "iam.amazonaws.com/role" not in (stored["metadata"].get("annotations") or {})
    refused = kubectl(
        kubeconfig, "annotate", "pods", "web", "a=b", "--resource-version=1", check=False
    )
    assert refused.returncode != 0
    assert "Error from server (Conflict)" in refused.stderr


MANIFEST = """\
apiVersion: v1
kind: Pod
metadata:
  name: applied
  labels: {{app: demo}}
  annotations: {{note: "{note}"}}
spec:
  containers:
  - name: main
    image: {image}
    ports: [{{containerPort: 80}}]
"""


def test_apply_creates_configures_and_leaves_unchanged(lab, kubeconfig, tmp_path) -> None:
    manifest = tmp_path / "pod.yaml"
    manifest.write_text(MANIFEST.format(note="one", image="nginx:1.25"))
    assert kubectl(kubeconfig, "apply", "-f", str(manifest)).stdout.strip() == "pod/applied created"
    manifest.write_text(MANIFEST.format(note="two", image="nginx:1.27"))
    assert kubectl(kubeconfig, "apply", "-f", str(manifest)).stdout.strip() == (
        "pod/applied configured"
    )
    assert kubectl(kubeconfig, "apply", "-f", str(manifest)).stdout.strip() == (
        "pod/applied unchanged"
    )
    stored = lab.call(
        lambda: lab.server.storage.get(lab.server.storage_type("pods"), "default", "applied")
    )
    assert stored["metadata"]["annotations"]["note"] == "two"
    assert "kubectl.kubernetes.io/last-applied-configuration" in stored["metadata"]["annotations"]
    assert stored["spec"]["containers"][0]["image"] == "nginx:1.27"
    assert stored["spec"]["containers"][0]["ports"] == [{"containerPort": 80}]
    assert stored["metadata"]["generation"] == 2


def test_delete_then_not_found(lab, http, kubeconfig) -> None:
    create(lab, http, "default", pod_body("web"))
    assert kubectl(kubeconfig, "delete", "pod", "web").stdout.strip() == 'pod "web" deleted'
    missing = kubectl(kubeconfig, "get", "pod", "web", check=False)
    assert missing.returncode == 1
    assert missing.stderr.strip() == 'Error from server (NotFound): pods "web" not found'


class LineReader:
    """Lines from a running process's stdout, read without blocking past a deadline."""

    def __init__(self, process: subprocess.Popen[bytes]) -> None:
        assert process.stdout is not None
        self.fd = process.stdout.fileno()
        self.buffer = b""
        self.lines: list[str] = []

    def until(self, wanted: str, deadline: float) -> list[str]:
        start = len(self.lines)
        while time.monotonic() < deadline:
            while b"\n" in self.buffer:
                line, self.buffer = self.buffer.split(b"\n", 1)
                self.lines.append(line.decode())
                if wanted in self.lines[-1]:
                    return self.lines[start:]
            ready, _, _ = select.select([self.fd], [], [], 0.1)
            if ready:
                chunk = os.read(self.fd, 65536)
                if not chunk:
                    break
                self.buffer += chunk
        raise AssertionError(f"{wanted!r} not seen; got {self.lines[start:]}")


def test_get_watch_streams_new_and_changed_pods(lab, http, kubeconfig) -> None:
    create(lab, http, "default", pod_body("first"))
    process = subprocess.Popen(
        ["kubectl", f"--kubeconfig={kubeconfig}", "get", "pods", "-w"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "KUBECACHEDIR": str(kubeconfig.parent / "cache")},
    )
    reader = LineReader(process)
    try:
        deadline = time.monotonic() + 15
        header = reader.until("first", deadline)
        assert header[0].split() == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
        create(lab, http, "default", pod_body("second"))
        assert reader.until("second", deadline)[-1].split()[:3] == ["second", "0/1", "Pending"]
        http.patch(
            f"{lab.url}/api/v1/namespaces/default/pods/second/status",
            headers={"Content-Type": "application/merge-patch+json"},
            data=json.dumps({"status": {"phase": "Running"}}),
        ).raise_for_status()
        assert "Running" in reader.until("Running", deadline)[-1]
    finally:
        process.kill()
        process.wait(timeout=5)


def test_server_side_dry_run_and_diff_change_nothing(lab, kubeconfig, tmp_path) -> None:
    manifest = tmp_path / "pod.yaml"
    manifest.write_text(MANIFEST.format(note="one", image="nginx:1.25"))
    dry = kubectl(kubeconfig, "apply", "-f", str(manifest), "--dry-run=server")
    assert dry.stdout.strip() == "pod/applied created (server dry run)"
    assert kubectl(kubeconfig, "get", "pods", "-o", "name").stdout.strip() == ""
    kubectl(kubeconfig, "apply", "-f", str(manifest))
    version = lab.call(lambda: lab.server.storage.version)
    manifest.write_text(MANIFEST.format(note="two", image="nginx:1.25"))
    diff = kubectl(kubeconfig, "diff", "-f", str(manifest), check=False)
    assert diff.returncode == 1  # differences found
    assert "-    note: one" in diff.stdout and "+    note: two" in diff.stdout
    assert lab.call(lambda: lab.server.storage.version) == version


def test_generator_commands_get_a_clear_415(lab, kubeconfig) -> None:
    refused = kubectl(kubeconfig, "create", "namespace", "team", check=False)
    assert refused.returncode == 1
    assert refused.stderr.startswith("Error from server (UnsupportedMediaType)")
    assert "use `kubectl create -f` or `apply -f` instead" in refused.stderr


def test_delete_waits_for_a_terminating_pod(lab, http, kubeconfig) -> None:
    lab.call(lambda: setattr(lab.server.storage, "pod_termination", 0.5))
    create(lab, http, "default", pod_body("slow"))
    started = time.monotonic()
    kubectl(kubeconfig, "delete", "pod", "slow", "--wait=false")
    status = kubectl(kubeconfig, "get", "pod", "slow", "--no-headers").stdout.split()
    assert status[2] == "Terminating"
    kubectl(kubeconfig, "wait", "--for=delete", "pod/slow", "--timeout=10s")
    assert time.monotonic() - started >= 0.5
    forced = create(lab, http, "default", pod_body("forced"))
    kubectl(kubeconfig, "delete", "pod", "forced", "--grace-period=0", "--force")
    assert http.get(f"{lab.url}/api/v1/namespaces/default/pods/forced").status_code == 404
    assert forced["metadata"]["name"] == "forced"
