"""GCE metadata protocol at the HTTP level: header rules, renderings, long-poll, legacy."""

from __future__ import annotations

import asyncio
import json
import time

import pytest

from podwarden.lab.cloud import gce, secrets, server
from podwarden.lab.cloud.state import EmulatorState, GceState
from podwarden.lab.ports import free_port

FLAVOR = {"Metadata-Flavor": "Google"}
V1 = "/computeMetadata/v1"


async def _get(http, url: str, path: str, headers=FLAVOR):
    async with http.get(url + path, headers=headers, allow_redirects=False) as response:
        return response.status, response.headers, await response.text()


async def test_root_answers_without_header_and_carries_flavor(emulator, http):
    url = await emulator("gce")
    status, headers, _ = await _get(http, url, "/", headers={})
    assert status == 200
    assert headers["Metadata-Flavor"] == "Google"


@pytest.mark.parametrize(
    ("headers", "why"),
    [
        ({}, "Missing Metadata-Flavor:Google header."),
        ({"Metadata-Flavor": "google"}, "Missing Metadata-Flavor:Google header."),
        ({"Metadata-Flavor": "Google", "X-Forwarded-For": "10.0.0.1"}, "X-Forwarded-For"),
    ],
    ids=["missing", "wrong-case-value", "x-forwarded-for"],
)
async def test_v1_refusals_are_403_with_flavor(emulator, http, headers, why):
    url = await emulator("gce")
    status, response_headers, body = await _get(
        http, url, f"{V1}/instance/attributes/kube-env", headers
    )
    assert status == 403
    assert response_headers["Metadata-Flavor"] == "Google"
    assert why in body
    assert secrets.KUBE_ENV_SECRET not in body


async def test_historical_request_header_is_accepted(emulator, http):
    url = await emulator("gce")
    status, _, body = await _get(
        http, url, f"{V1}/project/project-id", {"X-Google-Metadata-Request": "True"}
    )
    assert (status, body) == (200, "emulator-project")


async def test_leaves_directories_and_redirects(emulator, http):
    url = await emulator("gce")
    status, headers, body = await _get(http, url, f"{V1}/instance/zone")
    assert (status, body) == (200, "projects/123456789012/zones/us-central1-a")
    assert headers["Content-Type"] == "application/text"
    assert len(headers["ETag"]) == 16
    status, _, listing = await _get(http, url, f"{V1}/instance/")
    assert status == 200 and listing.endswith("\n")
    assert {"attributes/", "service-accounts/", "id", "zone"} <= set(listing.split())
    status, headers, body = await _get(http, url, f"{V1}/instance")
    assert status == 301 and headers["Location"] == f"{url}{V1}/instance/"
    assert body == f"{V1}/instance/\n"
    status, _, scopes = await _get(http, url, f"{V1}/instance/service-accounts/default/scopes")
    assert scopes.splitlines()[0] == "https://www.googleapis.com/auth/cloud-platform"
    for missing in ("/instance/nope", "/instance//id", "/instance/id/", "//instance/id"):
        assert (await _get(http, url, V1 + missing))[0] == 404, missing


async def test_recursive_json_and_alt_variants(emulator, http):
    url = await emulator("gce")
    _, headers, body = await _get(http, url, f"{V1}/instance/?recursive=true")
    assert headers["Content-Type"] == "application/json"
    instance = json.loads(body)
    assert instance["machineType"].endswith("/e2-standard-4")
    assert instance["networkInterfaces"][0]["ip"] == "10.128.0.23"
    assert secrets.KUBE_ENV_SECRET in instance["attributes"]["kube-env"]
    assert "token" not in instance["serviceAccounts"]["default"]
    _, _, text = await _get(http, url, f"{V1}/instance/attributes/?recursive=true&alt=text")
    assert "cluster-name emulator-cluster\n" in text
    _, _, quoted = await _get(http, url, f"{V1}/project/project-id?alt=json")
    assert json.loads(quoted) == "emulator-project"
    _, _, project = await _get(http, url, f"{V1}/project/?recursive=true")
    assert json.loads(project)["numericProjectId"] == 123456789012


async def test_token_identity_and_named_service_account(emulator, http):
    url = await emulator("gce")
    email = "123456789012-compute@developer.gserviceaccount.com"
    for account in ("default", email):
        _, headers, body = await _get(http, url, f"{V1}/instance/service-accounts/{account}/token")
        assert headers["Content-Type"] == "application/json"
        token = json.loads(body)
        assert token["access_token"] == secrets.GCE_NODE_TOKEN
        assert token["token_type"] == "Bearer" and token["expires_in"] > 0
    path = f"{V1}/instance/service-accounts/default/identity"
    status, _, body = await _get(http, url, path)
    assert status == 400 and "audience" in body
    status, _, jwt = await _get(http, url, f"{path}?audience=https://example.test&format=full")
    assert status == 200 and jwt.split(".")[2] == secrets.GCE_IDENTITY_SIGNATURE
    missing = f"{V1}/instance/service-accounts/nobody@x.iam.gserviceaccount.com/token"
    assert (await _get(http, url, missing))[0] == 404


