"""IMDS protocol details at the HTTP level: tokens, TTLs, refusals, tree, listings."""

from __future__ import annotations

import asyncio
import json
import re
from datetime import UTC, datetime, timedelta

import pytest

from podwarden.lab.cloud import secrets

TTL = "X-aws-ec2-metadata-token-ttl-seconds"
TOKEN = "X-aws-ec2-metadata-token"


async def _token(http, url: str, ttl: str = "60") -> str:
    async with http.put(f"{url}/latest/api/token", headers={TTL: ttl}) as response:
        assert response.status == 200
        assert response.headers["X-Aws-Ec2-Metadata-Token-Ttl-Seconds"] == ttl
        return await response.text()


async def _get(http, url: str, path: str, **headers: str) -> tuple[int, str]:
    async with http.get(url + path, headers=headers) as response:
        return response.status, await response.text()


@pytest.mark.parametrize("ttl", [None, "", "0", "21601", "-5", "abc", "1.5"])
async def test_token_with_missing_or_bad_ttl_is_400(emulator, http, ttl):
    url = await emulator("aws")
    headers = {} if ttl is None else {TTL: ttl}
    async with http.put(f"{url}/latest/api/token", headers=headers) as response:
        assert response.status == 400
        assert "400 - Missing or Invalid Parameters" in await response.text()


@pytest.mark.parametrize("ttl", ["1", "21600"])
async def test_token_ttl_bounds_are_accepted(emulator, http, ttl):
    url = await emulator("aws")
    assert await _token(http, url, ttl)


async def test_token_put_with_x_forwarded_for_is_refused(emulator, http):
    url = await emulator("aws")
    headers = {TTL: "60", "X-Forwarded-For": "10.0.0.9"}
    async with http.put(f"{url}/latest/api/token", headers=headers) as response:
        assert response.status == 403


async def test_token_from_a_dated_version_is_403(emulator, http):
    url = await emulator("aws")
    async with http.put(f"{url}/2021-03-23/api/token", headers={TTL: "60"}) as response:
        assert response.status == 403


async def test_public_keys_list_index_and_name(emulator, http):
    url = await emulator("aws")
    assert await _get(http, url, "/latest/meta-data/public-keys/") == (200, "0=emulator-key")
    assert await _get(http, url, "/latest/meta-data/public-keys/0/") == (200, "openssh-key")
    _, key = await _get(http, url, "/latest/meta-data/public-keys/0/openssh-key")
    assert key.startswith("ssh-ed25519 ")


async def test_token_path_takes_only_put(emulator, http):
    url = await emulator("aws")
    assert (await _get(http, url, "/latest/api/token"))[0] == 405


async def test_required_mode_refuses_tokenless_get_and_accepts_token(emulator, http):
    url = await emulator("aws", imdsv2_required=True)
    status, body = await _get(http, url, "/latest/meta-data/instance-id")
    assert status == 401
    assert "401 - Unauthorized" in body

    token = await _token(http, url)
    async with http.get(f"{url}/latest/meta-data/instance-id", headers={TOKEN: token}) as response:
        assert response.status == 200
        assert await response.text() == "i-0emulator0000001"
        assert 0 < int(response.headers["X-Aws-Ec2-Metadata-Token-Ttl-Seconds"]) <= 60


async def test_optional_mode_serves_v1_but_refuses_a_bad_token(emulator, http):
    url = await emulator("aws")
    assert await _get(http, url, "/latest/meta-data/instance-id") == (200, "i-0emulator0000001")
    status, _ = await _get(http, url, "/latest/meta-data/instance-id", **{TOKEN: "forged"})
    assert status == 401


async def test_expired_token_is_401(emulator, http):
    url = await emulator("aws")
    token = await _token(http, url, "1")
    assert (await _get(http, url, "/latest/meta-data/ami-id", **{TOKEN: token}))[0] == 200
    await asyncio.sleep(1.1)
    assert (await _get(http, url, "/latest/meta-data/ami-id", **{TOKEN: token}))[0] == 401


