"""moto on loopback, seeded as the demo seeds it, with IAM enforcement on: AWS for peer tests."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
import requests

from tests.support import moto_process

ACCOUNT = "123456789012"
BUCKET = "contract-bucket"


def _doc(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


@dataclass(frozen=True)
class Aws:
    url: str
    node_key: str
    node_secret: str
    stranger_key: str  # a user allowed sts:AssumeRole whom no role trusts
    stranger_secret: str

    def client(self, service: str, **keys: str) -> Any:
        return boto3.client(service, endpoint_url=self.url, region_name="us-east-1", **keys)

    def as_node(self, service: str) -> Any:
        return self.client(
            service, aws_access_key_id=self.node_key, aws_secret_access_key=self.node_secret
        )

    def as_role(self, role: str, **assume: Any) -> Any:
        """An S3 client with the role's temporary credentials, assumed as the node."""
        creds = self.as_node("sts").assume_role(
            RoleArn=f"arn:aws:iam::{ACCOUNT}:role/{role}", RoleSessionName="contract", **assume
        )["Credentials"]
        return self.client(
            "s3",
            aws_access_key_id=creds["AccessKeyId"],
            aws_secret_access_key=creds["SecretAccessKey"],
            aws_session_token=creds["SessionToken"],
        )


def _seed(url: str) -> tuple[str, str, str, str]:
    seed = {"aws_access_key_id": "seed", "aws_secret_access_key": "seed"}
    iam = boto3.client("iam", endpoint_url=url, region_name="us-east-1", **seed)
    s3 = boto3.client("s3", endpoint_url=url, region_name="us-east-1", **seed)
    iam.create_user(UserName="node")
    iam.put_user_policy(
        UserName="node",
        PolicyName="assume",
        PolicyDocument=_doc(
            {"Effect": "Allow", "Action": ["sts:AssumeRole", "sts:TagSession"], "Resource": "*"}
        ),
    )
    iam.create_user(UserName="stranger")
    iam.put_user_policy(
        UserName="stranger",
        PolicyName="assume",
        PolicyDocument=_doc({"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"}),
    )
    key = iam.create_access_key(UserName="node")["AccessKey"]
    stranger = iam.create_access_key(UserName="stranger")["AccessKey"]
    s3.create_bucket(Bucket=BUCKET)
    s3.put_object(Bucket=BUCKET, Key="report.csv", Body=b"a,b\n")
    trust = _doc(
        {
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:user/node"},
            "Action": ["sts:AssumeRole", "sts:TagSession"],
        }
    )
    arn = f"arn:aws:s3:::{BUCKET}"
    for role, actions in (
        ("reader", ["s3:ListBucket", "s3:GetObject"]),
        ("no-list", ["s3:GetObject"]),
    ):
        iam.create_role(RoleName=role, AssumeRolePolicyDocument=trust)
        iam.put_role_policy(
            RoleName=role,
            PolicyName="s3",
            PolicyDocument=_doc(
                {"Effect": "Allow", "Action": actions, "Resource": [arn, f"{arn}/*"]}
            ),
        )
    requests.post(f"{url}/moto-api/reset-auth", data=b"0", timeout=5).raise_for_status()
    return (
        key["AccessKeyId"],
        key["SecretAccessKey"],
        stranger["AccessKeyId"],
        stranger["SecretAccessKey"],
    )


@pytest.fixture(scope="session")
def aws() -> Iterator[Aws]:
    """moto's server on loopback, seeded, with IAM enforcement on."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    with moto_process.on_loopback(env) as url:
        yield Aws(url, *_seed(url))
