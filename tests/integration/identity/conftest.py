"""Loopback fixtures for pod identity: moto as IAM/STS/S3 with policy enforcement, the proxy.

moto runs as its own process (`moto_server`), so its process-wide
authorisation switch cannot leak into other tests. It is seeded without
authorisation, then `/moto-api/reset-auth 0` turns IAM enforcement on for
every later request: from then on the node user may only call
sts:AssumeRole, and each role may only do what its policy says.
"""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
import requests

from podwarden.kube import store
from podwarden.lab.cloud import server as cloud_server
from podwarden.metadata import firewall, proxy
from podwarden.metadata.identity import service
from podwarden.metadata.identity.settings import IdentitySettings
from podwarden.metadata.model import ProviderName
from podwarden.metadata.settings import ProxySettings
from tests.support import moto_process

ACCOUNT = "123456789012"
BUCKET = "team-bucket"
READER = f"arn:aws:iam::{ACCOUNT}:role/reader"
NOPERM = f"arn:aws:iam::{ACCOUNT}:role/no-list"
OTHER = f"arn:aws:iam::{ACCOUNT}:role/other"
NODE_ROLE = f"arn:aws:iam::{ACCOUNT}:role/node-role"  # what an EC2 node's IMDS would serve
# Roles for issue 9's role-value cases: a role a traversal would reach, one its
# pattern permits, IAM's comma, a role under a path, and one the node may not assume.
ADMIN = f"arn:aws:iam::{ACCOUNT}:role/admin"
TEAM_X = f"arn:aws:iam::{ACCOUNT}:role/team-x"
COMMA = f"arn:aws:iam::{ACCOUNT}:role/team-a,x"
PATHED = f"arn:aws:iam::{ACCOUNT}:role/path/pathed"
UNASSUMABLE = f"arn:aws:iam::{ACCOUNT}:role/untrusted"
NODE_SESSION = "i-0emulator0000001"  # the node role's session name (EC2 uses the instance id)
# AWS matches a trust principal `role/node-role` for every session of the role;
# moto compares the exact caller ARN, so the session's ARN is listed as well.
NODE_PRINCIPALS = (NODE_ROLE, f"arn:aws:sts::{ACCOUNT}:assumed-role/node-role/{NODE_SESSION}")
TRUST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": [f"arn:aws:iam::{ACCOUNT}:user/node", *NODE_PRINCIPALS]},
                "Action": ["sts:AssumeRole", "sts:TagSession"],
            }
        ],
    }
)


