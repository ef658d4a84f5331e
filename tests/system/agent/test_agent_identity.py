"""`podwarden agent` with pod identity: a pod gets its own role from moto's STS, through
real netfilter; a host-network process (pod cgroup, node namespace) gets no role.

The netlab's cloud namespace runs the fake metadata service (answers
`UPSTREAM <path>`) and moto_server as STS; the agent runs in the node
namespace with `--cluster-file` naming the pod by its address, and the node's
keys in its environment (the first link of the standard AWS chain).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from podwarden.api import metadata_addresses
from podwarden.testing import cgroups
from podwarden.testing.netlab import (
    CLOUD_V4,
    NODE_POD_V4,
    POD_V4,
    POD_V6,
    Lab,
    agent_argv,
    stop,
)

pytestmark = pytest.mark.peers("moto", "boto3", "nftables")

PROXY_PORT = 18281
HEALTH_PORT = 18286
MOTO_PORT = 5000
ACCOUNT = "123456789012"
ROLE = "reader"
IMDS = f"http://{metadata_addresses.IMDS_V4}/latest/meta-data"
CREDS = f"{IMDS}/iam/security-credentials/"

WHO_AM_I = r"""
import json, sys, boto3
creds = json.loads(sys.argv[2])
sts = boto3.client("sts", endpoint_url=sys.argv[1], region_name="us-east-1",
                   aws_access_key_id=creds["AccessKeyId"],
                   aws_secret_access_key=creds["SecretAccessKey"],
                   aws_session_token=creds["Token"])
print(sts.get_caller_identity()["Arn"])
"""


def cluster_file(tmp: Path) -> Path:
    namespace = {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {
            "name": "team",
            "annotations": {"iam.amazonaws.com/allowed-roles": json.dumps([ROLE])},
        },
    }
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": "mypod",
            "namespace": "team",
            "uid": "1b0e8a4c-0000-4000-8000-000000000001",
            "annotations": {"iam.amazonaws.com/role": ROLE},
        },
        "spec": {"nodeName": "node-a", "containers": [{"name": "c", "image": "app"}]},
        "status": {"phase": "Running", "podIP": POD_V4, "podIPs": [{"ip": POD_V4}, {"ip": POD_V6}]},
    }
    path = tmp / "cluster.yaml"
    path.write_text(yaml.safe_dump_all([namespace, pod]))
    return path


def start_moto(lab: Lab) -> str:
    moto = str(Path(sys.executable).with_name("moto_server"))
    lab.spawn(lab.cloud, [moto, "-H", CLOUD_V4, "-p", str(MOTO_PORT)], wait_line=None)
    url = f"http://{CLOUD_V4}:{MOTO_PORT}"
    waited = lab.wait_url(f"{url}/moto-api/", timeout=30)
    assert waited["outcome"] == "ok", waited
    return url


def start_agent(
    lab: Lab, tmp: Path, moto_url: str, pod_cgroup: str | None
) -> subprocess.Popen[str]:
    argv = [
        "env",
        "AWS_ACCESS_KEY_ID=AKIANODE0000000000",
        "AWS_SECRET_ACCESS_KEY=node-secret",
        f"AWS_SHARED_CREDENTIALS_FILE={tmp / 'none'}",
        f"AWS_CONFIG_FILE={tmp / 'none'}",
        *agent_argv(
            listen=f"{NODE_POD_V4}:{PROXY_PORT}",
            pod_cgroup=pod_cgroup,
            reconcile_period="1",
            health_listen=f"127.0.0.1:{HEALTH_PORT}",
            log_level="warning",
            extra=[
                "--cluster-file",
                str(cluster_file(tmp)),
                "--base-role-arn",
                f"arn:aws:iam::{ACCOUNT}:role/",
                "--sts-endpoint",
                moto_url,
                "--address-wait",
                "200ms",
            ],
        ),
    ]
    agent = lab.spawn(
        lab.node, argv, wait_line=None, stderr_to=tmp / "agent.log"
    )  # stopped at close
    ready = lab.wait_ready(f"127.0.0.1:{HEALTH_PORT}", timeout=30)
    assert ready["outcome"] == "ok", (tmp / "agent.log").read_text()[-3000:]
    return agent


def test_the_pod_gets_its_own_role_from_sts_and_nothing_else(lab: Lab, tmp_path: Path) -> None:
    moto_url = start_moto(lab)
    start_agent(lab, tmp_path, moto_url, None)

    listing = lab.get(lab.pod, CREDS, timeout=5)
    assert listing["outcome"] == "ok" and listing["status"] == 200, listing
    assert str(listing["body"]).strip() == ROLE

    creds = lab.get(lab.pod, CREDS + ROLE, timeout=10)
    assert creds["status"] == 200, creds
    document = json.loads(str(creds["body"]))
    assert document["Type"] == "AWS-HMAC" and document["Code"] == "Success"
    arn = lab.run_in(
        lab.pod, [sys.executable, "-c", WHO_AM_I, moto_url, json.dumps(document)]
    ).stdout.strip()
    assert arn.startswith(f"arn:aws:sts::{ACCOUNT}:assumed-role/{ROLE}/"), arn

    other = lab.get(lab.pod, CREDS + "admin", timeout=5)
    assert other["status"] == 404, other
    benign = lab.get(lab.pod, f"{IMDS}/instance-id", timeout=5)
    assert benign["status"] == 200 and benign["body"] == "UPSTREAM /latest/meta-data/instance-id"
    # the credentials came from STS, never from the metadata service
    assert "security-credentials" not in (lab.log.read_text() if lab.log.exists() else "")


def test_a_host_network_process_gets_no_role_but_benign_metadata(
    lab: Lab, tmp_path: Path, cgroup_v2_root: Path
) -> None:
    moto_url = start_moto(lab)
    with cgroups.pod_cgroup(cgroup_v2_root) as (path, directory):
        agent = start_agent(lab, tmp_path, moto_url, path)
        try:
            listing = lab.get_in_cgroup(directory, CREDS, timeout=3)
            assert listing["outcome"] == "ok" and listing["status"] == 404, listing
            assert ROLE not in str(listing["body"])
            creds = lab.get_in_cgroup(directory, CREDS + ROLE, timeout=3)
            assert creds["status"] == 404, creds
            benign = lab.get_in_cgroup(directory, f"{IMDS}/instance-id", timeout=3)
            assert benign["status"] == 200, benign
            assert benign["body"] == "UPSTREAM /latest/meta-data/instance-id"
            # the pod itself still gets its role beside it
            assert str(lab.get(lab.pod, CREDS, timeout=5)["body"]).strip() == ROLE
            # a node process outside the pod cgroup reaches the real service (the kubelet's view)
            node = lab.get(lab.node, CREDS)
            assert node["body"] == "UPSTREAM /latest/meta-data/iam/security-credentials/", node
            asked = [line for line in lab.log.read_text().splitlines() if "credentials" in line]
            assert len(asked) == 1 and asked[0].startswith("10.56.0.1 "), asked  # the node's
        finally:
            stop(agent)  # before the cgroup goes
