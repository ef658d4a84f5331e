"""GCP credential source: impersonate a service account with the node's token (google-auth).

`google.auth.impersonated_credentials` makes the IAM Credentials
`generateAccessToken` call; its endpoint is configurable so tests (and
private/regional endpoints) work. Its source credentials are the node's own
token, read from the proxy's upstream metadata server by `NodeCredentials`:
written here because google-auth's compute-engine credentials read the
metadata host from process-wide settings, while the proxy must use exactly the
upstream it was given. google-auth is synchronous, so calls run in a thread.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

import google.auth.credentials
import google.auth.exceptions
import google.auth.transport.requests
import requests
from google.auth import impersonated_credentials

from podwarden.metadata.identity.cache import SourceError

NODE_TOKEN_PATH = "/computeMetadata/v1/instance/service-accounts/default/token"


@dataclass(frozen=True, slots=True)
class GcpKey:
    """What a token is minted for: the service account and the scopes asked for."""

    email: str
    scopes: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class AccessToken:
    """A minted access token; `expiry` is Unix seconds."""

    token: str
    expiry: float
    email: str


class NodeCredentials(google.auth.credentials.Credentials):  # type: ignore[misc]
    """The node's default service account token, from the given metadata server."""

    def __init__(self, upstream: str, *, timeout: float = 5.0) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self._url = upstream.rstrip("/") + NODE_TOKEN_PATH
        self._timeout = timeout

    def refresh(self, request: Any) -> None:
        response = request(
            url=self._url,
            method="GET",
            headers={"Metadata-Flavor": "Google"},
            timeout=self._timeout,
        )
        if response.status != 200:
            raise google.auth.exceptions.RefreshError(  # type: ignore[no-untyped-call]
                f"node token: metadata server answered {response.status}"
            )
        try:
            payload = json.loads(response.data)
            self.token = str(payload["access_token"])
            lifetime = float(payload["expires_in"])
        except (ValueError, KeyError, TypeError) as exc:
            raise google.auth.exceptions.RefreshError(  # type: ignore[no-untyped-call]
                f"node token: unreadable: {exc}"
            ) from None
        now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
        self.expiry = now + dt.timedelta(seconds=max(0.0, lifetime - 30))


class IamCredentialsSource:
    """generateAccessToken for a service account, as the node."""

    def __init__(self, *, upstream: str, iam_endpoint: str, lifetime: float) -> None:
        self._node = NodeCredentials(upstream)
        self._endpoint = iam_endpoint.rstrip("/")
        self._lifetime = int(lifetime)
        session = requests.Session()
        session.trust_env = False  # never through a proxy from the environment
        self._request = google.auth.transport.requests.Request(session)
        self.calls = 0

    def endpoint_for(self, email: str) -> str:
        return f"{self._endpoint}/v1/projects/-/serviceAccounts/{email}:generateAccessToken"

    async def token(self, key: GcpKey) -> AccessToken:
        self.calls += 1
        return await asyncio.to_thread(self._mint, key)

    def _mint(self, key: GcpKey) -> AccessToken:
        target = impersonated_credentials.Credentials(  # type: ignore[no-untyped-call]
            source_credentials=self._node,
            target_principal=key.email,
            target_scopes=list(key.scopes),
            lifetime=self._lifetime,
            iam_endpoint_override=self.endpoint_for(key.email),
        )
        try:
            target.refresh(self._request)  # type: ignore[no-untyped-call]
        except google.auth.exceptions.GoogleAuthError as exc:
            raise SourceError("ImpersonationFailed", _short(exc)) from None
        except requests.RequestException as exc:
            raise SourceError("ImpersonationFailed", type(exc).__name__) from None
        if target.expiry is None:
            raise SourceError("ImpersonationFailed", "the token came without an expiry")
        expiry = target.expiry.replace(tzinfo=dt.UTC).timestamp()
        return AccessToken(token=str(target.token), expiry=expiry, email=key.email)


def _short(exc: Exception) -> str:
    text = " ".join(str(a) for a in exc.args) if exc.args else type(exc).__name__
    return text[:300]
