"""google-auth, unchanged, reads the emulated GCE metadata server."""

from __future__ import annotations

import asyncio
import importlib

import google.auth.transport.requests
import pytest
from google.auth.compute_engine import _metadata
from google.auth.compute_engine import credentials as gce_credentials

from podwarden.lab.cloud import secrets

pytestmark = pytest.mark.peers("google-auth")


@pytest.fixture
def gce_env():
    """Set GCE_METADATA_HOST/IP and reload `_metadata`, which reads them at import."""
    patch = pytest.MonkeyPatch()

    def point_at(url: str) -> None:
        host = url.removeprefix("http://")
        patch.delenv("NO_GCE_CHECK", raising=False)
        patch.setenv("GCE_METADATA_HOST", host)
        patch.setenv("GCE_METADATA_IP", host)
        importlib.reload(_metadata)

    yield point_at
    patch.undo()
    importlib.reload(_metadata)


def _request() -> google.auth.transport.requests.Request:
    return google.auth.transport.requests.Request()


async def test_google_auth_detects_gce_and_reads_project(emulator, gce_env):
    gce_env(await emulator("gce"))
    request = _request()

    assert await asyncio.to_thread(_metadata.ping, request, timeout=2, retry_count=1)
    assert await asyncio.to_thread(_metadata.is_on_gce, request)
    assert await asyncio.to_thread(_metadata.get_project_id, request) == "emulator-project"
    instance_id = await asyncio.to_thread(_metadata.get, request, "instance/id")
    assert instance_id == "4520031799277581759"


async def test_compute_engine_credentials_refresh_to_the_node_token(emulator, gce_env):
    gce_env(await emulator("gce"))
    creds = gce_credentials.Credentials()

    await asyncio.to_thread(creds.refresh, _request())

    assert creds.token == secrets.GCE_NODE_TOKEN
    assert creds.service_account_email == "123456789012-compute@developer.gserviceaccount.com"
    assert creds.expiry is not None
    assert creds.valid


async def test_service_account_info_is_recursive_json_without_token(emulator, gce_env):
    gce_env(await emulator("gce"))

    info = await asyncio.to_thread(_metadata.get_service_account_info, _request())

    assert set(info) == {"aliases", "email", "scopes"}
    assert info["scopes"][0] == "https://www.googleapis.com/auth/cloud-platform"


async def test_google_auth_works_against_the_combined_host(emulator, gce_env):
    """`--provider all` owns one address for every cloud; google-auth must not notice."""
    gce_env(await emulator("all"))
    creds = gce_credentials.Credentials()

    assert await asyncio.to_thread(_metadata.is_on_gce, _request())
    await asyncio.to_thread(creds.refresh, _request())
    assert creds.token == secrets.GCE_NODE_TOKEN


async def test_not_gce_when_the_host_is_another_cloud(emulator, gce_env):
    """An AWS-only host lacks the flavor header on `/`: google-auth says "not GCE"."""
    gce_env(await emulator("aws"))

    assert not await asyncio.to_thread(_metadata.ping, _request(), timeout=2, retry_count=1)
