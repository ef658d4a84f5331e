"""botocore, unchanged, reads the emulated IMDS: node role credentials and region."""

from __future__ import annotations

import asyncio

import botocore.session
import pytest
from botocore.utils import IMDSRegionProvider, InstanceMetadataRegionFetcher

from podwarden.lab.cloud import secrets
from podwarden.lab.cloud.state import AwsState, EmulatorState

pytestmark = pytest.mark.peers("moto", "boto3", "botocore", "awscli")

_ISOLATE = (
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_ROLE_ARN",
    "AWS_EC2_METADATA_DISABLED",
    "AWS_EC2_METADATA_V1_DISABLED",
    "AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE",
)


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch):
    """Nothing real: no keys, no profile, no config files; IMDS is the emulator."""
    for name in _ISOLATE:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/dev/null")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
    monkeypatch.setenv("AWS_METADATA_SERVICE_TIMEOUT", "2")
    monkeypatch.setenv("AWS_METADATA_SERVICE_NUM_ATTEMPTS", "1")

    def point_at(url: str) -> None:
        monkeypatch.setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", url)

    return point_at


def _resolve() -> tuple[object, str | None]:
    """The session's credential chain, and botocore's IMDS region provider."""
    session = botocore.session.Session()
    return session.get_credentials(), IMDSRegionProvider(session=session).provide()


def _paris() -> EmulatorState:
    return EmulatorState(aws=AwsState(region="eu-west-3", availability_zone="eu-west-3b"))


@pytest.mark.parametrize("required", [False, True], ids=["imdsv2-optional", "imdsv2-required"])
async def test_botocore_resolves_node_role_and_region(emulator, aws_env, required):
    aws_env(await emulator("aws", imdsv2_required=required, state=_paris()))

    credentials, region = await asyncio.to_thread(_resolve)

    assert credentials is not None
    assert credentials.method == "iam-role"
    frozen = await asyncio.to_thread(credentials.get_frozen_credentials)
    assert frozen.access_key == secrets.NODE_AWS_ACCESS_KEY_ID
    assert frozen.secret_key == secrets.NODE_AWS_SECRET_ACCESS_KEY
    assert frozen.token == secrets.NODE_AWS_SESSION_TOKEN
    assert region == "eu-west-3"


async def test_botocore_uses_configured_node_keys(emulator, aws_env):
    """The node's keys can be set (e.g. to keys moto issued) through the state."""
    state = EmulatorState(aws=AwsState(access_key_id="AKIAMOTOISSUED000001"))
    aws_env(await emulator("aws", state=state))

    credentials, _ = await asyncio.to_thread(_resolve)

    assert credentials is not None
    assert credentials.access_key == "AKIAMOTOISSUED000001"


async def test_botocore_finds_nothing_when_the_node_has_no_role(emulator, aws_env):
    """An IMDS answering 404 for the role listing means "no credentials", not a crash."""
    aws_env(await emulator("gce"))  # a host that is up but is not IMDS

    credentials, region = await asyncio.to_thread(_resolve)

    assert credentials is None
    assert region is None


async def test_region_fetcher_reads_availability_zone_in_required_mode(emulator, aws_env):
    url = await emulator("aws", imdsv2_required=True, state=_paris())
    fetcher = InstanceMetadataRegionFetcher(
        timeout=2, num_attempts=1, config={"ec2_metadata_service_endpoint": url}
    )

    assert await asyncio.to_thread(fetcher.retrieve_region) == "eu-west-3"
