"""botocore, google-auth and azure-identity, unchanged, in a lab pod through real netfilter.

The loopback twin (tests/integration/metadata/test_sdks.py) points each SDK
at the proxy with an environment variable; here nothing is pointed anywhere:
each SDK runs in a pod namespace with a scratch environment (no AWS_*,
GOOGLE_*, AZURE_* from the caller, HOME in a temporary folder) and finds the
metadata service the way it would on a cloud node — 169.254.169.254, and
metadata.google.internal through the pod's /etc/hosts — while the node's
rules send it to the lab's agent. Benign metadata must work, the node's
credentials must not arrive, and each SDK must say "no credentials" in its
own way. The last test removes podwarden and shows the same scripts then do
read the node's credentials, so the refusals above are podwarden's doing.
"""

from __future__ import annotations

import json
import os
import sys
import textwrap
import uuid
from pathlib import Path
from typing import Any

import pytest

from podwarden.lab import topology
from podwarden.lab.cloud import secrets

pytestmark = pytest.mark.peers("botocore", "google-auth", "azure-identity")

BOTOCORE = """
    import json
    import botocore.session
    from botocore.utils import IMDSRegionProvider
    session = botocore.session.get_session()
    region = IMDSRegionProvider(session).provide()
    credentials = session.get_credentials()
    key = None if credentials is None else credentials.get_frozen_credentials().access_key
    print(json.dumps({"region": region, "credential": key}))
"""

GOOGLE_AUTH = """
    import json
    import google.auth
    import google.auth.exceptions
    import google.auth.transport.requests
    from google.auth.compute_engine import _metadata
    request = google.auth.transport.requests.Request()
    on_gce = _metadata.is_on_gce(request)
    project = _metadata.get_project_id(request)
    credentials, default_project = google.auth.default()
    try:
        credentials.refresh(request)
        outcome, credential = "token", credentials.token
    except google.auth.exceptions.RefreshError as exc:
        outcome, credential = "RefreshError: " + str(exc), None
    print(json.dumps({"on_gce": on_gce, "project": project, "default_project": default_project,
                      "outcome": outcome, "credential": credential}))
"""

AZURE_IDENTITY = """
    import json
    import urllib.request
    from azure.core.exceptions import ClientAuthenticationError
    from azure.identity import CredentialUnavailableError, ManagedIdentityCredential
    location_url = ("http://169.254.169.254/metadata/instance/compute/location"
                    "?api-version=2021-02-01&format=text")
    ask = urllib.request.Request(location_url, headers={"Metadata": "true"})
    with urllib.request.urlopen(ask, timeout=5) as answer:
        location = answer.read().decode()
    credential = ManagedIdentityCredential()
    try:
        token = credential.get_token("https://management.azure.com/.default").token
        outcome = "token"
    except CredentialUnavailableError as exc:
        token, outcome = None, "CredentialUnavailableError: " + str(exc)
    except ClientAuthenticationError as exc:
        token, outcome = None, "ClientAuthenticationError: " + str(exc)
    print(json.dumps({"location": location, "outcome": outcome, "credential": token}))
"""

NO_CREDENTIALS = ("CredentialUnavailableError: ", "ClientAuthenticationError: ")


@pytest.fixture(scope="module")
def the_lab(tmp_path_factory):
    prefix = f"pwt{uuid.uuid4().hex[:4]}-"
    state_dir = tmp_path_factory.mktemp("lab")
    with topology.lab(
        provider="aws", pods=1, proxy=False, prefix=prefix, state_dir=state_dir
    ) as running:
        yield running


def run_sdk(the_lab, script: str, home: Path, *, secrets_allowed: bool = False) -> dict[str, Any]:
    """Run `script` with this interpreter in pod-a, from an empty environment."""
    clean = [
        "env",
        "-i",
        f"PATH={os.environ.get('PATH', '/usr/bin:/bin')}",
        f"HOME={home}",
        "PYTHONDONTWRITEBYTECODE=1",
    ]
    argv = [*clean, sys.executable, "-c", textwrap.dedent(script)]
    got = the_lab.exec("pod-a", argv, timeout=90)
    assert got.returncode == 0, got.stderr[-3000:]
    if not secrets_allowed:
        leaked = [v for v in secrets.ALL if v in got.stdout + got.stderr]
        assert leaked == [], "a node secret reached the SDK"
    result: dict[str, Any] = json.loads(got.stdout.strip().splitlines()[-1])
    return result


def test_botocore_reads_the_region_and_finds_no_credentials(the_lab, tmp_path):
    the_lab.start_proxy("aws")
    result = run_sdk(the_lab, BOTOCORE, tmp_path)
    assert result == {"region": "us-east-1", "credential": None}


def test_google_auth_detects_gce_reads_the_project_and_cannot_get_a_token(the_lab, tmp_path):
    the_lab.start_proxy("gce")
    result = run_sdk(the_lab, GOOGLE_AUTH, tmp_path)
    assert result["on_gce"] is True
    assert result["project"] == result["default_project"] == "emulator-project"
    assert result["outcome"].startswith("RefreshError: "), result
    assert result["credential"] is None


def test_azure_identity_reads_the_location_and_reports_no_managed_identity(the_lab, tmp_path):
    the_lab.start_proxy("azure")
    result = run_sdk(the_lab, AZURE_IDENTITY, tmp_path)
    assert result["location"] == "eastus"
    assert result["outcome"].startswith(NO_CREDENTIALS), result
    assert result["credential"] is None


def test_without_podwarden_the_same_scripts_read_the_node_credentials(the_lab, tmp_path):
    """The control: interception removed, the unchanged SDKs get the node's credentials."""
    the_lab.stop_proxy()
    aws = run_sdk(the_lab, BOTOCORE, tmp_path, secrets_allowed=True)
    assert aws["credential"] == secrets.NODE_AWS_ACCESS_KEY_ID
    gce = run_sdk(the_lab, GOOGLE_AUTH, tmp_path, secrets_allowed=True)
    assert gce["credential"] == secrets.GCE_NODE_TOKEN
    azure = run_sdk(the_lab, AZURE_IDENTITY, tmp_path, secrets_allowed=True)
    assert azure["credential"] == secrets.AZURE_NODE_TOKEN