def _policy(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


@dataclass(frozen=True)
class Moto:
    url: str
    node_key: str
    node_secret: str

    def env(self) -> dict[str, str]:
        """The node's credentials as the environment part of the standard chain."""
        return {"AWS_ACCESS_KEY_ID": self.node_key, "AWS_SECRET_ACCESS_KEY": self.node_secret}


def _seed(url: str) -> tuple[str, str]:
    def client(name: str) -> Any:
        return boto3.client(
            name,
            endpoint_url=url,
            region_name="us-east-1",
            aws_access_key_id="seed",
            aws_secret_access_key="seed",
        )

    iam, s3 = client("iam"), client("s3")
    iam.create_user(UserName="node")
    iam.put_user_policy(
        UserName="node",
        PolicyName="assume",
        PolicyDocument=_policy(
            {"Effect": "Allow", "Action": ["sts:AssumeRole", "sts:TagSession"], "Resource": "*"},
            {"Effect": "Deny", "Action": "sts:AssumeRole", "Resource": UNASSUMABLE},
        ),
    )
    key = iam.create_access_key(UserName="node")["AccessKey"]
    s3.create_bucket(Bucket=BUCKET)
    s3.put_object(Bucket=BUCKET, Key="report.csv", Body=b"a,b\n1,2\n")
    bucket_arn = f"arn:aws:s3:::{BUCKET}"
    for arn, actions in (
        (READER, ["s3:ListBucket", "s3:GetObject"]),
        (NOPERM, ["s3:GetObject"]),
        (OTHER, ["s3:ListBucket"]),
    ):
        name = arn.rsplit("/", 1)[-1]
        iam.create_role(RoleName=name, AssumeRolePolicyDocument=TRUST)
        iam.put_role_policy(
            RoleName=name,
            PolicyName="s3",
            PolicyDocument=_policy(
                {"Effect": "Allow", "Action": actions, "Resource": [bucket_arn, bucket_arn + "/*"]}
            ),
        )
    for arn in (ADMIN, TEAM_X, COMMA, PATHED, UNASSUMABLE):
        path, name = arn.split(":role", 1)[1].rsplit("/", 1)
        iam.create_role(RoleName=name, Path=path + "/", AssumeRolePolicyDocument=TRUST)
    iam.create_role(RoleName="node-role", AssumeRolePolicyDocument=TRUST)
    iam.put_role_policy(
        RoleName="node-role",
        PolicyName="assume",
        PolicyDocument=_policy(
            {"Effect": "Allow", "Action": ["sts:AssumeRole", "sts:TagSession"], "Resource": "*"}
        ),
    )
    requests.post(f"{url}/moto-api/reset-auth", data=b"0", timeout=5).raise_for_status()
    return key["AccessKeyId"], key["SecretAccessKey"]


@pytest.fixture(scope="session")
def moto() -> Iterator[Moto]:
    with moto_process.on_loopback({**os.environ, "MOTO_ALLOW_NONEXISTENT_REGION": "true"}) as url:
        key, secret = _seed(url)
        yield Moto(url=url, node_key=key, node_secret=secret)


@pytest.fixture
def node_env(moto: Moto, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Moto:
    """The proxy process's environment: node keys, and no shared files from this machine."""
    for name, value in moto.env().items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    return moto


def pod_env(proxy_port: int, tmp_path: Path) -> dict[str, str]:
    """A pod's environment for botocore/awscli: no keys, IMDS at the proxy."""
    keep = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    return {
        **keep,
        "AWS_EC2_METADATA_SERVICE_ENDPOINT": f"http://127.0.0.1:{proxy_port}/",
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "pod-no-credentials"),
        "AWS_CONFIG_FILE": str(tmp_path / "pod-no-config"),
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_METADATA_SERVICE_NUM_ATTEMPTS": "2",
    }


@dataclass
class Stack:
    """A running proxy with identity, its view and its identity layer."""

    view: store.ClusterView
    identity: service.Identity
    proxy: proxy.RunningProxy

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.proxy.port}"


StartStack = Callable[..., Awaitable[Stack]]


@pytest.fixture
async def stack() -> AsyncIterator[StartStack]:
    """start(provider, settings overrides..., view=None, upstream=None, sink=None,
    aws_fetch=None, verify_lookup=None, metrics=False) -> Stack;
    `metrics=True` also opens the proxy's /metrics listener on loopback."""
    started: list[Stack] = []
    runners: list[Any] = []

    async def start(
        provider: ProviderName,
        *,
        view: store.ClusterView | None = None,
        upstream: str | None = None,
        sink: Any = None,
        clock: Callable[[], float] | None = None,
        aws_fetch: Any = None,
        verify_lookup: Any = None,
        metrics: bool = False,
        **overrides: Any,
    ) -> Stack:
        if upstream is None:
            runner = await cloud_server.start(provider.value, "127.0.0.1", 0)
            runners.append(runner)
            upstream = f"http://127.0.0.1:{int(runner.addresses[0][1])}"
        view = view or store.ClusterView()
        settings = IdentitySettings(provider=provider, **overrides)
        extra: dict[str, Any] = {"clock": clock} if clock is not None else {}
        if aws_fetch is not None:
            extra["aws_fetch"] = aws_fetch
        if verify_lookup is not None:
            extra["verify_lookup"] = verify_lookup
        identity = await service.start(
            settings, view=view, upstream_url=upstream, sink=sink, **extra
        )
        proxy_settings = ProxySettings(
            provider=provider, upstream_url=upstream, metrics_host="127.0.0.1" if metrics else None
        )
        fw = identity.firewall(firewall.build(provider))
        running = await proxy.start(proxy_settings, identity=identity.handlers, fw=fw)
        started.append(Stack(view=view, identity=identity, proxy=running))
        return started[-1]

    yield start
    for item in started:
        await item.proxy.stop(drain_timeout=1.0)
        await item.identity.close()
    for runner in runners:
        await runner.cleanup()
