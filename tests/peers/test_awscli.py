"""The AWS CLI says what the demo and the walkthrough tests read from it.

`make demo` and the kube2iam walkthrough judge a pod by what `aws s3 ls` prints:
the key names when it may list, `AccessDenied` when its role may not, and
`Unable to locate credentials` when no credentials reach it at all. These run
the CLI against moto alone (no podwarden), so a changed message shows up here
with the CLI's version, not as a puzzling demo row.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from podwarden.lab.ports import free_port
from tests.peers import versions
from tests.peers.conftest import ACCOUNT, BUCKET, Aws

pytestmark = pytest.mark.peers("awscli", "botocore", "moto")

AWS = str(Path(sys.executable).with_name("aws"))


def _drift(what: str) -> str:
    return f"{versions.peer('awscli').describe()}: {what}"


def _ls(aws: Aws, tmp_path: Path, **keys: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env |= {
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"),
        "AWS_CONFIG_FILE": str(tmp_path / "none"),
        "AWS_DEFAULT_REGION": "us-east-1",
        # No credentials from a metadata service: a closed loopback port, one quick try.
        "AWS_EC2_METADATA_SERVICE_ENDPOINT": f"http://127.0.0.1:{free_port()}/",
        "AWS_METADATA_SERVICE_NUM_ATTEMPTS": "1",
        "AWS_METADATA_SERVICE_TIMEOUT": "1",
        **keys,
    }
    return subprocess.run(
        [AWS, "--endpoint-url", aws.url, "s3", "ls", f"s3://{BUCKET}"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )


def _role_keys(aws: Aws, role: str) -> dict[str, str]:
    creds = aws.as_node("sts").assume_role(
        RoleArn=f"arn:aws:iam::{ACCOUNT}:role/{role}", RoleSessionName="awscli-contract"
    )["Credentials"]
    return {
        "AWS_ACCESS_KEY_ID": creds["AccessKeyId"],
        "AWS_SECRET_ACCESS_KEY": creds["SecretAccessKey"],
        "AWS_SESSION_TOKEN": creds["SessionToken"],
    }


def test_a_role_that_may_list_sees_the_key(aws: Aws, tmp_path: Path) -> None:
    done = _ls(aws, tmp_path, **_role_keys(aws, "reader"))
    assert done.returncode == 0, _drift(f"listing failed: {done.stderr}")
    assert "report.csv" in done.stdout, _drift(f"the listing lacks the key: {done.stdout!r}")


def test_a_role_that_may_not_list_is_told_access_denied(aws: Aws, tmp_path: Path) -> None:
    done = _ls(aws, tmp_path, **_role_keys(aws, "no-list"))
    assert done.returncode != 0
    assert "AccessDenied" in done.stderr, _drift(f"no AccessDenied in {done.stderr!r}")


def test_no_credentials_at_all_says_unable_to_locate_credentials(aws: Aws, tmp_path: Path) -> None:
    done = _ls(aws, tmp_path)
    assert done.returncode != 0
    assert "Unable to locate credentials" in done.stderr, _drift(f"said {done.stderr!r}")