async def test_wait_for_change_returns_at_once_on_a_different_etag(emulator, http):
    url = await emulator("gce")
    start = time.monotonic()
    status, headers, body = await _get(
        http, url, f"{V1}/instance/attributes/cluster-name?wait_for_change=true&last_etag=0"
    )
    assert (status, body) == (200, "emulator-cluster")
    assert time.monotonic() - start < 0.5
    assert headers["ETag"] != "0"


async def test_wait_for_change_times_out_with_the_same_value(emulator, http):
    url = await emulator("gce")
    path = f"{V1}/instance/attributes/cluster-name"
    _, headers, _ = await _get(http, url, path)
    start = time.monotonic()
    _, after, body = await _get(
        http, url, f"{path}?wait_for_change=true&last_etag={headers['ETag']}&timeout_sec=1"
    )
    assert 0.9 <= time.monotonic() - start < 3
    assert body == "emulator-cluster" and after["ETag"] == headers["ETag"]


@pytest.mark.parametrize(
    ("asked", "slash_form"),
    [
        ("/computeMetadata", "/computeMetadata/"),
        (V1, V1 + "/"),
        (V1 + "?recursive=true", V1 + "/?recursive=true"),
    ],
)
async def test_the_roots_without_a_slash_are_301_to_the_slash_form(
    emulator, http, asked, slash_form
):
    """As the server answers (quoted in googleapis/gax-dotnet#410): absolute, query kept."""
    url = await emulator("gce")
    status, headers, body = await _get(http, url, asked)
    assert status == 301
    assert headers["Location"] == url + slash_form
    assert headers["Metadata-Flavor"] == "Google"
    assert body == slash_form.partition("?")[0] + "\n"
    async with http.get(url + asked, headers=FLAVOR) as followed:  # clients follow it
        assert followed.status in (200, 403)  # the listing, or the recursive refusal on v1/


async def test_wait_for_change_is_read_in_any_case(emulator, http):
    url = await emulator("gce")
    status, _, body = await _get(
        http, url, f"{V1}/instance/attributes/cluster-name?wait_for_change=True&last_etag=0"
    )
    assert (status, body) == (200, "emulator-cluster")


async def test_a_waiter_whose_client_leaves_stops_waiting(http):
    app = server.build_app("gce")
    port = free_port()
    runner = await server.serve(app, [("127.0.0.1", port)])
    metadata = server.handler(app, "gce")
    assert isinstance(metadata, gce.Metadata)
    try:
        path = f"{V1}/instance/attributes/cluster-name?wait_for_change=true&timeout_sec=50"
        waiter = asyncio.create_task(_get(http, f"http://127.0.0.1:{port}", path))
        for _ in range(50):
            if metadata.waiting == 1:
                break
            await asyncio.sleep(0.02)
        assert metadata.waiting == 1
        waiter.cancel()  # the client closes its connection
        deadline = time.monotonic() + 2
        while metadata.waiting and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        assert metadata.waiting == 0
    finally:
        await runner.cleanup()


async def test_wait_for_change_wakes_when_the_value_changes(http):
    app = server.build_app("gce")
    port = free_port()
    runner = await server.serve(app, [("127.0.0.1", port)])
    try:
        url = f"http://127.0.0.1:{port}"
        path = f"{V1}/instance/attributes/?recursive=true&wait_for_change=true&timeout_sec=30"
        waiter = asyncio.create_task(_get(http, url, path))
        await asyncio.sleep(0.2)
        assert not waiter.done()
        metadata = server.handler(app, "gce")
        assert isinstance(metadata, gce.Metadata)
        metadata.set_attribute("new-key", "new-value")
        status, _, body = await asyncio.wait_for(waiter, timeout=5)
        assert status == 200 and json.loads(body)["new-key"] == "new-value"
    finally:
        await runner.cleanup()


async def test_legacy_endpoints_answer_without_header_as_the_old_server(emulator, http):
    url = await emulator("gce")
    status, _, body = await _get(
        http, url, "/computeMetadata/v1beta1/instance/attributes/kube-env", headers={}
    )
    assert status == 200 and secrets.KUBE_ENV_SECRET in body
    status, _, body = await _get(http, url, "/0.1/meta-data/attributes/kube-env", headers={})
    assert status == 200 and secrets.KUBE_ENV_SECRET in body
    status, _, body = await _get(
        http, url, "/0.1/meta-data/service-accounts/default/acquire", headers={}
    )
    assert status == 200 and json.loads(body)["accessToken"] == secrets.GCE_NODE_TOKEN


async def test_legacy_endpoints_can_be_turned_off(emulator, http):
    url = await emulator("gce", state=EmulatorState(gce=GceState(legacy_endpoints=False)))
    for path in ("/computeMetadata/v1beta1/instance/id", "/0.1/meta-data/project-id"):
        assert (await _get(http, url, path, headers={}))[0] == 404
