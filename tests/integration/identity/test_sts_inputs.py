"""What the proxy sends STS, read off the wire: AssumeRole inputs, and whose keys sign them.

A recording relay sits between the proxy and moto (relay.py), so these tests
see exactly the form fields STS receives — RoleArn, RoleSessionName,
DurationSeconds, ExternalId, Tags — and the access key and session token that
signed the call. Nothing is stubbed on the proxy's side: a pod asks over HTTP,
aiobotocore signs and sends, moto answers.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml

from podwarden.api import keys
from podwarden.kube import store
from podwarden.lab.ports import free_port, wait_listening
from podwarden.metadata.model import ProviderName

from .conftest import NODE_ROLE, NODE_SESSION, READER, Moto
from .helpers import IMDS_CREDS, client_from, get, permit_all_roles, pod
from .relay import recording_relay

pytestmark = pytest.mark.peers("moto", "boto3", "botocore")

PODWARDEN = str(Path(sys.executable).parent / "podwarden")


async def _view(*objects: dict[str, Any]) -> store.ClusterView:
    view = store.ClusterView()
    for obj in objects:
        await view.apply(obj)
    return view


def _caller(moto: Moto, document: dict[str, str]) -> str:
    sts = boto3.client(
        "sts",
        endpoint_url=moto.url,
        region_name="us-east-1",
        aws_access_key_id=document["AccessKeyId"],
        aws_secret_access_key=document["SecretAccessKey"],
        aws_session_token=document["Token"],
    )
    return str(sts.get_caller_identity()["Arn"])


async def test_assume_role_carries_arn_session_name_duration_external_id_and_tags(node_env, stack):
    mine = pod(
        "mypod",
        "127.0.0.1",
        annotations={keys.AWS_ROLE: READER, keys.AWS_EXTERNAL_ID: "ext-4711"},
    )
    mine["spec"]["serviceAccountName"] = "reports"
    view = await _view(permit_all_roles(), mine)
    async with recording_relay(node_env.url) as relay:
        running = await stack(
            ProviderName.AWS,
            view=view,
            sts_endpoint=relay.url,
            session_duration=45 * 60,
            session_tags=True,
        )
        async with client_from("127.0.0.1") as client:
            status, body = await get(client, running.url + IMDS_CREDS + "reader")
    assert status == 200, body
    [call] = relay.actions("AssumeRole")
    assert call.form == {
        "Action": "AssumeRole",
        "Version": "2011-06-15",
        "RoleArn": READER,
        "RoleSessionName": "team.mypod",
        "DurationSeconds": "2700",
        "ExternalId": "ext-4711",
        "Tags.member.1.Key": "kubernetes-namespace",
        "Tags.member.1.Value": "team",
        "Tags.member.2.Key": "kubernetes-pod",
        "Tags.member.2.Value": "mypod",
        "Tags.member.3.Key": "kubernetes-service-account",
        "Tags.member.3.Value": "reports",
    }
    assert call.access_key == node_env.node_key and call.session_token is None
    who = await asyncio.to_thread(_caller, node_env, json.loads(body))
    assert who.endswith(":assumed-role/reader/team.mypod")


async def test_without_external_id_or_tags_neither_is_sent(node_env, stack):
    view = await _view(
        permit_all_roles(), pod("plain", "127.0.0.1", annotations={keys.AWS_ROLE: READER})
    )
    async with recording_relay(node_env.url) as relay:
        running = await stack(ProviderName.AWS, view=view, sts_endpoint=relay.url)
        async with client_from("127.0.0.1") as client:
            status, _ = await get(client, running.url + IMDS_CREDS + "reader")
    assert status == 200
    [call] = relay.actions("AssumeRole")
    assert sorted(call.form) == [
        "Action",
        "DurationSeconds",
        "RoleArn",
        "RoleSessionName",
        "Version",
    ]
    assert (call.form["RoleSessionName"], call.form["DurationSeconds"]) == ("team.plain", "3600")


async def test_role_scope_shares_one_session_among_pods_of_a_role(node_env, stack):
    """`--session-scope role`: the issue's "cache per (role, external id)" — one STS call."""
    view = await _view(
        permit_all_roles(),
        *(pod(f"p{i}", f"127.0.0.{i + 1}", annotations={keys.AWS_ROLE: READER}) for i in range(5)),
    )
    async with recording_relay(node_env.url) as relay:
        running = await stack(
            ProviderName.AWS, view=view, sts_endpoint=relay.url, session_scope="role"
        )
        keys_seen = set()
        for i in range(5):
            async with client_from(f"127.0.0.{i + 1}") as client:
                status, body = await get(client, running.url + IMDS_CREDS + "reader")
            assert status == 200
            keys_seen.add(json.loads(body)["AccessKeyId"])
    [call] = relay.actions("AssumeRole")
    assert call.form["RoleSessionName"].startswith("podwarden-reader-")
    assert not any(k.startswith("Tags.") for k in call.form)
    assert len(keys_seen) == 1


