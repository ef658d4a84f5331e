"""`podwarden lab up` runs the lab API server: lab pods are Pod objects, identity follows them.

Real kubectl (in the node namespace, the kubeconfig the lab wrote) lists
the lab's pods with the addresses their namespaces really have; annotating
a pod changes what that pod — and only that pod — reads at the metadata
address, through the agent's real netfilter rules. With `--sts moto` the
role is really assumed (awscli's `sts get-caller-identity` in the pod).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from podwarden.api import metadata_addresses
from podwarden.lab import cluster, files, launch, moto, state, topology
from podwarden.lab import plan as lab_plan

from .conftest import assert_clean

pytestmark = [pytest.mark.timeout(180), pytest.mark.peers("kubectl", "moto", "botocore", "awscli")]
PODWARDEN = topology.podwarden_argv()
ROLES_URL = f"http://{metadata_addresses.IMDS_V4}/latest/meta-data/iam/security-credentials/"
ROLES_URL6 = f"http://[{metadata_addresses.IMDS_V6}]/latest/meta-data/iam/security-credentials/"
ROLE_KEY = "iam.amazonaws.com/role"


def cli(
    where, *args: str, env: dict[str, str] | None = None, timeout: float = 90
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*PODWARDEN, *args],
        capture_output=True,
        text=True,
        env={**where.env, **(env or {})},
        timeout=timeout,
        check=False,
    )


def kubectl(the_lab: topology.Lab, *args: str) -> str:
    done = the_lab.kubectl(*args)
    assert done.returncode == 0, done.stderr
    return done.stdout


def get(the_lab: topology.Lab, pod: str, url: str) -> tuple[int, str]:
    """(HTTP status, body) of a curl from `pod` (status 0 when nothing answered)."""
    done = the_lab.exec(pod, ["curl", "-s", "-g", "-m", "5", "-w", "\n%{http_code}", url])
    body, _, status = done.stdout.rpartition("\n")
    return int(status or 0), body


def until(
    probe: Callable[[], tuple[int, str]], want: Callable[[int, str], bool]
) -> tuple[int, str]:
    """Repeat `probe` until `want` holds (a watch event takes a moment), at most 10 s."""
    deadline = time.monotonic() + 10
    while True:
        seen = probe()
        if want(*seen) or time.monotonic() > deadline:
            return seen
        time.sleep(0.2)


def test_kubectl_lists_the_lab_pods_and_identity_follows_their_annotations(where):
    up = cli(where, "lab", "up", "--pods", "2")
    recorded = state.load(state_dir=where.state_dir)
    try:
        assert up.returncode == 0, up.stderr
        assert recorded is not None
        the_lab = topology.load(state_dir=where.state_dir)
        kubeconfig = the_lab.kubeconfig
        assert kubeconfig == files.kubeconfig_path(where.state_dir) and kubeconfig.exists()
        assert f"kubeconfig: {kubeconfig}" in up.stdout
        assert f"kubeconfig {kubeconfig}" in cli(where, "lab", "status").stdout
        status = json.loads(cli(where, "lab", "status", "--format", "json").stdout)
        assert status["kubeconfig"] == str(kubeconfig)
        assert status["processes_alive"] == {"cloud": True, "apiserver": True, "agent": True}

        # real kubectl, the lab's kubeconfig, from the node namespace
        argv = ["kubectl", "--kubeconfig", str(kubeconfig), "get", "pods", "-A", "-o", "wide"]
        listed = subprocess.run(
            ["ip", "netns", "exec", the_lab.plan.node, *argv],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        assert listed.returncode == 0, listed.stderr
        rows = [line.split() for line in listed.stdout.splitlines()]
        assert rows[0][:2] == ["NAMESPACE", "NAME"] and rows[0][-2:] == ["IP", "NODE"]
        # the lab's netns pods (node B's pods and the log shipper's exist in the API only)
        netns_pods = [r for r in rows[1:] if r[1] in ("pod-a", "pod-b")]
        assert sorted((r[0], r[1], r[3], r[-2], r[-1]) for r in netns_pods) == [
            ("default", "pod-a", "Running", "10.77.1.2", cluster.NODE_NAME),
            ("default", "pod-b", "Running", "10.77.2.2", cluster.NODE_NAME),
        ]
        pods = json.loads(kubectl(the_lab, "get", "pods", "-o", "json"))["items"]
        assert {
            p["metadata"]["name"]: p["status"]["podIPs"] for p in pods if "podIPs" in p["status"]
        } == {
            "pod-a": [{"ip": "10.77.1.2"}, {"ip": "fd77:0:1::2"}],
            "pod-b": [{"ip": "10.77.2.2"}, {"ip": "fd77:0:2::2"}],
        }
        nodes = kubectl(the_lab, "get", "nodes", "--no-headers").split()
        assert nodes[:2] == [cluster.NODE_NAME, "Ready"]
        # `lab kubectl` is the same kubectl, for people
        via_cli = cli(where, "lab", "kubectl", "--", "get", "pod", "pod-b", "-o", "name")
        assert via_cli.returncode == 0 and via_cli.stdout.strip() == "pod/pod-b", via_cli.stderr

        # no annotation: no role
        assert get(the_lab, "pod-a", ROLES_URL)[0] == 404
        # annotated, but the namespace permits no role (fail closed): still none
        kubectl(the_lab, "annotate", "pod", "pod-a", f"{ROLE_KEY}=reader")
        time.sleep(1.0)  # the agent has seen the event by now; it must still refuse
        assert get(the_lab, "pod-a", ROLES_URL)[0] == 404
        refused = kubectl(the_lab, "get", "events", "--field-selector", "involvedObject.name=pod-a")
        assert "IdentityNotPermitted" in refused

        # the namespace permits it: pod-a (IPv4 and IPv6) sees its role, pod-b never does
        kubectl(
            the_lab,
            "annotate",
            "namespace",
            "default",
            'iam.amazonaws.com/allowed-roles=["reader"]',
        )
        for url in (ROLES_URL, ROLES_URL6):
            assert until(lambda u=url: get(the_lab, "pod-a", u), lambda s, b: s == 200) == (
                200,
                "reader",
            )
        assert get(the_lab, "pod-b", ROLES_URL)[0] == 404
        assert get(the_lab, "pod-b", ROLES_URL + "reader")[0] == 404
        # no STS in this lab: the role cannot be assumed, and the pod is told so in IMDS's shape
        code, body = get(the_lab, "pod-a", ROLES_URL + "reader")
        failure = json.loads(body)
        assert code == 200 and failure["Code"] != "Success" and "AccessKeyId" not in failure
        assert get(the_lab, "pod-a", ROLES_URL + "admin")[0] == 404  # not its role

        # the annotation removed: 404 again
        kubectl(the_lab, "annotate", "pod", "pod-a", f"{ROLE_KEY}-")
        assert until(lambda: get(the_lab, "pod-a", ROLES_URL), lambda s, b: s == 404)[0] == 404
    finally:
        down = cli(where, "lab", "down")
    assert down.returncode == 0, down.stderr
    assert_clean(where, recorded.processes if recorded else [])
    assert not files.kubeconfig_path(where.state_dir).exists()
    assert not files.apiserver_state_path(where.state_dir).exists()
    assert not files.kube_cache_path(where.state_dir).exists()  # `lab kubectl`'s cache too


AWS_IN_POD = {
    "AWS_ACCESS_KEY_ID": "",
    "AWS_SECRET_ACCESS_KEY": "",
    "AWS_SESSION_TOKEN": "",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_EC2_METADATA_SERVICE_ENDPOINT": f"http://{metadata_addresses.IMDS_V4}/",
    "AWS_METADATA_SERVICE_NUM_ATTEMPTS": "2",
}


def whoami(the_lab: topology.Lab, pod: str, nothing: Path) -> tuple[int, str]:
    """awscli's `sts get-caller-identity` in `pod`, credentials only from the metadata service."""
    aws = str(Path(sys.executable).with_name("aws"))
    done = the_lab.exec(
        pod,
        [aws, "--endpoint-url", moto.URL, "sts", "get-caller-identity"],
        env={
            **AWS_IN_POD,
            "AWS_SHARED_CREDENTIALS_FILE": str(nothing),
            "AWS_CONFIG_FILE": str(nothing),
        },
        timeout=60,
    )
    return done.returncode, done.stdout + done.stderr


