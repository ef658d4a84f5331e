"""A local Google IAM Credentials API: `generateAccessToken`, as google-auth calls it.

Protocol (cloud.google.com/iam/docs/reference/credentials/rest,
projects.serviceAccounts.generateAccessToken):

    POST /v1/projects/-/serviceAccounts/{email}:generateAccessToken
    Authorization: Bearer <caller's access token>
    {"scope": ["https://www.googleapis.com/auth/cloud-platform"],
     "lifetime": "3600s", "delegates": []}
    → 200 {"accessToken": "...", "expireTime": "2024-01-01T00:00:00Z"}

Errors use Google's JSON error envelope `{"error": {"code", "message",
"status"}}`: no or unknown bearer → 401 UNAUTHENTICATED; a caller without
Token Creator on the account, or an account that does not exist → 403
PERMISSION_DENIED with the API's wording "Permission
'iam.serviceAccounts.getAccessToken' denied on resource (or it may not
exist)."; no scope, a malformed or too long lifetime (over 3600s) → 400
INVALID_ARGUMENT. `GET /v1/tokeninfo?access_token=` answers which account a
minted token belongs to (like oauth2's tokeninfo), so tests can check that a
pod got its own account's token.
"""

from __future__ import annotations

import json
import re
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from aiohttp import web

PATH = re.compile(r"^/v1/projects/([^/]+)/serviceAccounts/([^/:]+):generateAccessToken$")
LIFETIME = re.compile(r"^(\d{1,5})(?:\.\d{1,9})?s$")
MAX_LIFETIME = 3600
DENIED = "Permission 'iam.serviceAccounts.getAccessToken' denied on resource (or it may not exist)."


@dataclass(frozen=True, slots=True)
class Minted:
    """A token this endpoint issued."""

    token: str
    email: str
    scopes: tuple[str, ...]
    caller: str
    expires: float


@dataclass
class IamState:
    """Who may impersonate whom: caller token → account e-mails ("*" for any)."""

    grants: dict[str, set[str]]
    accounts: set[str]
    minted: dict[str, Minted] = field(default_factory=dict)
    calls: int = 0
    failures_left: int = 0  # answer the next N requests with 503 (outage tests)

    def count_for(self, email: str) -> int:
        return sum(1 for m in self.minted.values() if m.email == email)


def _error(code: int, status: str, message: str) -> web.Response:
    body = {"error": {"code": code, "message": message, "status": status}}
    return web.json_response(body, status=code)


def _bearer(request: web.Request) -> str:
    value = request.headers.get("Authorization", "")
    scheme, _, token = value.partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


class IamCredentials:
    """The request handlers over one `IamState`."""

    def __init__(self, state: IamState) -> None:
        self.state = state

    async def handle(self, request: web.Request) -> web.StreamResponse:
        if request.path == "/v1/tokeninfo" and request.method == "GET":
            return self._tokeninfo(request)
        found = PATH.match(request.path)
        if found is None:
            return _error(404, "NOT_FOUND", f"The requested URL {request.path} was not found.")
        if request.method != "POST":
            return _error(405, "METHOD_NOT_ALLOWED", "generateAccessToken is a POST")
        self.state.calls += 1
        if self.state.failures_left > 0:
            self.state.failures_left -= 1
            return _error(503, "UNAVAILABLE", "The service is currently unavailable.")
        caller = _bearer(request)
        if not caller or caller not in self.state.grants:
            return _error(
                401,
                "UNAUTHENTICATED",
                "Request had invalid authentication credentials. Expected OAuth 2 access token.",
            )
        try:
            body = json.loads(await request.read() or b"{}")
        except ValueError:
            return _error(400, "INVALID_ARGUMENT", "Invalid JSON payload received.")
        problem, scopes, lifetime = _validate(body)
        if problem:
            return _error(400, "INVALID_ARGUMENT", problem)
        email = found.group(2)
        allowed = self.state.grants[caller]
        if email not in self.state.accounts or not ({"*", email} & allowed):
            return _error(403, "PERMISSION_DENIED", DENIED)
        expires = int(time.time()) + lifetime
        token = "ya29.emulated-" + secrets.token_urlsafe(24)
        self.state.minted[token] = Minted(token, email, scopes, caller, float(expires))
        stamp = datetime.fromtimestamp(expires, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        return web.json_response({"accessToken": token, "expireTime": stamp})

    def _tokeninfo(self, request: web.Request) -> web.Response:
        minted = self.state.minted.get(request.query.get("access_token", ""))
        if minted is None:
            return web.json_response({"error": "invalid_token"}, status=400)
        return web.json_response(
            {
                "email": minted.email,
                "scope": " ".join(minted.scopes),
                "expires_in": max(0, int(minted.expires - time.time())),
            }
        )


def _validate(body: object) -> tuple[str, tuple[str, ...], int]:
    if not isinstance(body, Mapping):
        return "Invalid JSON payload received.", (), 0
    scopes = body.get("scope")
    if not isinstance(scopes, list) or not scopes or not all(isinstance(s, str) for s in scopes):
        return "Scope required.", (), 0
    lifetime = MAX_LIFETIME
    raw = body.get("lifetime")
    if raw is not None:
        found = LIFETIME.match(str(raw))
        if found is None:
            return f"Invalid value at 'lifetime' ({raw!r}).", (), 0
        lifetime = int(found.group(1))
        if not 1 <= lifetime <= MAX_LIFETIME:
            return (
                f"The lifetime {raw} exceeds the maximum allowed lifetime of {MAX_LIFETIME}s.",
                (),
                0,
            )
    return "", tuple(scopes), lifetime


def build_app(state: IamState) -> web.Application:
    handler = IamCredentials(state)
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handler.handle)
    return app


async def start(state: IamState, host: str, port: int) -> web.AppRunner:
    """Serve `state` on host:port (0 picks a port; read `runner.addresses`)."""
    runner = web.AppRunner(build_app(state), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    return runner
