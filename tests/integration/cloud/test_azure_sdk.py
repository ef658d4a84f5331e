"""azure-identity (through MSAL), unchanged, reads the emulated Azure IMDS."""

from __future__ import annotations

import asyncio
import time

import pytest
from azure.core.exceptions import ClientAuthenticationError
from azure.identity import CredentialUnavailableError, ManagedIdentityCredential

from podwarden.lab.cloud import secrets
from podwarden.lab.cloud.state import AzureState, EmulatorState

pytestmark = pytest.mark.peers("azure-identity")

SCOPE = "https://management.azure.com/.default"
USER_ASSIGNED_CLIENT_ID = "33333333-0000-0000-0000-00000000e002"

_ISOLATE = (
    "AZURE_CLIENT_ID",
    "AZURE_TENANT_ID",
    "AZURE_CLIENT_SECRET",
    "AZURE_FEDERATED_TOKEN_FILE",
    "IDENTITY_ENDPOINT",
    "IDENTITY_HEADER",
    "IDENTITY_SERVER_THUMBPRINT",
    "IMDS_ENDPOINT",
    "MSI_ENDPOINT",
    "MSI_SECRET",
)


@pytest.fixture
def azure_env(monkeypatch: pytest.MonkeyPatch):
    """Only IMDS is configured, and it is the emulator."""
    for name in _ISOLATE:
        monkeypatch.delenv(name, raising=False)

    def point_at(url: str) -> None:
        monkeypatch.setenv("AZURE_POD_IDENTITY_AUTHORITY_HOST", url)

    return point_at


def _token(**kwargs: str):
    credential = ManagedIdentityCredential(**kwargs)
    try:
        return credential.get_token(SCOPE)
    finally:
        credential.close()


async def test_managed_identity_gets_the_node_token(emulator, azure_env):
    azure_env(await emulator("azure"))

    token = await asyncio.to_thread(_token)

    assert token.token == secrets.AZURE_NODE_TOKEN
    assert token.expires_on > time.time() + 3600


async def test_client_id_selects_the_user_assigned_identity(emulator, azure_env):
    azure_env(await emulator("all"))

    token = await asyncio.to_thread(_token, client_id=USER_ASSIGNED_CLIENT_ID)

    assert token.token == secrets.AZURE_USER_ASSIGNED_TOKEN


async def test_unknown_client_id_is_reported_as_unavailable(emulator, azure_env):
    azure_env(await emulator("azure"))

    with pytest.raises((CredentialUnavailableError, ClientAuthenticationError)) as caught:
        await asyncio.to_thread(_token, client_id="99999999-0000-0000-0000-000000000000")

    assert "Identity not found" in str(caught.value)


async def test_node_without_identity_gives_no_token(emulator, azure_env):
    state = EmulatorState(azure=AzureState(system_identity=None, user_identities=[]))
    azure_env(await emulator("azure", state=state))

    with pytest.raises((CredentialUnavailableError, ClientAuthenticationError)) as caught:
        await asyncio.to_thread(_token)

    assert "Identity not found" in str(caught.value)