def test_with_moto_the_annotated_pod_is_its_role_in_sts(where, tmp_path):
    # Whoever runs `lab up` may have AWS settings of their own: the node must not use them
    # (moto enforces IAM, so a foreign key could assume nothing; a missing profile would
    # stop botocore's chain).
    caller = {
        "AWS_PROFILE": "someone-elses-profile",
        "AWS_ACCESS_KEY_ID": "AKIACALLER0000000000",
        "AWS_SECRET_ACCESS_KEY": "caller-secret",
    }
    up = cli(where, "lab", "up", "--pods", "2", "--sts", "moto", env=caller)
    recorded = state.load(state_dir=where.state_dir)
    nothing = tmp_path / "no-aws-files"
    try:
        assert up.returncode == 0, up.stderr
        assert f"moto: {moto.URL}" in up.stdout
        the_lab = topology.load(state_dir=where.state_dir)
        assert the_lab.state.sts == "moto"
        node_keys = files.node_credentials_path(where.state_dir)
        assert node_keys.stat().st_mode & 0o077 == 0  # the node's keys: root only

        code, out = whoami(the_lab, "pod-a", nothing)
        assert code != 0 and "Unable to locate credentials" in out
        kubectl(
            the_lab,
            "annotate",
            "namespace",
            "default",
            'iam.amazonaws.com/allowed-roles=["reader"]',
        )
        kubectl(the_lab, "annotate", "pod", "pod-a", f"{ROLE_KEY}=reader")
        code, out = until(lambda: whoami(the_lab, "pod-a", nothing), lambda c, o: c == 0)
        assert code == 0, out
        arn = json.loads(out)["Arn"]
        assert arn.startswith("arn:aws:sts::123456789012:assumed-role/reader/"), arn
        # the other pod never sees it
        code, out = whoami(the_lab, "pod-b", nothing)
        assert code != 0 and "Unable to locate credentials" in out
        assert get(the_lab, "pod-b", ROLES_URL)[0] == 404

        kubectl(the_lab, "annotate", "pod", "pod-a", f"{ROLE_KEY}-")
        assert until(lambda: get(the_lab, "pod-a", ROLES_URL), lambda s, b: s == 404)[0] == 404
        code, out = whoami(the_lab, "pod-a", nothing)
        assert code != 0 and "Unable to locate credentials" in out
    finally:
        down = cli(where, "lab", "down")
    assert down.returncode == 0, down.stderr
    assert_clean(where, recorded.processes if recorded else [])
    assert not files.node_credentials_path(where.state_dir).exists()


@pytest.mark.parametrize("sts", topology.STS_CHOICES)
@pytest.mark.parametrize("provider", lab_plan.PROVIDERS)
def test_identity_endpoints_never_point_outside_the_lab(provider, sts):
    flags = launch.identity_flags(provider, kubeconfig=Path("/run/k"), sts=sts)
    assert flags[:4] == ["--kubeconfig", "/run/k", "--node", cluster.NODE_NAME]
    urls = [value for value in flags if "://" in value]
    assert urls == [] if provider == "azure" else len(urls) == 1
    assert all(url.startswith(f"http://{lab_plan.CLOUD_V4}:") for url in urls), urls
    if provider == "aws":
        assert (moto.URL in urls) == (sts == "moto")
