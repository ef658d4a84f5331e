"""GCE attributes, directory redirects and `recursive` spellings through the proxy (issue 9).

Findings 4 (attributes allow-listed as GKE's metadata server does), 12 (the
server's 301 for a directory without its slash, followed by real clients) and
13 (`recursive=True` from older client libraries), against the emulator with a
node whose attributes hold Windows and container start-up secrets.
"""

from __future__ import annotations

import asyncio
import json

import pytest
import requests

from podwarden.lab.cloud.state import EmulatorState, GceState
from podwarden.metadata.model import ProviderName

from .helpers import url

FLAVOR = {"Metadata-Flavor": "Google"}
V1 = "/computeMetadata/v1"
SECRET = "attribute-secret-9c1d"
NODE_ATTRIBUTES = {
    "windows-startup-script-ps1": f"Write-Host {SECRET}",
    "windows-shutdown-script-cmd": f"echo {SECRET}",
    "sysprep-specialize-script-cmd": f"net user admin {SECRET}",
    "gce-container-declaration": f"spec: {{env: [{{name: TOKEN, value: {SECRET}}}]}}",
    "startup-script-url": f"gs://bucket/{SECRET}",
    "ssh-keys": f"root:ssh-ed25519 {SECRET}",
}


@pytest.fixture
async def node(emulator, relay, start_proxy):
    gce = GceState()
    gce.attributes.update(NODE_ATTRIBUTES)
    gce.project_attributes["ssh-keys"] = f"admin:{SECRET}"
    upstream = await relay(await emulator(ProviderName.GCE, state=EmulatorState(gce=gce)))
    return await start_proxy(ProviderName.GCE, f"http://127.0.0.1:{upstream.port}")


async def get(client, running, path, headers=FLAVOR):
    async with client.get(url(running.port, path), headers=headers) as resp:
        return resp.status, await resp.text()


@pytest.mark.parametrize("name", [*NODE_ATTRIBUTES, "kube-env", "kube-labels"])
async def test_attributes_outside_gkes_list_are_concealed(node, client, name):
    for path in (f"/instance/attributes/{name}", f"/instance/attributes/{name}?alt=json"):
        status, body = await get(client, node, V1 + path)
        assert (status, body) == (403, "This metadata endpoint is concealed.\n"), path


async def test_project_attributes_are_concealed(node, client):
    status, body = await get(client, node, V1 + "/project/attributes/ssh-keys")
    assert (status, body) == (403, "This metadata endpoint is concealed.\n")
    status, body = await get(client, node, V1 + "/project/attributes/")
    assert (status, body) == (200, "")


async def test_the_gke_attributes_are_served(node, client):
    assert await get(client, node, V1 + "/instance/attributes/cluster-name") == (
        200,
        "emulator-cluster",
    )
    assert await get(client, node, V1 + "/instance/attributes/cluster-location") == (
        200,
        "us-central1",
    )
    status, uid = await get(client, node, V1 + "/instance/attributes/cluster-uid")
    assert status == 200 and len(uid) == 64


async def test_listing_and_recursive_json_show_the_same_allowed_attributes(node, client):
    status, listing = await get(client, node, V1 + "/instance/attributes/")
    assert status == 200
    assert listing.splitlines() == ["cluster-location", "cluster-name", "cluster-uid"]
    status, tree = await get(client, node, V1 + "/instance/attributes/?recursive=true")
    assert status == 200
    assert sorted(json.loads(tree)) == listing.splitlines()
    status, tree = await get(client, node, V1 + "/instance/attributes/?recursive=True&alt=json")
    assert status == 200 and sorted(json.loads(tree)) == listing.splitlines()
    for path in ("/instance/attributes/?recursive=true&alt=text", "/instance/?recursive=true"):
        status, body = await get(client, node, V1 + path)
        assert status == 403 and SECRET not in body, path


async def test_a_policy_file_extends_the_allow_list(emulator, start_proxy, client, tmp_path):
    gce = GceState()
    gce.attributes.update(NODE_ATTRIBUTES)
    policy = tmp_path / "policy.yaml"
    policy.write_text("allowedAttributes: [startup-script-url]\n")
    running = await start_proxy(
        ProviderName.GCE,
        await emulator(ProviderName.GCE, state=EmulatorState(gce=gce)),
        policy_file=policy,
    )
    status, body = await get(client, running, V1 + "/instance/attributes/startup-script-url")
    assert (status, body) == (200, NODE_ATTRIBUTES["startup-script-url"])
    _, listing = await get(client, running, V1 + "/instance/attributes/")
    assert "startup-script-url" in listing.split()
    assert "ssh-keys" not in listing.split()


@pytest.mark.parametrize(
    ("asked", "lands_on", "listing_holds"),
    [
        ("/computeMetadata", "/computeMetadata/", "v1/"),
        (V1, V1 + "/", "instance/"),
        (V1 + "/instance", V1 + "/instance/", "zone"),
        (V1 + "/instance/attributes", V1 + "/instance/attributes/", "cluster-name"),
    ],
)
async def test_requests_follows_the_servers_301_for_a_directory_without_its_slash(
    node, asked, lands_on, listing_holds
):
    base = f"http://127.0.0.1:{node.port}"
    first = await asyncio.to_thread(
        requests.get, base + asked, headers=FLAVOR, allow_redirects=False, timeout=5
    )
    assert first.status_code == 301
    assert first.headers["Location"] == base + lands_on
    assert first.headers["Metadata-Flavor"] == "Google"
    assert first.text == lands_on + "\n"
    followed = await asyncio.to_thread(requests.get, base + asked, headers=FLAVOR, timeout=5)
    assert followed.status_code == 200
    assert followed.url == base + lands_on
    assert listing_holds in followed.text.split()


async def test_an_older_clients_recursive_true_is_answered(node):
    """oauth2client-era libraries sent `?recursive=True`: email, aliases and scopes only."""
    base = f"http://127.0.0.1:{node.port}{V1}/instance/service-accounts/default/"
    for spelling in ("True", "TRUE", "true"):
        answer = await asyncio.to_thread(
            requests.get, base, params={"recursive": spelling}, headers=FLAVOR, timeout=5
        )
        assert answer.status_code == 200, spelling
        document = answer.json()
        assert set(document) == {"aliases", "email", "scopes"}
        assert document["email"] == "123456789012-compute@developer.gserviceaccount.com"
