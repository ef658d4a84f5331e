"""The proxy in front of the GCE emulator: benign metadata flows, node secrets do not."""

from __future__ import annotations

import asyncio
import json

import pytest

from podwarden.metadata.model import ProviderName

from .helpers import leaked, url

FLAVOR = {"Metadata-Flavor": "Google"}
V1 = "/computeMetadata/v1"


@pytest.fixture
async def gce(emulator, relay, start_proxy):
    upstream = await relay(await emulator(ProviderName.GCE))
    running = await start_proxy(ProviderName.GCE, f"http://127.0.0.1:{upstream.port}")
    return running, upstream


async def get(client, running, path, headers=FLAVOR):
    async with client.get(url(running.port, path), headers=headers) as resp:
        return resp.status, await resp.text(), resp.headers


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/instance/id", "4520031799277581759"),
        ("/instance/zone", "projects/123456789012/zones/us-central1-a"),
        ("/project/project-id", "emulator-project"),
        ("/instance/attributes/cluster-name", "emulator-cluster"),
    ],
)
async def test_benign_metadata_is_served_with_the_flavor_header(gce, client, path, expected):
    running, _ = gce
    status, body, headers = await get(client, running, V1 + path)
    assert (status, body) == (200, expected)
    assert headers["Metadata-Flavor"] == "Google"


async def test_root_answers_for_gce_detection_with_the_flavor_header(gce, client):
    running, _ = gce
    status, _, headers = await get(client, running, "/", headers={})
    assert status == 200
    assert headers["Metadata-Flavor"] == "Google"


@pytest.mark.parametrize(
    "path",
    [
        "/instance/attributes/kube-env",
        "/instance/attributes/KUBE-ENV",
        "/instance/service-accounts/default/token",
        "/instance/service-accounts/123456789012-compute@developer.gserviceaccount.com/token",
        "/instance/service-accounts/default/identity?audience=x",
    ],
)
async def test_node_secrets_are_concealed(gce, client, path):
    running, upstream = gce
    status, body, headers = await get(client, running, V1 + path)
    assert (status, body) == (403, "This metadata endpoint is concealed.\n")
    assert headers["Metadata-Flavor"] == "Google"
    assert upstream.seen == []  # refused without asking the metadata service


@pytest.mark.parametrize(
    ("path", "headers", "status", "message"),
    [
        (V1 + "/instance/id", {}, 403, "Missing Metadata-Flavor:Google header.\n"),
        (
            V1 + "/instance/id",
            {**FLAVOR, "X-Forwarded-For": "10.0.0.1"},
            403,
            "Calls with X-Forwarded-For header are not allowed by the metadata proxy.\n",
        ),
        (
            "/computeMetadata/v1beta1/instance/attributes/kube-env",
            {},
            403,
            "This metadata API is not allowed by the metadata proxy.\n",
        ),
        (
            "/0.1/meta-data/attributes/kube-env",
            {},
            403,
            "This metadata API is not allowed by the metadata proxy.\n",
        ),
        (
            V1 + "/instance/?recursive=true",
            FLAVOR,
            403,
            "This metadata endpoint is concealed for ?recursive calls.\n",
        ),
        (
            V1 + "/instance/attributes/kube%2Denv",
            FLAVOR,
            403,
            "This metadata endpoint is concealed.\n",
        ),
    ],
)
async def test_protocol_refusals(gce, client, path, headers, status, message):
    running, _ = gce
    got_status, body, _ = await get(client, running, path, headers=headers)
    assert (got_status, body) == (status, message)


async def test_non_canonical_targets_are_refused_with_400(gce, client):
    running, upstream = gce
    for path in (
        V1 + "//instance/attributes/kube-env",
        V1 + "/instance/%2e%2e/instance/id",
        V1 + "/instance/attributes/kube-env%2F",
    ):
        status, body, _ = await get(client, running, path)
        assert status == 400, path
        assert not leaked(body)
    assert upstream.seen == []


async def test_recursive_service_account_shows_only_email_aliases_scopes(gce, client):
    running, _ = gce
    status, body, _ = await get(
        client, running, V1 + "/instance/service-accounts/default/?recursive=true"
    )
    assert status == 200
    assert set(json.loads(body)) <= {"email", "aliases", "scopes"}
    assert "email" in json.loads(body)
    assert not leaked(body)


async def test_immutable_metadata_is_cached(gce, client):
    running, upstream = gce
    for _ in range(5):
        status, body, _ = await get(client, running, V1 + "/instance/id")
        assert (status, body) == (200, "4520031799277581759")
    assert upstream.count(V1 + "/instance/id") == 1
    # Mutable metadata is not cached: every request reaches the upstream.
    for _ in range(3):
        await get(client, running, V1 + "/instance/attributes/cluster-name")
    assert upstream.count(V1 + "/instance/attributes/cluster-name") == 3


async def test_upstream_sees_only_the_rebuilt_request(gce, client):
    running, upstream = gce
    await get(
        client,
        running,
        V1 + "/instance/zone",
        headers={**FLAVOR, "Cookie": "a=b", "Authorization": "Bearer x", "X-Extra": "1"},
    )
    [(method, target, headers)] = upstream.seen
    assert (method, target) == ("GET", V1 + "/instance/zone")
    names = {name.lower() for name in headers}
    assert names <= {"metadata-flavor", "content-length", "connection"}
    assert headers["Metadata-Flavor"] == "Google"


async def raw_exchange(port: int, request: bytes) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(request)
    await writer.drain()
    data = await reader.read(65536)
    writer.close()
    return data


@pytest.mark.parametrize(
    "target",
    [
        b"http://metadata.google.internal/computeMetadata/v1/instance/attributes/kube-env",
        b"/computeMetadata/v1/instance/attributes/kube-env#x",
        b"/computeMetadata/v1/instance/attributes\\kube-env",
        b"/computeMetadata/v1/instance/./attributes/kube-env",
        b"/computeMetadata/v1/instance/attributes/kube-env/..",
        b"/computeMetadata/v1/instance/id?alt=text&alt=json",
        b"/computeMetadata/v1/instance/attributes/kube env",
    ],
)
async def test_raw_targets_aiohttp_would_normalise_are_refused(gce, target):
    running, upstream = gce
    reply = await raw_exchange(
        running.port,
        b"GET " + target + b" HTTP/1.1\r\nHost: x\r\nMetadata-Flavor: Google\r\n"
        b"Connection: close\r\n\r\n",
    )
    assert reply.startswith(b"HTTP/1.1 400") or reply.startswith(b"HTTP/1.0 400"), reply[:200]
    assert not leaked(reply.decode("latin-1"))
    assert upstream.seen == []
