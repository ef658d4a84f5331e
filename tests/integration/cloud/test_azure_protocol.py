"""Azure IMDS protocol at the HTTP level: header, api-version, formats, identity selection."""

from __future__ import annotations

import json
import time

import pytest

from podwarden.lab.cloud import azure, secrets

META = {"Metadata": "true"}
API = "api-version=2021-02-01"
TOKEN = "/metadata/identity/oauth2/token?api-version=2018-02-01"


async def _get(http, url: str, path: str, headers=META):
    async with http.get(url + path, headers=headers) as response:
        return response.status, response.headers.get("Content-Type", ""), await response.text()


@pytest.mark.parametrize(
    ("headers", "error"),
    [
        ({}, "Bad request. Required metadata header not specified"),
        ({"Metadata": "false"}, "Bad request. Required metadata header not specified"),
        (
            {"Metadata": "true", "X-Forwarded-For": "10.0.0.1"},
            "Bad request. Request contains X-Forwarded-For header",
        ),
    ],
    ids=["missing", "false", "x-forwarded-for"],
)
async def test_header_refusals_are_400_json(emulator, http, headers, error):
    url = await emulator("azure")
    status, content_type, body = await _get(http, url, f"/metadata/instance?{API}", headers)
    assert status == 400
    assert content_type.startswith("application/json")
    assert json.loads(body) == {"error": error}


@pytest.mark.parametrize("query", ["", "?api-version=1999-01-01"], ids=["missing", "unknown"])
async def test_api_version_is_required_and_known(emulator, http, query):
    url = await emulator("azure")
    status, _, body = await _get(http, url, f"/metadata/instance{query}")
    assert status == 400
    error = json.loads(body)
    assert "api-version" in error["error"] and "aka.ms/azureimds" in error["error"]
    assert error["newest-versions"] == azure.NEWEST


async def test_versions_need_no_api_version(emulator, http):
    url = await emulator("azure")
    status, _, body = await _get(http, url, "/metadata/versions")
    assert status == 200 and "2018-02-01" in json.loads(body)["apiVersions"]


async def test_instance_document_and_case_insensitive_leaves(emulator, http):
    url = await emulator("azure")
    _, _, body = await _get(http, url, f"/metadata/instance?{API}")
    document = json.loads(body)
    assert document["compute"]["userData"] == secrets.AZURE_USER_DATA_BASE64
    assert document["compute"]["customData"] == secrets.AZURE_CUSTOM_DATA_BASE64
    assert document["network"]["interface"][0]["macAddress"] == "000D3A0E0001"
    assert await _get(http, url, f"/Metadata/Instance/Compute/LOCATION?{API}&format=text") == (
        200,
        "text/plain; charset=utf-8",
        "eastus",
    )
    ip = "/metadata/instance/network/interface/0/ipv4/ipAddress/0/privateIpAddress"
    assert (await _get(http, url, f"{ip}?{API}&format=text"))[2] == "10.224.0.4"
    _, _, compute = await _get(http, url, f"/metadata/instance/compute?{API}")
    assert json.loads(compute)["vmSize"] == "Standard_D4s_v3"
    status, _, keys = await _get(
        http, url, f"/metadata/instance/network/interface/0?{API}&format=text"
    )
    assert (status, keys) == (200, "ipv4\nipv6\nmacAddress\n")
    status, _, body = await _get(http, url, f"/metadata/instance/compute/location?{API}")
    assert status == 400 and "format=text" in json.loads(body)["error"]
    assert (await _get(http, url, f"/metadata/instance/compute/nope?{API}"))[0] == 404
    assert (await _get(http, url, f"/metadata/nothing?{API}"))[0] == 404


async def test_scheduled_events_and_attested_document(emulator, http):
    url = await emulator("azure")
    _, _, events = await _get(http, url, "/metadata/scheduledevents?api-version=2020-07-01")
    assert json.loads(events) == {"DocumentIncarnation": 0, "Events": []}
    _, _, attested = await _get(http, url, f"/metadata/attested/document?{API}&nonce=1234")
    assert json.loads(attested)["signature"] == secrets.AZURE_ATTESTED_SIGNATURE


async def test_duplicate_query_parameters_are_refused(emulator, http):
    url = await emulator("azure")
    status, _, body = await _get(http, url, f"/metadata/instance?{API}&{API}")
    assert status == 400 and "Duplicate" in json.loads(body)["error"]


async def test_token_needs_a_resource(emulator, http):
    url = await emulator("azure")
    status, _, body = await _get(http, url, TOKEN)
    assert status == 400
    assert json.loads(body)["error"] == "invalid_request"


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        ("", secrets.AZURE_NODE_TOKEN),
        ("&client_id=33333333-0000-0000-0000-00000000E002", secrets.AZURE_USER_ASSIGNED_TOKEN),
        ("&object_id=44444444-0000-0000-0000-00000000e002", secrets.AZURE_USER_ASSIGNED_TOKEN),
        (
            "&msi_res_id=/subscriptions/00000000-0000-0000-0000-00000000e001/resourcegroups/"
            "MC_emulator_emulator-aks_eastus/providers/Microsoft.ManagedIdentity/"
            "userAssignedIdentities/emulator-agentpool",
            secrets.AZURE_USER_ASSIGNED_TOKEN,
        ),
    ],
    ids=["system", "client_id", "object_id", "msi_res_id"],
)
async def test_token_selects_the_identity_and_has_string_fields(emulator, http, selector, expected):
    url = await emulator("azure")
    resource = "https://management.azure.com/"
    status, _, body = await _get(http, url, f"{TOKEN}&resource={resource}{selector}")
    assert status == 200
    token = json.loads(body)
    assert token["access_token"] == expected
    assert token["resource"] == resource and token["token_type"] == "Bearer"
    assert set(token) == {
        "access_token",
        "client_id",
        "expires_in",
        "expires_on",
        "ext_expires_in",
        "not_before",
        "resource",
        "token_type",
    }
    assert all(isinstance(value, str) for value in token.values())
    assert int(token["expires_on"]) > time.time() + 3600


async def test_token_refuses_two_selectors_and_unknown_identities(emulator, http):
    url = await emulator("azure")
    base = f"{TOKEN}&resource=https://vault.azure.net"
    two = "&client_id=33333333-0000-0000-0000-00000000e002&object_id=x"
    for query, message in ((two, "Only one of"), ("&client_id=nobody", "Identity not found")):
        status, _, body = await _get(http, url, base + query)
        assert status == 400
        assert message in json.loads(body)["error_description"]


async def test_token_requires_the_metadata_header(emulator, http):
    url = await emulator("azure")
    status, _, body = await _get(http, url, f"{TOKEN}&resource=https://x", headers={})
    assert status == 400 and secrets.AZURE_NODE_TOKEN not in body
