"""Role values end to end: botocore through the proxy, moto as IAM/STS (issue 9).

Findings 7 (a traversal value gets nothing), 9 (a role with a comma is served),
14 (a base role ARN with a path) and 16 (STS's refusal reaches the pod as
IMDS's own document, without the node's identity; the detail goes to the log
and the pod's Event).
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from podwarden import logs
from podwarden.api import keys
from podwarden.metadata.model import ProviderName
from tests.integration.metadata.conftest import LogLines

from .conftest import ACCOUNT, COMMA, PATHED, TEAM_X, UNASSUMABLE, Moto
from .helpers import IMDS_CREDS, client_from, get, namespace, permit_all_roles, pod
from .test_aws import Events, as_pod, botocore_imds, view_with

BASE = f"arn:aws:iam::{ACCOUNT}:role/"


def caller_arn(moto: Moto, creds: Any) -> str:
    return str(as_pod(moto, creds, "sts").get_caller_identity()["Arn"])


@pytest.mark.parametrize(
    "permits",
    [
        {keys.AWS_ALLOWED_ROLES: json.dumps(["team-*"])},
        {keys.AWS_PERMITTED: "team-.*"},
    ],
    ids=["glob", "regex"],
)
async def test_a_traversal_role_value_gets_nothing(node_env, stack, permits):
    events = Events()
    view = await view_with(
        namespace("team", permits),
        pod("evil", "127.0.0.2", annotations={keys.AWS_ROLE: "team-x/../../admin"}),
        pod("good", "127.0.0.3", annotations={keys.AWS_ROLE: "team-x"}),
    )
    running = await stack(
        ProviderName.AWS, view=view, sts_endpoint=node_env.url, base_role_arn=BASE, sink=events
    )
    async with client_from("127.0.0.2") as client:
        assert (await get(client, running.url + IMDS_CREDS))[0] == 404
        status, body = await get(client, running.url + IMDS_CREDS + "admin")
        assert status == 404 and "AccessKeyId" not in body
    await running.identity.recorder.flush()
    assert [(who, reason) for who, reason, _ in events.seen] == [("team/evil", "InvalidIdentity")]
    assert "dot segment '..'" in events.seen[0][2]
    # The pattern's own role is served: the refusal above is the value, not the path.
    creds = await asyncio.to_thread(botocore_imds, running.proxy.port)  # from 127.0.0.1: no pod
    assert creds is None
    async with client_from("127.0.0.3") as client:
        status, listed = await get(client, running.url + IMDS_CREDS)
        assert (status, listed) == (200, "team-x")
        status, body = await get(client, running.url + IMDS_CREDS + "team-x")
    assert status == 200 and json.loads(body)["Code"] == "Success"
    assert running.identity.source is not None
    assert running.identity.source.calls == 1  # team-x only: admin was never asked for


async def test_a_role_with_a_comma_is_served_to_botocore(node_env, stack):
    view = await view_with(
        permit_all_roles(), pod("mypod", "127.0.0.1", annotations={keys.AWS_ROLE: COMMA})
    )
    running = await stack(ProviderName.AWS, view=view, sts_endpoint=node_env.url)
    creds = await asyncio.to_thread(botocore_imds, running.proxy.port)
    assert creds is not None
    who = await asyncio.to_thread(caller_arn, node_env, creds)
    assert who.startswith(f"arn:aws:sts::{ACCOUNT}:assumed-role/team-a,x/team.mypod")


async def test_a_base_role_arn_with_a_path(node_env, stack):
    view = await view_with(
        namespace("team", {keys.AWS_ALLOWED_ROLES: json.dumps(["pathed"])}),
        pod("mypod", "127.0.0.1", annotations={keys.AWS_ROLE: "pathed"}),
    )
    running = await stack(
        ProviderName.AWS, view=view, sts_endpoint=node_env.url, base_role_arn=BASE + "path/"
    )
    creds = await asyncio.to_thread(botocore_imds, running.proxy.port)
    assert creds is not None
    who = await asyncio.to_thread(caller_arn, node_env, creds)
    assert who.startswith(f"arn:aws:sts::{ACCOUNT}:assumed-role/pathed/team.mypod")
    assert PATHED.endswith("role/path/pathed")


async def test_an_sts_refusal_is_imds_shaped_and_never_names_the_node(node_env, stack):
    log_lines = LogLines()
    logs.configure(level="info", stream=log_lines.stream)
    events = Events()
    view = await view_with(
        permit_all_roles(),
        pod("mypod", "127.0.0.1", annotations={keys.AWS_ROLE: UNASSUMABLE}),
        pod("other", "127.0.0.3", annotations={keys.AWS_ROLE: TEAM_X}),
    )
    running = await stack(
        ProviderName.AWS, view=view, sts_endpoint=node_env.url, sink=events, prefetch=False
    )
    async with client_from("127.0.0.1") as client:
        status, body = await get(client, running.url + IMDS_CREDS + "untrusted")
    assert status == 200
    document = json.loads(body)
    assert document["Code"] == "AssumeRoleUnauthorizedAccess"
    assert set(document) == {"Code", "Message", "LastUpdated"}
    assert document["Message"] == "The role untrusted cannot be assumed for this pod."
    for node_identity in ("user/node", f"{ACCOUNT}:user", node_env.node_key, "not authorized"):
        assert node_identity not in body
    assert await asyncio.to_thread(botocore_imds, running.proxy.port) is None
    await running.identity.recorder.flush()
    [(who, reason, message)] = events.seen
    assert (who, reason) == ("team/mypod", "CredentialsUnavailable")
    assert message.startswith(f"AssumeRole {UNASSUMABLE} failed: AccessDenied: ")
    assert "user/node" in message  # the detail: STS's own words, for the operator
    logged = [r for r in log_lines.records() if r.get("reason") == "CredentialsUnavailable"]
    assert logged and "user/node" in logged[0]["message"]
    # The same path serves a role the node may assume.
    async with client_from("127.0.0.3") as client:
        status, body = await get(client, running.url + IMDS_CREDS + "team-x")
    assert status == 200 and json.loads(body)["Code"] == "Success"