def _http(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def _node_session(moto: Moto) -> dict[str, str]:
    """What an EC2 node's IMDS serves: a session of the node's own role (moto-valid)."""
    sts = boto3.client(
        "sts",
        endpoint_url=moto.url,
        region_name="us-east-1",
        aws_access_key_id=moto.node_key,
        aws_secret_access_key=moto.node_secret,
    )
    creds = sts.assume_role(RoleArn=NODE_ROLE, RoleSessionName=NODE_SESSION)
    return dict(creds["Credentials"])


async def test_node_credentials_come_from_the_upstream_metadata_service(moto: Moto, tmp_path):
    """No node keys in env or shared files: the chain finds them at --upstream (the emulator).

    AWS_EC2_METADATA_SERVICE_ENDPOINT points at a dead loopback port, so only the
    proxy pinning the chain to --upstream can find credentials (and nothing in
    this test can ever reach a real metadata address).
    """
    node = await asyncio.to_thread(_node_session, moto)
    state = tmp_path / "state.yaml"
    state.write_text(
        yaml.safe_dump(
            {
                "aws": {
                    "node_role_name": "node-role",
                    "access_key_id": node["AccessKeyId"],
                    "secret_access_key": node["SecretAccessKey"],
                    "session_token": node["SessionToken"],
                }
            }
        )
    )
    cluster = tmp_path / "cluster.yaml"
    cluster.write_text(
        yaml.safe_dump_all(
            [permit_all_roles(), pod("mypod", "127.0.0.1", annotations={keys.AWS_ROLE: READER})]
        )
    )
    clean = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env = {
        **clean,
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "no-credentials"),
        "AWS_CONFIG_FILE": str(tmp_path / "no-config"),
        "AWS_EC2_METADATA_SERVICE_ENDPOINT": "http://127.0.0.1:9/",
    }
    cloud_port, port = free_port(), free_port()
    processes: list[subprocess.Popen[bytes]] = []
    async with recording_relay(moto.url) as relay:
        try:
            processes.append(
                subprocess.Popen(
                    [
                        PODWARDEN,
                        "lab",
                        "cloud",
                        "--provider",
                        "aws",
                        "--listen",
                        f"127.0.0.1:{cloud_port}",
                        "--state",
                        str(state),
                    ],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    env=clean,
                )
            )
            await asyncio.to_thread(wait_listening, "127.0.0.1", cloud_port, timeout=20)
            processes.append(
                subprocess.Popen(
                    [
                        PODWARDEN,
                        "proxy",
                        "--provider",
                        "aws",
                        "--upstream",
                        f"http://127.0.0.1:{cloud_port}",
                        "--listen",
                        f"127.0.0.1:{port}",
                        "--cluster-file",
                        str(cluster),
                        "--sts-endpoint",
                        relay.url,
                    ],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    env=env,
                )
            )
            await asyncio.to_thread(wait_listening, "127.0.0.1", port, timeout=20)
            url = f"http://127.0.0.1:{port}{IMDS_CREDS}reader"
            deadline = time.monotonic() + 15
            status, body = await asyncio.to_thread(_http, url)
            while status != 200 and time.monotonic() < deadline:
                await asyncio.sleep(0.3)  # a failed prefetch backs off; ask again
                status, body = await asyncio.to_thread(_http, url)
        finally:
            for process in reversed(processes):
                process.terminate()
                process.wait(timeout=10)
    assert status == 200, body
    document = json.loads(body)
    assert document["AccessKeyId"] != node["AccessKeyId"]
    calls = relay.actions("AssumeRole")
    assert calls and {c.form["RoleArn"] for c in calls} == {READER}
    assert {(c.access_key, c.session_token) for c in calls} == {
        (node["AccessKeyId"], node["SessionToken"])
    }
    who = await asyncio.to_thread(_caller, moto, document)
    assert who.endswith(":assumed-role/reader/team.mypod")
