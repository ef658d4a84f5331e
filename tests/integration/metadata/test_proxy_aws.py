"""The proxy in front of the AWS IMDS emulator: metadata, refusals and IMDSv2 sessions."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest

from podwarden.metadata.model import ProviderName

from .helpers import leaked, url

TTL = "X-aws-ec2-metadata-token-ttl-seconds"
TOKEN = "X-aws-ec2-metadata-token"


@pytest.fixture
async def aws(emulator, relay, start_proxy):
    upstream = await relay(await emulator(ProviderName.AWS))
    running = await start_proxy(ProviderName.AWS, f"http://127.0.0.1:{upstream.port}")
    return running, upstream


async def call(client, running, path, *, method="GET", headers=None):
    async with client.request(method, url(running.port, path), headers=headers or {}) as resp:
        return resp.status, await resp.text(), resp.headers


async def put_token(client, running, ttl="60"):
    status, body, headers = await call(
        client, running, "/latest/api/token", method="PUT", headers={TTL: ttl}
    )
    assert status == 200, body
    return body, headers


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/latest/meta-data/instance-id", "i-0emulator0000001"),
        ("/2009-04-04/meta-data/instance-id", "i-0emulator0000001"),
        ("/latest/meta-data/placement/availability-zone", "us-east-1a"),
        ("/latest/meta-data/instance-type", "m5.large"),
    ],
)
async def test_benign_metadata_is_served(aws, client, path, expected):
    running, _ = aws
    assert (await call(client, running, path))[:2] == (200, expected)


@pytest.mark.parametrize(
    "path",
    [
        "/latest/meta-data/iam/info",
        "/latest/meta-data/iam/security-credentials/",
        "/latest/meta-data/iam/security-credentials/emulator-node-role",
        "/2021-01-03/meta-data/iam/security-credentials/emulator-node-role",
        "/latest/meta-data/IAM/security-credentials/emulator-node-role",
        "/latest/meta-data/identity-credentials/ec2/security-credentials/ec2-instance",
        "/latest/user-data",
        "/latest/dynamic/instance-identity/pkcs7",
        "/latest/dynamic/instance-identity/signature",
    ],
)
async def test_node_credentials_and_user_data_are_refused(aws, client, path):
    running, upstream = aws
    status, body, _ = await call(client, running, path)
    assert status == 404
    assert "404 - Not Found" in body
    assert not leaked(body)
    assert "emulator-node-role" not in body
    assert upstream.seen == []


async def test_identity_document_is_served_without_signatures(aws, client):
    running, _ = aws
    status, body, _ = await call(client, running, "/latest/dynamic/instance-identity/document")
    assert status == 200
    assert '"instanceId"' in body
    assert not leaked(body)


async def test_token_flow(aws, client):
    running, _ = aws
    token, headers = await put_token(client, running, ttl="120")
    assert len(token) >= 40
    assert headers[TTL] == "120"
    status, body, _ = await call(
        client, running, "/latest/meta-data/instance-id", headers={TOKEN: token}
    )
    assert (status, body) == (200, "i-0emulator0000001")
    # IMDSv1 still works while IMDSv2 is optional.
    assert (await call(client, running, "/latest/meta-data/instance-id"))[0] == 200


@pytest.mark.parametrize("ttl", ["0", "21601", "abc", "-1", ""])
async def test_a_bad_token_ttl_is_400(aws, client, ttl):
    running, _ = aws
    status, _, _ = await call(
        client, running, "/latest/api/token", method="PUT", headers={TTL: ttl}
    )
    assert status == 400


async def test_token_put_with_forwarded_for_is_refused(aws, client):
    running, _ = aws
    status, _, _ = await call(
        client,
        running,
        "/latest/api/token",
        method="PUT",
        headers={TTL: "60", "X-Forwarded-For": "10.1.1.1"},
    )
    assert status == 403


async def test_an_unknown_token_is_401_even_on_allowed_paths(aws, client):
    running, upstream = aws
    status, body, _ = await call(
        client, running, "/latest/meta-data/instance-id", headers={TOKEN: "AQAEAbogus"}
    )
    assert status == 401
    assert "401 - Unauthorized" in body
    assert upstream.count("/latest/meta-data/instance-id") == 0


async def test_a_token_is_bound_to_the_client_that_asked_for_it(aws, client):
    running, _ = aws
    token, _ = await put_token(client, running)
    connector = aiohttp.TCPConnector(local_addr=("127.0.0.2", 0))
    async with aiohttp.ClientSession(connector=connector) as other:
        status, _, _ = await call(
            other, running, "/latest/meta-data/instance-id", headers={TOKEN: token}
        )
    assert status == 401


async def test_an_expired_token_is_401(aws, client):
    running, _ = aws
    token, _ = await put_token(client, running, ttl="1")
    await asyncio.sleep(1.1)
    status, _, _ = await call(
        client, running, "/latest/meta-data/instance-id", headers={TOKEN: token}
    )
    assert status == 401


async def test_required_mode_refuses_tokenless_reads(emulator, start_proxy, client, tmp_path):
    policy = tmp_path / "policy.yaml"
    policy.write_text("imdsv2: required\n")
    running = await start_proxy(
        ProviderName.AWS, await emulator(ProviderName.AWS), policy_file=policy
    )
    status, body, _ = await call(client, running, "/latest/meta-data/instance-id")
    assert status == 401
    assert "401 - Unauthorized" in body
    token, _ = await put_token(client, running)
    status, body, _ = await call(
        client, running, "/latest/meta-data/instance-id", headers={TOKEN: token}
    )
    assert (status, body) == (200, "i-0emulator0000001")


async def test_proxy_keeps_its_own_upstream_token_and_never_forwards_the_clients(
    emulator, relay, start_proxy, client
):
    # The upstream requires IMDSv2; an IMDSv1 client still works through the proxy.
    upstream = await relay(await emulator(ProviderName.AWS, imdsv2_required=True))
    running = await start_proxy(ProviderName.AWS, f"http://127.0.0.1:{upstream.port}")
    assert (await call(client, running, "/latest/meta-data/instance-id"))[:2] == (
        200,
        "i-0emulator0000001",
    )
    client_token, _ = await put_token(client, running)
    for _ in range(3):
        status, _, _ = await call(
            client, running, "/latest/meta-data/local-ipv4", headers={TOKEN: client_token}
        )
        assert status == 200
    puts = [seen for seen in upstream.seen if seen[0] == "PUT"]
    assert len(puts) == 1  # one upstream session token, reused
    assert puts[0][1] == "/latest/api/token"
    assert puts[0][2][TTL] == "21600"
    gets = [headers for method, _, headers in upstream.seen if method == "GET"]
    assert len(gets) == 4
    upstream_tokens = {headers[TOKEN] for headers in gets}
    assert len(upstream_tokens) == 1
    assert client_token not in upstream_tokens
