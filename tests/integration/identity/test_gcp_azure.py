"""GCP and Azure pod identity on loopback, with google-auth and azure-identity unchanged.

GCP: the proxy impersonates the pod's service account through the local IAM
Credentials endpoint (`lab.iamcredentials`) using the node's token from the
emulated metadata server; google-auth runs as a separate process (it reads
the metadata host from its environment once). Azure: token requests are
forwarded to the emulated IMDS with the pod's client_id.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from azure.core.exceptions import ClientAuthenticationError
from azure.identity import ManagedIdentityCredential

from podwarden.api import keys
from podwarden.kube import store
from podwarden.lab.cloud import secrets
from podwarden.lab.iamcredentials import app as iam_app
from podwarden.metadata.model import ProviderName

from .helpers import client_from, get, namespace, pod

pytestmark = pytest.mark.peers("google-auth", "azure-identity")

READER = "reader@proj-1.iam.gserviceaccount.com"
WRITER = "writer@proj-1.iam.gserviceaccount.com"
USER_ASSIGNED = "33333333-0000-0000-0000-00000000e002"
SYSTEM_ASSIGNED = "11111111-0000-0000-0000-00000000e001"
GOOGLE_CLIENT = """
import json, google.auth, google.auth.transport.requests
creds, _ = google.auth.default()
creds.refresh(google.auth.transport.requests.Request())
print(json.dumps({"token": creds.token, "email": creds.service_account_email}))
"""


@pytest.fixture
async def iam() -> AsyncIterator[tuple[iam_app.IamState, str]]:
    state = iam_app.IamState(grants={secrets.GCE_NODE_TOKEN: {READER}}, accounts={READER, WRITER})
    runner = await iam_app.start(state, "127.0.0.1", 0)
    yield state, f"http://127.0.0.1:{int(runner.addresses[0][1])}"
    await runner.cleanup()


async def view_with(*objects: dict[str, Any]) -> store.ClusterView:
    view = store.ClusterView()
    for obj in objects:
        await view.apply(obj)
    return view


def gcp_namespace() -> dict[str, Any]:
    return namespace(
        "team",
        {keys.GCP_ALLOWED_SERVICE_ACCOUNTS: json.dumps(["*@proj-1.iam.gserviceaccount.com"])},
    )


async def google_auth(port: int, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GOOGLE_", "GCE_"))}
    env |= {
        "GCE_METADATA_HOST": f"127.0.0.1:{port}",
        "GCE_METADATA_IP": f"127.0.0.1:{port}",
        "CLOUDSDK_CONFIG": str(tmp_path / "gcloud"),
    }
    return await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-c", GOOGLE_CLIENT],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )


async def test_google_auth_gets_the_pods_own_service_account_token(stack, iam, tmp_path):
    state, endpoint = iam
    view = await view_with(
        gcp_namespace(), pod("mypod", "127.0.0.1", annotations={keys.GCP_SERVICE_ACCOUNT: READER})
    )
    running = await stack(ProviderName.GCE, view=view, gcp_iam_endpoint=endpoint)
    done = await google_auth(running.proxy.port, tmp_path)
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    assert answer["email"] == READER
    assert state.minted[answer["token"]].email == READER
    assert answer["token"] != secrets.GCE_NODE_TOKEN
    assert state.calls == 1  # prefetched once, then served from the cache


async def test_gce_answers_cover_only_the_pods_account(stack, iam):
    _, endpoint = iam
    view = await view_with(
        gcp_namespace(), pod("mypod", "127.0.0.1", annotations={keys.GCP_SERVICE_ACCOUNT: READER})
    )
    running = await stack(ProviderName.GCE, view=view, gcp_iam_endpoint=endpoint)
    flavor = {"Metadata-Flavor": "Google"}
    base = running.url + "/computeMetadata/v1/instance/service-accounts/"
    async with client_from("127.0.0.1") as client:
        assert await get(client, base, flavor) == (200, f"default/\n{READER}/\n")
        assert await get(client, base + "default/email", flavor) == (200, READER)
        status, body = await get(client, base + "default/?recursive=true", flavor)
        assert status == 200 and json.loads(body)["email"] == READER
        status, body = await get(client, base + f"{READER}/token", flavor)
        assert status == 200 and json.loads(body)["token_type"] == "Bearer"
        assert json.loads(body)["expires_in"] > 15 * 60
        other = "123456789012-compute@developer.gserviceaccount.com"
        assert (await get(client, base + f"{other}/token", flavor))[0] == 404
        assert (await get(client, base + "default/identity?audience=x", flavor))[0] == 403
        assert (await get(client, base + "default/token"))[0] == 403  # no flavor header


async def test_a_pod_without_an_account_gets_no_token(stack, iam, tmp_path):
    _, endpoint = iam
    view = await view_with(gcp_namespace(), pod("plain", "127.0.0.1"))
    running = await stack(ProviderName.GCE, view=view, gcp_iam_endpoint=endpoint)
    done = await google_auth(running.proxy.port, tmp_path)
    assert done.returncode != 0
    assert secrets.GCE_NODE_TOKEN not in done.stdout + done.stderr


async def test_an_account_the_node_may_not_impersonate_is_refused(stack, iam):
    _, endpoint = iam
    view = await view_with(
        gcp_namespace(), pod("mypod", "127.0.0.1", annotations={keys.GCP_SERVICE_ACCOUNT: WRITER})
    )
    running = await stack(ProviderName.GCE, view=view, gcp_iam_endpoint=endpoint)
    url = running.url + "/computeMetadata/v1/instance/service-accounts/default/token"
    async with client_from("127.0.0.1") as client:
        status, body = await get(client, url, {"Metadata-Flavor": "Google"})
    assert status == 500
    assert body.startswith(f"Failed to mint a token for {WRITER}: ImpersonationFailed")
    assert secrets.GCE_NODE_TOKEN not in body


async def test_the_iam_endpoint_speaks_googles_errors(iam):
    _, endpoint = iam
    url = f"{endpoint}/v1/projects/-/serviceAccounts/{WRITER}:generateAccessToken"
    async with aiohttp.ClientSession() as client:
        async with client.post(url, json={"scope": ["x"]}) as response:
            assert response.status == 401
            assert (await response.json())["error"]["status"] == "UNAUTHENTICATED"
        auth = {"Authorization": f"Bearer {secrets.GCE_NODE_TOKEN}"}
        async with client.post(url, json={"scope": ["x"]}, headers=auth) as response:
            assert response.status == 403
            assert (await response.json())["error"]["message"] == iam_app.DENIED
        reader = url.replace(WRITER, READER)
        async with client.post(reader, json={}, headers=auth) as response:
            assert response.status == 400
        too_long = {"scope": ["x"], "lifetime": "7200s"}
        async with client.post(reader, json=too_long, headers=auth) as response:
            assert response.status == 400


def azure_namespace() -> dict[str, Any]:
    return namespace("team", {keys.AZURE_ALLOWED_CLIENT_IDS: json.dumps([USER_ASSIGNED])})


async def azure_token(port: int, monkeypatch: pytest.MonkeyPatch, **kwargs: Any) -> Any:
    monkeypatch.setenv("AZURE_POD_IDENTITY_AUTHORITY_HOST", f"http://127.0.0.1:{port}")
    for name in ("IDENTITY_ENDPOINT", "MSI_ENDPOINT", "IDENTITY_HEADER", "AZURE_CLIENT_ID"):
        monkeypatch.delenv(name, raising=False)

    def fetch() -> Any:
        credential = ManagedIdentityCredential(**kwargs)
        try:
            return credential.get_token("https://storage.azure.com/.default")
        finally:
            credential.close()

    return await asyncio.to_thread(fetch)


async def test_azure_identity_gets_the_pods_client_id(stack, monkeypatch):
    view = await view_with(
        azure_namespace(),
        pod("mypod", "127.0.0.1", annotations={keys.AZURE_CLIENT_ID: USER_ASSIGNED}),
    )
    running = await stack(ProviderName.AZURE, view=view)
    token = await azure_token(running.proxy.port, monkeypatch)
    assert token.token == secrets.AZURE_USER_ASSIGNED_TOKEN
    same = await azure_token(running.proxy.port, monkeypatch, client_id=USER_ASSIGNED)
    assert same.token == secrets.AZURE_USER_ASSIGNED_TOKEN
    with pytest.raises(ClientAuthenticationError):
        await azure_token(running.proxy.port, monkeypatch, client_id=SYSTEM_ASSIGNED)


async def test_azure_without_annotation_gets_imds_400(stack, monkeypatch):
    view = await view_with(azure_namespace(), pod("plain", "127.0.0.1"))
    running = await stack(ProviderName.AZURE, view=view)
    with pytest.raises(ClientAuthenticationError):
        await azure_token(running.proxy.port, monkeypatch)
    url = running.url + "/metadata/identity/oauth2/token?api-version=2018-02-01&resource=x"
    async with client_from("127.0.0.1") as client:
        status, body = await get(client, url, {"Metadata": "true"})
    assert status == 400
    assert json.loads(body) == {
        "error": "invalid_request",
        "error_description": "Identity not found",
    }
    assert secrets.AZURE_NODE_TOKEN not in body


def api_truth(*objects: dict[str, Any]) -> Any:
    """A consistent read that answers from `objects` (what the API holds, not the view)."""
    from podwarden.kube.objects import Pod

    async def read(ip: str) -> list[Pod]:
        return [Pod(o) for o in objects if ip in Pod(o).ips]

    return read


async def test_gce_token_is_verified_and_refused_when_the_api_shows_another_pod(stack, iam):
    _, endpoint = iam
    mine = pod("mypod", "127.0.0.1", annotations={keys.GCP_SERVICE_ACCOUNT: READER})
    newer = pod("newer", "127.0.0.1", annotations={keys.GCP_SERVICE_ACCOUNT: WRITER})
    view = await view_with(gcp_namespace(), mine)
    running = await stack(
        ProviderName.GCE,
        view=view,
        gcp_iam_endpoint=endpoint,
        address_wait=0.2,
        verify_lookup=api_truth(newer),  # the view lags: the address is "newer"'s now
    )
    flavor = {"Metadata-Flavor": "Google"}
    base = running.url + "/computeMetadata/v1/instance/service-accounts/"
    async with client_from("127.0.0.1") as client:
        assert await get(client, base + "default/email", flavor) == (200, READER)  # benign
        assert (await get(client, base + "default/token", flavor))[0] == 404
    assert running.identity.verifier.outcomes["mismatch"] == 1


async def test_gce_token_is_served_when_the_api_agrees(stack, iam):
    _, endpoint = iam
    mine = pod("mypod", "127.0.0.1", annotations={keys.GCP_SERVICE_ACCOUNT: READER})
    view = await view_with(gcp_namespace(), mine)
    running = await stack(
        ProviderName.GCE, view=view, gcp_iam_endpoint=endpoint, verify_lookup=api_truth(mine)
    )
    base = running.url + "/computeMetadata/v1/instance/service-accounts/"
    async with client_from("127.0.0.1") as client:
        status, body = await get(client, base + "default/token", {"Metadata-Flavor": "Google"})
    assert status == 200 and json.loads(body)["token_type"] == "Bearer"
    assert running.identity.verifier.outcomes["verified"] == 1


async def test_azure_token_is_verified_before_it_is_forwarded(stack, monkeypatch):
    mine = pod("mypod", "127.0.0.1", annotations={keys.AZURE_CLIENT_ID: USER_ASSIGNED})
    view = await view_with(azure_namespace(), mine)
    running = await stack(ProviderName.AZURE, view=view, verify_lookup=api_truth(mine))
    token = await azure_token(running.proxy.port, monkeypatch)
    assert token.token == secrets.AZURE_USER_ASSIGNED_TOKEN
    assert running.identity.verifier.outcomes["verified"] >= 1
    gone = await stack(ProviderName.AZURE, view=view, address_wait=0.1, verify_lookup=api_truth())
    with pytest.raises(ClientAuthenticationError):
        await azure_token(gone.proxy.port, monkeypatch)
    assert gone.identity.verifier.outcomes["mismatch"] >= 1


def refusals(reason: str) -> float:
    from prometheus_client import REGISTRY

    value = REGISTRY.get_sample_value("podwarden_identity_token_refusals_total", {"reason": reason})
    return value or 0.0


async def test_distinct_scopes_cannot_make_the_node_mint_without_limit(stack, iam):
    """Issue 9, finding 8: 100 distinct `?scopes=` values were 100 IAM calls."""
    state, endpoint = iam
    view = await view_with(
        gcp_namespace(), pod("mypod", "127.0.0.1", annotations={keys.GCP_SERVICE_ACCOUNT: READER})
    )
    running = await stack(ProviderName.GCE, view=view, gcp_iam_endpoint=endpoint)
    await running.identity.cache.idle()  # the prefetch of the default scopes
    before_calls, before_refused = state.calls, refusals("scope-sets")
    flavor = {"Metadata-Flavor": "Google"}
    token = running.url + "/computeMetadata/v1/instance/service-accounts/default/token"
    statuses = []
    async with client_from("127.0.0.1") as client:
        for index in range(100):
            scope = f"https://www.googleapis.com/auth/scope-{index}"
            statuses.append((await get(client, f"{token}?scopes={scope}", flavor))[0])
        default = await get(client, token, flavor)  # the default set still works
        again = await get(client, f"{token}?scopes=https://www.googleapis.com/auth/scope-0", flavor)
    assert statuses[:8] == [200] * 8  # 8 sets per pod besides the default one
    assert statuses[8:] == [429] * 92
    assert state.calls - before_calls == 8
    assert refusals("scope-sets") - before_refused == 92
    assert default[0] == 200 and json.loads(default[1])["token_type"] == "Bearer"
    assert again[0] == 200  # a set the pod already uses: served from the cache, no call
    assert state.calls - before_calls == 8