async def test_root_lists_versions_and_dated_versions_share_the_tree(emulator, http):
    url = await emulator("aws")
    status, versions = await _get(http, url, "/")
    assert status == 200
    lines = versions.split("\n")
    assert lines[0] == "1.0" and lines[-1] == "latest" and "2009-04-04" in lines
    for version in ("1.0", "2009-04-04", "latest"):
        assert await _get(http, url, f"/{version}/meta-data/placement/region") == (200, "us-east-1")
    assert (await _get(http, url, "/2030-01-01/meta-data/ami-id"))[0] == 404


async def test_listings_mark_directories_and_answer_with_or_without_slash(emulator, http):
    url = await emulator("aws")
    status, root = await _get(http, url, "/latest/")
    assert (status, root) == (200, "dynamic\nmeta-data\nuser-data")
    _, meta = await _get(http, url, "/latest/meta-data")
    assert {"iam/", "placement/", "network/", "services/", "instance-id"} <= set(meta.split("\n"))
    assert await _get(http, url, "/latest/meta-data/placement/") == (
        200,
        "availability-zone\navailability-zone-id\nregion",
    )
    # botocore asks for a leaf with a trailing slash; IMDS answers it.
    assert await _get(http, url, "/latest/meta-data/placement/availability-zone/") == (
        200,
        "us-east-1a",
    )
    _, macs = await _get(http, url, "/latest/meta-data/network/interfaces/macs/")
    assert macs == "0e:49:61:0f:c3:11/"
    _, mac_tree = await _get(http, url, f"/latest/meta-data/network/interfaces/macs/{macs}")
    assert "vpc-id" in mac_tree.split("\n")
    assert await _get(http, url, "/latest/meta-data/services/partition") == (200, "aws")


@pytest.mark.parametrize(
    "path", ["/latest/meta-data/nope", "/latest//meta-data/ami-id", "/latest/meta-data/ami-id/x"]
)
async def test_unknown_paths_are_404_html(emulator, http, path):
    url = await emulator("aws")
    async with http.get(url + path) as response:
        assert response.status == 404
        assert response.headers["Content-Type"].startswith("text/html")
        assert "<h1>404 - Not Found</h1>" in await response.text()


async def test_node_credentials_have_the_imds_shape(emulator, http):
    url = await emulator("aws")
    _, roles = await _get(http, url, "/latest/meta-data/iam/security-credentials/")
    assert roles == secrets.NODE_AWS_ROLE_NAME
    _, body = await _get(http, url, f"/latest/meta-data/iam/security-credentials/{roles}")
    document = json.loads(body)
    assert document["Code"] == "Success" and document["Type"] == "AWS-HMAC"
    assert document["AccessKeyId"] == secrets.NODE_AWS_ACCESS_KEY_ID
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", document["Expiration"])
    expiration = datetime.strptime(document["Expiration"], "%Y-%m-%dT%H:%M:%SZ")
    left = expiration.replace(tzinfo=UTC) - datetime.now(UTC)
    assert left > timedelta(hours=4)  # botocore refreshes inside the last 15 minutes
    _, info = await _get(http, url, "/latest/meta-data/iam/info")
    assert json.loads(info)["InstanceProfileArn"].endswith(f"instance-profile/{roles}")
    _, ident = await _get(
        http, url, "/latest/meta-data/identity-credentials/ec2/security-credentials/ec2-instance"
    )
    assert json.loads(ident)["AccessKeyId"] == secrets.EC2_IDENTITY_ACCESS_KEY_ID


async def test_user_data_and_identity_documents(emulator, http):
    url = await emulator("aws")
    async with http.get(f"{url}/latest/user-data") as response:
        assert response.status == 200
        assert secrets.USER_DATA_SECRET in await response.text()
    _, document = await _get(http, url, "/latest/dynamic/instance-identity/document")
    fields = json.loads(document)
    assert fields["instanceId"] == "i-0emulator0000001" and fields["region"] == "us-east-1"
    assert await _get(http, url, "/latest/dynamic/instance-identity/pkcs7") == (
        200,
        secrets.AWS_IDENTITY_PKCS7,
    )


async def test_methods_other_than_get_are_405(emulator, http):
    url = await emulator("aws")
    async with http.post(f"{url}/latest/meta-data/ami-id") as response:
        assert response.status == 405
