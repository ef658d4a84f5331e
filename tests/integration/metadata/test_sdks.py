"""The three real cloud SDKs, unchanged, through the proxy in front of the emulator.

Each SDK runs in its own interpreter with an environment built from scratch
(no credentials files, no proxies, only the variable that points it at the
proxy), because google-auth reads its metadata host at import time and
botocore/azure-identity would otherwise find the developer's own settings.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import textwrap

import pytest

from podwarden.lab.cloud import secrets
from podwarden.metadata.model import ProviderName

pytestmark = pytest.mark.peers("botocore", "google-auth", "azure-identity")


async def run_python(script: str, env: dict[str, str], home) -> dict:
    base = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        textwrap.dedent(script),
        env={**base, **env},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0, err.decode()[-3000:]
    text = out.decode() + err.decode()
    for value in secrets.ALL:
        assert value not in text, "a node secret reached the SDK"
    return json.loads(out.decode().strip().splitlines()[-1])


@pytest.fixture
async def proxied(emulator, start_proxy):
    async def start(provider: ProviderName) -> int:
        running = await start_proxy(provider, await emulator(provider))
        return running.port

    return start


async def test_botocore_reads_the_region_and_finds_no_credentials(proxied, tmp_path):
    port = await proxied(ProviderName.AWS)
    result = await run_python(
        """
        import json
        import botocore.session
        from botocore.utils import IMDSRegionProvider
        session = botocore.session.get_session()
        region = IMDSRegionProvider(session).provide()
        credentials = session.get_credentials()
        print(json.dumps({"region": region, "credentials": credentials is not None}))
        """,
        {
            "AWS_EC2_METADATA_SERVICE_ENDPOINT": f"http://127.0.0.1:{port}/",
            "AWS_CONFIG_FILE": str(tmp_path / "absent-config"),
            "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "absent-credentials"),
            "AWS_METADATA_SERVICE_NUM_ATTEMPTS": "1",
        },
        tmp_path,
    )
    assert result == {"region": "us-east-1", "credentials": False}


async def test_google_auth_detects_gce_reads_the_project_and_cannot_get_a_token(proxied, tmp_path):
    port = await proxied(ProviderName.GCE)
    result = await run_python(
        """
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
            outcome = "token"
        except google.auth.exceptions.RefreshError as exc:
            outcome = "RefreshError: " + str(exc)
        print(json.dumps({"on_gce": on_gce, "project": project,
                          "default_project": default_project, "refresh": outcome}))
        """,
        {
            "GCE_METADATA_HOST": f"127.0.0.1:{port}",
            "GCE_METADATA_IP": f"127.0.0.1:{port}",
            "GOOGLE_APPLICATION_CREDENTIALS": "",
            "CLOUDSDK_CONFIG": str(tmp_path / "gcloud"),
        },
        tmp_path,
    )
    assert result["on_gce"] is True
    assert result["project"] == result["default_project"] == "emulator-project"
    assert result["refresh"].startswith("RefreshError: ")
    assert "concealed" in result["refresh"]


async def test_azure_identity_reports_no_managed_identity(proxied, tmp_path):
    port = await proxied(ProviderName.AZURE)
    result = await run_python(
        """
        import json
        from azure.core.exceptions import ClientAuthenticationError
        from azure.identity import CredentialUnavailableError, ManagedIdentityCredential
        credential = ManagedIdentityCredential()
        try:
            credential.get_token("https://management.azure.com/.default")
            outcome = "token"
        except CredentialUnavailableError as exc:
            outcome = "CredentialUnavailableError: " + str(exc)
        except ClientAuthenticationError as exc:
            outcome = "ClientAuthenticationError: " + str(exc)
        print(json.dumps({"outcome": outcome}))
        """,
        {"AZURE_POD_IDENTITY_AUTHORITY_HOST": f"http://127.0.0.1:{port}"},
        tmp_path,
    )
    assert result["outcome"].startswith(
        ("CredentialUnavailableError: ", "ClientAuthenticationError: ")
    ), result
