"""AWS pod identity on loopback: the proxy, moto (IAM/STS/S3, enforcing), botocore unchanged."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import UTC, datetime
from typing import Any

import boto3
import botocore.credentials
import botocore.exceptions
import pytest

from podwarden.api import keys
from podwarden.kube import store
from podwarden.lab.cloud import secrets
from podwarden.metadata.identity import container_tokens
from podwarden.metadata.model import ProviderName

from .conftest import BUCKET, NOPERM, OTHER, READER, Moto
from .helpers import IMDS_CREDS, client_from, get, namespace, permit_all_roles, pod

pytestmark = pytest.mark.peers("moto", "boto3", "botocore")

NODE_SECRETS = (secrets.NODE_AWS_SECRET_ACCESS_KEY, secrets.NODE_AWS_ACCESS_KEY_ID)


class Events:
    def __init__(self) -> None:
        self.seen: list[tuple[str, str, str]] = []

    async def create(self, pod: Any, *, reason: str, message: str) -> None:
        self.seen.append((pod.key, reason, message))


async def view_with(*objects: dict[str, Any]) -> store.ClusterView:
    view = store.ClusterView()
    for obj in objects:
        await view.apply(obj)
    return view


def botocore_imds(port: int) -> botocore.credentials.Credentials | None:
    """What an unchanged botocore finds at IMDS (the proxy) — run in a thread."""
    fetcher = botocore.credentials.InstanceMetadataFetcher(
        timeout=2,
        num_attempts=1,
        config={"ec2_metadata_service_endpoint": f"http://127.0.0.1:{port}/"},
    )
    return botocore.credentials.InstanceMetadataProvider(iam_role_fetcher=fetcher).load()


def as_pod(moto: Moto, creds: Any, service: str) -> Any:
    frozen = creds.get_frozen_credentials()
    return boto3.client(
        service,
        endpoint_url=moto.url,
        region_name="us-east-1",
        aws_access_key_id=frozen.access_key,
        aws_secret_access_key=frozen.secret_key,
        aws_session_token=frozen.token,
    )


async def test_botocore_gets_the_pods_own_role_and_can_list_the_bucket(node_env, stack):
    view = await view_with(
        permit_all_roles(), pod("mypod", "127.0.0.1", annotations={keys.AWS_ROLE: READER})
    )
    running = await stack(ProviderName.AWS, view=view, sts_endpoint=node_env.url)
    creds = await asyncio.to_thread(botocore_imds, running.proxy.port)
    assert creds is not None and creds.method == "iam-role"
    who = await asyncio.to_thread(lambda: as_pod(node_env, creds, "sts").get_caller_identity())
    assert who["Arn"].startswith("arn:aws:sts::123456789012:assumed-role/reader/team.mypod")
    listed = await asyncio.to_thread(
        lambda: as_pod(node_env, creds, "s3").list_objects_v2(Bucket=BUCKET)
    )
    assert [o["Key"] for o in listed["Contents"]] == ["report.csv"]
    assert creds.access_key != node_env.node_key


async def test_imds_answers_show_only_the_pods_role(node_env, stack):
    view = await view_with(
        permit_all_roles(), pod("mypod", "127.0.0.1", annotations={keys.AWS_ROLE: READER})
    )
    running = await stack(ProviderName.AWS, view=view, sts_endpoint=node_env.url)
    async with client_from("127.0.0.1") as client:
        base = running.url + "/latest/meta-data/iam"
        assert await get(client, base + "/security-credentials/") == (200, "reader")
        assert await get(client, base + "/") == (200, "info\nsecurity-credentials/")
        status, other = await get(client, base + "/security-credentials/other")
        assert status == 404 and "404 - Not Found" in other
        status, body = await get(client, base + "/security-credentials/reader")
        info_status, info = await get(client, base + "/info")
    assert status == 200
    document = json.loads(body)
    assert set(document) == {
        "Code",
        "LastUpdated",
        "Type",
        "AccessKeyId",
        "SecretAccessKey",
        "Token",
        "Expiration",
    }
    assert (document["Code"], document["Type"]) == ("Success", "AWS-HMAC")
    expires = datetime.strptime(document["Expiration"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    assert expires.timestamp() - time.time() > 15 * 60
    assert info_status == 200
    assert json.loads(info)["InstanceProfileArn"] == (
        "arn:aws:iam::123456789012:instance-profile/reader"
    )


async def test_a_pod_without_a_role_gets_nothing_and_never_the_nodes_credentials(node_env, stack):
    view = await view_with(permit_all_roles(), pod("plain", "127.0.0.1"))
    running = await stack(ProviderName.AWS, view=view, sts_endpoint=node_env.url)
    assert await asyncio.to_thread(botocore_imds, running.proxy.port) is None
    async with client_from("127.0.0.1") as client:
        for path in ("", "emulator-node-role", "../info"):
            status, body = await get(client, running.url + IMDS_CREDS + path)
            assert status == 404
            assert not any(s in body for s in NODE_SECRETS)


async def test_a_namespace_that_does_not_permit_the_role_refuses_it_with_an_event(node_env, stack):
    events = Events()
    view = await view_with(
        namespace("team", {keys.AWS_ALLOWED_ROLES: json.dumps(["other"])}),
        pod("mypod", "127.0.0.1", annotations={keys.AWS_ROLE: READER}),
    )
    running = await stack(ProviderName.AWS, view=view, sts_endpoint=node_env.url, sink=events)
    async with client_from("127.0.0.1") as client:
        status, _ = await get(client, running.url + IMDS_CREDS)
    await running.identity.recorder.flush()
    assert status == 404
    assert events.seen == [
        (
            "team/mypod",
            "IdentityNotPermitted",
            f"role {READER!r} is not permitted by the namespace's annotations",
        )
    ]
    assert running.identity.source is not None and running.identity.source.calls == 0


async def test_a_role_without_list_permission_gets_access_denied(node_env, stack):
    view = await view_with(
        permit_all_roles(), pod("mypod", "127.0.0.1", annotations={keys.AWS_ROLE: NOPERM})
    )
    running = await stack(ProviderName.AWS, view=view, sts_endpoint=node_env.url)
    creds = await asyncio.to_thread(botocore_imds, running.proxy.port)
    assert creds is not None
    s3 = as_pod(node_env, creds, "s3")
    # The same credentials read an object (the role's one grant): the refusal below is
    # about the missing s3:ListBucket, not about credentials that do not work at all.
    got = await asyncio.to_thread(lambda: s3.get_object(Bucket=BUCKET, Key="report.csv"))
    assert got["Body"].read() == b"a,b\n1,2\n"
    with pytest.raises(botocore.exceptions.ClientError) as caught:
        await asyncio.to_thread(lambda: s3.list_objects_v2(Bucket=BUCKET))
    assert caught.value.response["Error"]["Code"] == "AccessDenied"


async def test_many_concurrent_requests_make_one_assume_role(node_env, stack):
    view = await view_with(
        permit_all_roles(), pod("mypod", "127.0.0.1", annotations={keys.AWS_ROLE: READER})
    )
    running = await stack(ProviderName.AWS, view=view, sts_endpoint=node_env.url, prefetch=False)
    async with client_from("127.0.0.1") as client:
        answers = await asyncio.gather(
            *(get(client, running.url + IMDS_CREDS + "reader") for _ in range(50))
        )
    assert {status for status, _ in answers} == {200}
    assert len({json.loads(body)["AccessKeyId"] for _, body in answers}) == 1
    assert running.identity.source is not None and running.identity.source.calls == 1


async def test_a_pod_that_appears_is_prefetched_before_its_first_request(node_env, stack):
    view = await view_with(permit_all_roles())
    running = await stack(ProviderName.AWS, view=view, sts_endpoint=node_env.url)
    await view.apply(pod("new", "127.0.0.1", annotations={keys.AWS_ROLE: READER}))
    assert running.identity.cache is not None
    await running.identity.cache.idle()
    assert running.identity.source is not None and running.identity.source.calls == 1
    async with client_from("127.0.0.1") as client:
        status, _ = await get(client, running.url + IMDS_CREDS + "reader")
    assert status == 200
    assert running.identity.source.calls == 1


async def test_sts_failure_is_an_imds_error_with_backoff_never_node_credentials(node_env, stack):
    view = await view_with(
        permit_all_roles(), pod("mypod", "127.0.0.1", annotations={keys.AWS_ROLE: READER})
    )
    dead = "http://127.0.0.1:9"  # discard port: nothing listens
    running = await stack(ProviderName.AWS, view=view, sts_endpoint=dead, prefetch=False)
    async with client_from("127.0.0.1") as client:
        first = await get(client, running.url + IMDS_CREDS + "reader")
        second = await get(client, running.url + IMDS_CREDS + "reader")
    for status, body in (first, second):
        assert status == 200  # IMDS's document for a role without credentials: Code, no keys
        document = json.loads(body)
        assert document["Code"] == "EndpointConnectionError"
        assert "AccessKeyId" not in document
        assert "127.0.0.1:9" not in body  # the source's own words stay in the log
        assert node_env.node_key not in body and node_env.node_secret not in body
    assert running.identity.source is not None and running.identity.source.calls == 1


async def test_headers_never_change_who_the_client_is(node_env, stack):
    view = await view_with(
        permit_all_roles(),
        pod("plain", "127.0.0.3"),
        pod("mypod", "127.0.0.2", annotations={keys.AWS_ROLE: READER}),
    )
    running = await stack(ProviderName.AWS, view=view, sts_endpoint=node_env.url)
    forged = {
        "X-Forwarded-For": "127.0.0.2",
        "X-Real-IP": "127.0.0.2",
        "Forwarded": "for=127.0.0.2",
    }
    async with client_from("127.0.0.3") as client:
        assert (await get(client, running.url + IMDS_CREDS, forged))[0] == 404
    async with client_from("127.0.0.2") as client:
        forged = {"X-Forwarded-For": "127.0.0.3"}
        assert await get(client, running.url + IMDS_CREDS, forged) == (200, "reader")


async def test_deleted_and_deannotated_pods_lose_their_role_at_the_next_event(node_env, stack):
    mine = pod("mypod", "127.0.0.2", annotations={keys.AWS_ROLE: READER})
    view = await view_with(permit_all_roles(), mine)
    running = await stack(ProviderName.AWS, view=view, sts_endpoint=node_env.url, address_wait=0.3)
    async with client_from("127.0.0.2") as client:
        assert (await get(client, running.url + IMDS_CREDS + "reader"))[0] == 200
        bare = json.loads(json.dumps(mine))
        bare["metadata"]["annotations"] = {}
        await view.apply(bare)
        assert (await get(client, running.url + IMDS_CREDS + "reader"))[0] == 404
        await view.apply(mine)
        assert (await get(client, running.url + IMDS_CREDS + "reader"))[0] == 200
        await view.delete(mine)
        started = time.monotonic()
        assert (await get(client, running.url + IMDS_CREDS + "reader"))[0] == 404
    assert time.monotonic() - started >= 0.25  # the bounded wait for an unknown address


async def test_an_unknown_address_waits_a_bounded_time_for_the_view(node_env, stack):
    view = await view_with(permit_all_roles())
    running = await stack(ProviderName.AWS, view=view, sts_endpoint=node_env.url, address_wait=0.3)
    async with client_from("127.0.0.4") as client:
        started = time.monotonic()
        assert (await get(client, running.url + IMDS_CREDS))[0] == 404
        waited = time.monotonic() - started
        assert 0.28 <= waited < 2.0

        async def appear_later() -> None:
            await asyncio.sleep(0.1)
            await view.apply(pod("late", "127.0.0.4", annotations={keys.AWS_ROLE: READER}))

        late = asyncio.create_task(appear_later())
        assert await get(client, running.url + IMDS_CREDS) == (200, "reader")
        await late


async def test_an_address_claimed_by_two_pods_gets_nothing(node_env, stack):
    view = await view_with(
        permit_all_roles(),
        pod("old", "127.0.0.5", annotations={keys.AWS_ROLE: OTHER}),
        pod("new", "127.0.0.5", annotations={keys.AWS_ROLE: READER}),
    )
    running = await stack(ProviderName.AWS, view=view, sts_endpoint=node_env.url)
    async with client_from("127.0.0.5") as client:
        assert (await get(client, running.url + IMDS_CREDS))[0] == 404


async def test_container_credentials_endpoint_with_a_per_pod_token(node_env, stack):
    secret = b"node-secret-for-tests"
    mine = pod("mypod", "127.0.0.1", annotations={keys.AWS_ROLE: READER}, uid="uid-mypod")
    view = await view_with(permit_all_roles(), mine)
    running = await stack(
        ProviderName.AWS,
        view=view,
        sts_endpoint=node_env.url,
        container_token_secret=secret,
        session_tags=True,
    )
    token = container_tokens.container_token(secret, "uid-mypod")

    def load(auth: str) -> botocore.credentials.Credentials | None:
        provider = botocore.credentials.ContainerProvider(
            environ={
                "AWS_CONTAINER_CREDENTIALS_FULL_URI": f"{running.url}/v1/credentials",
                "AWS_CONTAINER_AUTHORIZATION_TOKEN": auth,
            }
        )
        return provider.load()

    creds = await asyncio.to_thread(load, token)
    assert creds is not None and creds.method == "container-role"
    who = await asyncio.to_thread(lambda: as_pod(node_env, creds, "sts").get_caller_identity())
    assert ":assumed-role/reader/team.mypod" in who["Arn"]
    with pytest.raises(botocore.exceptions.CredentialRetrievalError):
        await asyncio.to_thread(load, container_tokens.container_token(secret, "someone-else"))
