"""moto must behave as AWS does wherever the demo and the suite lean on it.

These tests use moto and boto3 only — no podwarden — so when one fails, moto (or
boto3) has drifted from AWS, not podwarden from its contract. Each failure says
which version of moto is here and which the suite was last green with.

What the suite relies on, each checked below:
- S3 authorization under IAM enforcement: `s3:ListBucket` is the permission for
  ListObjects and ListObjectsV2 (moto 5.2.6 asked for `s3:ListObjectsV2`, which
  AWS does not have); a role without it is refused with AccessDenied, while the
  same credentials can still GetObject (so the refusal is about the grant, not
  about broken credentials).
- STS AssumeRole: the trust policy is enforced (an untrusted caller gets
  AccessDenied), ExternalId, Tags and DurationSeconds are accepted, and
  GetCallerIdentity names the session `assumed-role/<role>/<session>`.
- `/moto-api/reset-auth` switches IAM enforcement on for every later request.
"""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.peers import versions
from tests.peers.conftest import ACCOUNT, BUCKET, Aws

pytestmark = pytest.mark.peers("moto", "boto3", "botocore")


def _drift(what: str) -> str:
    """The failure message: what AWS does that moto did not, and moto's version."""
    return f"{versions.peer('moto').describe()}: {what}"


def _error_code(call: Any, **kwargs: Any) -> str | None:
    try:
        call(**kwargs)
    except ClientError as exc:
        return str(exc.response["Error"]["Code"])
    return None


def test_s3_list_bucket_grant_lets_a_role_list_with_v2_and_v1(aws: Aws) -> None:
    s3 = aws.as_role("reader")
    for call in (s3.list_objects_v2, s3.list_objects):
        try:
            listed = call(Bucket=BUCKET)
        except ClientError as exc:
            pytest.fail(_drift(f"{call.__name__} with an s3:ListBucket grant refused: {exc}"))
        keys = [item["Key"] for item in listed.get("Contents", [])]
        assert keys == ["report.csv"], _drift(f"{call.__name__} listed {keys}")


def test_s3_without_list_bucket_is_refused_while_the_same_credentials_still_read(
    aws: Aws,
) -> None:
    s3 = aws.as_role("no-list")
    body = s3.get_object(Bucket=BUCKET, Key="report.csv")["Body"].read()
    assert body == b"a,b\n", _drift("GetObject under an s3:GetObject grant failed")
    code = _error_code(s3.list_objects_v2, Bucket=BUCKET)
    assert code == "AccessDenied", _drift(f"ListObjectsV2 without s3:ListBucket gave {code!r}")


def test_enforcement_is_on_after_reset_auth(aws: Aws) -> None:
    unknown = aws.client("s3", aws_access_key_id="AKIANOBODY", aws_secret_access_key="x")
    code = _error_code(unknown.list_buckets)
    assert code == "InvalidAccessKeyId", _drift(f"an unknown key got {code!r}, not refused")


def test_assume_role_enforces_the_trust_policy(aws: Aws) -> None:
    sts = aws.client(
        "sts", aws_access_key_id=aws.stranger_key, aws_secret_access_key=aws.stranger_secret
    )
    code = _error_code(
        sts.assume_role, RoleArn=f"arn:aws:iam::{ACCOUNT}:role/reader", RoleSessionName="stranger"
    )
    assert code == "AccessDenied", _drift(f"an untrusted caller's AssumeRole gave {code!r}")


def test_assume_role_takes_the_inputs_podwarden_sends_and_names_the_session(aws: Aws) -> None:
    creds = aws.as_node("sts").assume_role(
        RoleArn=f"arn:aws:iam::{ACCOUNT}:role/reader",
        RoleSessionName="default.pod-a",
        ExternalId="team-a",
        DurationSeconds=3600,
        Tags=[{"Key": "kubernetes-namespace", "Value": "default"}],
    )["Credentials"]
    sts = aws.client(
        "sts",
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
    )
    arn = sts.get_caller_identity()["Arn"]
    expected = f"arn:aws:sts::{ACCOUNT}:assumed-role/reader/default.pod-a"
    assert arn == expected, _drift(f"GetCallerIdentity named {arn!r}, AWS names {expected!r}")
