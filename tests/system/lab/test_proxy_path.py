"""Pod → DNAT → `podwarden proxy` → emulator, with curl from a pod, for each provider."""

from __future__ import annotations

import pytest

from podwarden.lab import topology
from podwarden.lab.cloud import secrets


@pytest.fixture(scope="module")
def the_lab(tmp_path_factory):
    import uuid

    prefix = f"pwt{uuid.uuid4().hex[:4]}-"
    state_dir = tmp_path_factory.mktemp("lab")
    with topology.lab(
        provider="aws", pods=1, proxy=False, prefix=prefix, state_dir=state_dir
    ) as running:
        yield running


def curl(the_lab, *args):
    got = the_lab.exec("pod-a", ["curl", "-s", "--max-time", "3", "-w", "\n%{http_code}", *args])
    body, _, code = got.stdout.rpartition("\n")
    assert not [v for v in secrets.ALL if v in body], "a node secret reached the pod"
    return int(code), body.strip()


GOOGLE = ("-H", "Metadata-Flavor: Google")
GCE = "http://metadata.google.internal/computeMetadata/v1"
AZURE = ("-H", "Metadata:true")
IMDS = "http://169.254.169.254"


def test_aws_through_the_proxy(the_lab):
    the_lab.start_proxy("aws")
    assert curl(the_lab, f"{IMDS}/latest/meta-data/placement/region") == (200, "us-east-1")
    assert curl(the_lab, f"{IMDS}/latest/meta-data/instance-id")[0] == 200
    assert curl(the_lab, f"{IMDS}/latest/meta-data/iam/security-credentials/")[0] == 404
    assert curl(the_lab, f"{IMDS}/latest/user-data")[0] == 404
    assert curl(the_lab, "http://[fd00:ec2::254]/latest/meta-data/placement/region") == (
        200,
        "us-east-1",
    )
    code, _ = curl(
        the_lab,
        "-X",
        "PUT",
        "-H",
        "X-aws-ec2-metadata-token-ttl-seconds: 60",
        f"{IMDS}/latest/api/token",
    )
    assert code == 200


def test_gce_through_the_proxy(the_lab):
    the_lab.start_proxy("gce")
    assert curl(the_lab, *GOOGLE, f"{GCE}/instance/zone")[1].endswith("/zones/us-central1-a")
    assert curl(the_lab, *GOOGLE, f"{GCE}/instance/attributes/kube-env") == (
        403,
        "This metadata endpoint is concealed.",
    )
    # The lab's agent runs pod identity: a pod without a service account has no token
    # ("nothing here", GCE's 404), and the node's token is never what it gets.
    assert curl(the_lab, *GOOGLE, f"{GCE}/instance/service-accounts/default/token")[0] == 404
    assert curl(the_lab, f"{GCE}/instance/zone")[0] == 403  # no flavor header


def test_azure_through_the_proxy(the_lab):
    the_lab.start_proxy("azure")
    location = f"{IMDS}/metadata/instance/compute/location?api-version=2021-02-01&format=text"
    assert curl(the_lab, *AZURE, location) == (200, "eastus")
    token = (
        f"{IMDS}/metadata/identity/oauth2/token?api-version=2018-02-01"
        "&resource=https://management.azure.com/"
    )
    assert curl(the_lab, *AZURE, token)[0] >= 400
    assert curl(the_lab, location)[0] == 400  # no Metadata header


def test_without_the_proxy_the_pod_reads_the_node_keys(the_lab):
    """The "before" state, as a control: the same lab, interception removed."""
    the_lab.stop_proxy()
    got = the_lab.exec(
        "pod-a",
        [
            "curl",
            "-s",
            "--max-time",
            "3",
            f"{IMDS}/latest/meta-data/iam/security-credentials/{secrets.NODE_AWS_ROLE_NAME}",
        ],
    )
    assert secrets.NODE_AWS_SECRET_ACCESS_KEY in got.stdout
