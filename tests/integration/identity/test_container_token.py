"""Delivering a pod its container-credentials token: `podwarden identity container-token`.

The token printed by the command, given to botocore's ContainerProvider the two
ways a pod can receive it (AWS_CONTAINER_AUTHORIZATION_TOKEN, or
AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE), gets that pod its own role from the
proxy's `/v1/credentials`; a token printed for another uid gets nothing.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import boto3
import botocore.credentials
import botocore.exceptions
import pytest

from podwarden.api import keys
from podwarden.kube import store
from podwarden.metadata.identity import container_tokens
from podwarden.metadata.model import ProviderName

from .conftest import READER, Moto
from .helpers import permit_all_roles, pod

pytestmark = pytest.mark.peers("moto", "boto3", "botocore")

PODWARDEN = str(Path(sys.executable).parent / "podwarden")
UID = "5f0c7a1e-2b7d-4c51-9d55-0c1e2f3a4b5c"


def container_token(secret_file: Path, uid: str) -> subprocess.CompletedProcess[str]:
    argv = [PODWARDEN, "identity", "container-token", "--secret-file", str(secret_file)]
    return subprocess.run(
        [*argv, "--pod-uid", uid], capture_output=True, text=True, timeout=30, check=False
    )


def load(environ: dict[str, str]) -> botocore.credentials.Credentials | None:
    """botocore's own container provider, given a pod's environment."""
    return botocore.credentials.ContainerProvider(environ=environ).load()


def caller(moto: Moto, creds: botocore.credentials.Credentials) -> str:
    frozen = creds.get_frozen_credentials()
    sts = boto3.client(
        "sts",
        endpoint_url=moto.url,
        region_name="us-east-1",
        aws_access_key_id=frozen.access_key,
        aws_secret_access_key=frozen.secret_key,
        aws_session_token=frozen.token,
    )
    return str(sts.get_caller_identity()["Arn"])


async def test_the_printed_token_gets_the_pod_its_role_through_botocore(node_env, stack, tmp_path):
    secret_file = tmp_path / "container-secret"
    secret_file.write_text("c2VjcmV0LWZvci1jb250YWluZXItdG9rZW5z\n")
    view = store.ClusterView()
    await view.apply(permit_all_roles())
    await view.apply(pod("mypod", "127.0.0.1", annotations={keys.AWS_ROLE: READER}, uid=UID))
    running = await stack(
        ProviderName.AWS,
        view=view,
        sts_endpoint=node_env.url,
        container_token_secret=container_tokens.read_secret(secret_file, option="--secret-file"),
    )
    printed = await asyncio.to_thread(container_token, secret_file, UID)
    assert printed.returncode == 0, printed.stderr
    token = printed.stdout.strip()
    assert len(token) == 64 and printed.stdout == token + "\n"
    full_uri = {"AWS_CONTAINER_CREDENTIALS_FULL_URI": f"{running.url}/v1/credentials"}

    creds = await asyncio.to_thread(load, {**full_uri, "AWS_CONTAINER_AUTHORIZATION_TOKEN": token})
    assert creds is not None and creds.method == "container-role"
    assert (await asyncio.to_thread(caller, node_env, creds)).endswith(
        ":assumed-role/reader/team.mypod"
    )

    token_file = tmp_path / "token"  # e.g. a Secret volume
    token_file.write_text(token)
    from_file = await asyncio.to_thread(
        load, {**full_uri, "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE": str(token_file)}
    )
    assert from_file is not None
    assert from_file.get_frozen_credentials().access_key == creds.access_key

    other = await asyncio.to_thread(container_token, secret_file, "another-pods-uid")
    assert other.returncode == 0 and other.stdout.strip() != token
    with pytest.raises(botocore.exceptions.CredentialRetrievalError):
        await asyncio.to_thread(
            load, {**full_uri, "AWS_CONTAINER_AUTHORIZATION_TOKEN": other.stdout.strip()}
        )


def test_a_missing_or_short_secret_exits_2_naming_the_option(tmp_path):
    missing = container_token(tmp_path / "absent", UID)
    assert missing.returncode == 2
    assert "--secret-file:" in missing.stderr and "No such file" in missing.stderr
    short = tmp_path / "short"
    short.write_text("tiny\n")
    done = container_token(short, UID)
    assert done.returncode == 2
    assert "--secret-file:" in done.stderr and "holds 4 bytes; needs at least 16" in done.stderr
    assert done.stdout == ""
