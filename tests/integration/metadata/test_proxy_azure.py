"""The proxy in front of the Azure IMDS emulator: compute metadata yes, tokens and user data no."""

from __future__ import annotations

import json

import pytest

from podwarden.lab.cloud import secrets
from podwarden.metadata.model import ProviderName

from .helpers import leaked, url

HEADER = {"Metadata": "true"}
VERSION = "api-version=2021-02-01"


@pytest.fixture
async def azure(emulator, relay, start_proxy):
    upstream = await relay(await emulator(ProviderName.AZURE))
    running = await start_proxy(ProviderName.AZURE, f"http://127.0.0.1:{upstream.port}")
    return running, upstream


async def get(client, running, path, headers=HEADER):
    async with client.get(url(running.port, path), headers=headers) as resp:
        return resp.status, await resp.text()


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/metadata/instance/compute/location?" + VERSION + "&format=text", "eastus"),
        ("/metadata/instance/compute/vmSize?" + VERSION + "&format=text", "Standard_D4s_v3"),
        ("/METADATA/Instance/Compute/Location?" + VERSION + "&format=text", "eastus"),
    ],
)
async def test_compute_metadata_is_served(azure, client, path, expected):
    running, _ = azure
    assert await get(client, running, path) == (200, expected)


async def test_the_instance_document_comes_without_user_or_custom_data(azure, client):
    running, _ = azure
    status, body = await get(client, running, "/metadata/instance?" + VERSION)
    assert status == 200
    document = json.loads(body)
    assert document["compute"]["location"] == "eastus"
    assert "userData" not in document["compute"]
    assert "customData" not in document["compute"]
    assert not leaked(body)


@pytest.mark.parametrize(
    "path",
    [
        "/metadata/identity/oauth2/token?" + VERSION + "&resource=https://management.azure.com/",
        "/metadata/identity/oauth2/token?" + VERSION + "&resource=https://vault.azure.net"
        "&client_id=33333333-0000-0000-0000-00000000e002",
        "/Metadata/Identity/OAuth2/Token?" + VERSION + "&resource=https://management.azure.com/",
    ],
)
async def test_node_identity_tokens_are_refused_as_imds_does_without_an_identity(
    azure, client, path
):
    running, upstream = azure
    status, body = await get(client, running, path)
    assert status == 400
    assert json.loads(body) == {
        "error": "invalid_request",
        "error_description": "Identity not found",
    }
    assert secrets.AZURE_NODE_TOKEN not in body
    assert upstream.seen == []


@pytest.mark.parametrize(
    "path",
    [
        "/metadata/instance/compute/userData?" + VERSION + "&format=text",
        "/metadata/instance/compute/customData?" + VERSION + "&format=text",
        "/metadata/attested/document?" + VERSION,
    ],
)
async def test_user_data_and_attestation_are_refused(azure, client, path):
    running, _ = azure
    status, body = await get(client, running, path)
    assert status == 404
    assert not leaked(body)


async def test_backslash_bypass_is_refused(azure, client):
    # CVE-2022-23551: aad-pod-identity matched the token path literally.
    running, upstream = azure
    status, body = await get(
        client,
        running,
        "/metadata/identity\\oauth2\\token?" + VERSION + "&resource=https://management.azure.com/",
    )
    assert status == 400
    assert secrets.AZURE_NODE_TOKEN not in body
    assert upstream.seen == []


@pytest.mark.parametrize(
    ("path", "headers", "error"),
    [
        (
            "/metadata/instance?" + VERSION,
            {},
            "Bad request. Required metadata header not specified",
        ),
        (
            "/metadata/instance?" + VERSION,
            {**HEADER, "X-Forwarded-For": "10.0.0.3"},
            "Bad request. Request contains X-Forwarded-For header",
        ),
    ],
)
async def test_protocol_refusals_use_imds_json(azure, client, path, headers, error):
    running, _ = azure
    status, body = await get(client, running, path, headers=headers)
    assert status == 400
    assert json.loads(body)["error"] == error


async def test_missing_api_version_is_400_with_newest_versions(azure, client):
    running, _ = azure
    status, body = await get(client, running, "/metadata/instance")
    assert status == 400
    assert "newest-versions" in json.loads(body)
