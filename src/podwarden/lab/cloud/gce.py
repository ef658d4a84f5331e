"""GCE metadata server (metadata.google.internal), as google-auth and curl see it.

Written by hand: no maintained Python library serves the protocol. Reproduced
from the Compute Engine metadata documentation and google-auth's client: every
answer carries `Metadata-Flavor: Google`; `/computeMetadata/v1/` needs the
request header `Metadata-Flavor: Google` (or the historical
`X-Google-Metadata-Request: True`) and refuses `X-Forwarded-For`, both with 403;
`GET /` answers 200 without any header (google-auth pings it to detect GCE);
a directory asked without its trailing slash, `/computeMetadata` and
`/computeMetadata/v1` included, is a `301 Moved Permanently` whose Location is
the absolute URL of the slash form on the Host the client asked for (query
kept) and whose body is that path and a newline, as the server answers
(observed answers quoted in salrashid123/gce_metadata_server#3 and
googleapis/gax-dotnet#410); leaves are `application/text`, JSON
`application/json`; every answer has an `ETag`, and `?wait_for_change=true`
(any case) holds the request until the value's ETag differs from `last_etag`
(at once when it already does; the current ETag when none is given) or
`timeout_sec` passes — bounded here by `MAX_WAIT_SECONDS` — and a waiter whose
client disconnects stops waiting (`waiting` counts the held ones). The legacy
`/0.1/meta-data/` and `/computeMetadata/v1beta1/` endpoints answer as the old
server did, without the header: that is the hole GKE's metadata concealment
closed, kept so the firewall can be shown closing it.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import time

from aiohttp import web
from multidict import MultiMapping

from podwarden.lab.cloud import gce_tree, secrets
from podwarden.lab.cloud.state import GceServiceAccount, GceState

V1 = "/computeMetadata/v1/"
V1BETA1 = "/computeMetadata/v1beta1/"
LEGACY = "/0.1/meta-data/"
MAX_WAIT_SECONDS = 60.0
TOKEN_LIFETIME = 3599
_BASE_HEADERS = {
    "Metadata-Flavor": "Google",
    "Server": "Metadata Server for VM",
    "X-XSS-Protection": "0",
    "X-Frame-Options": "SAMEORIGIN",
}
_FORBIDDEN_PAGE = (
    "<!DOCTYPE html>\n<html lang=en>\n  <meta charset=utf-8>\n"
    "  <title>Error 403 (Forbidden)!!1</title>\n"
    "  <p><b>403.</b> <ins>That\u2019s an error.</ins>\n"
    "  <p>Your client does not have permission to get URL <code>{path}</code> from this "
    "server. {why} <ins>That\u2019s all we know.</ins>\n"
)
_NOT_FOUND_PAGE = (
    "<!DOCTYPE html>\n<html lang=en>\n  <meta charset=utf-8>\n"
    "  <title>Error 404 (Not Found)!!1</title>\n"
    "  <p><b>404.</b> <ins>That\u2019s an error.</ins>\n"
    "  <p>The requested URL <code>{path}</code> was not found on this server. "
    "<ins>That\u2019s all we know.</ins>\n"
)


def respond(status: int, body: str, content_type: str, **extra: str) -> web.Response:
    """Every answer carries the flavor header, whatever its status."""
    headers = dict(_BASE_HEADERS, **extra)
    headers["Content-Type"] = content_type
    return web.Response(status=status, body=body.encode(), headers=headers)


def forbidden(path: str, why: str) -> web.Response:
    return respond(403, _FORBIDDEN_PAGE.format(path=path, why=why), "text/html; charset=UTF-8")


def not_found(path: str) -> web.Response:
    return respond(404, _NOT_FOUND_PAGE.format(path=path), "text/html; charset=UTF-8")


def moved(request: web.Request, path: str) -> web.Response:
    """The server's 301 for a directory asked without its slash: `path` is the slash form."""
    query = f"?{request.query_string}" if request.query_string else ""
    location = f"http://{request.host}{path}{query}"
    return respond(301, path + "\n", "text/html", Location=location)


def etag_of(body: str) -> str:
    return hashlib.sha256(body.encode()).hexdigest()[:16]


def _is_true(value: str | None) -> bool:
    return value is not None and value.lower() == "true"


class Metadata:
    """The metadata server's logic; `handle` answers any request under `/`."""

    def __init__(self, gce: GceState) -> None:
        self.gce = gce
        self._root = gce_tree.build(gce)
        self._changed = asyncio.Event()
        self.waiting = 0  # wait_for_change requests held right now

    def set_attribute(self, key: str, value: str | None, *, project: bool = False) -> None:
        """Change (or with None, delete) an attribute and wake `wait_for_change` waiters."""
        attributes = self.gce.project_attributes if project else self.gce.attributes
        if value is None:
            attributes.pop(key, None)
        else:
            attributes[key] = value
        self._root = gce_tree.build(self.gce)
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    async def handle(self, request: web.Request) -> web.StreamResponse:
        path = request.path
        if path == "/":
            return respond(200, "0.1/\ncomputeMetadata/\n", "application/text")
        if path.startswith(V1) or path in (
            "/computeMetadata",
            "/computeMetadata/",
            "/computeMetadata/v1",
        ):
            refusal = self._refusal(request)
            if refusal is not None:
                return refusal
            if not path.startswith(V1):
                return self._above_v1(request, path)
            return await self._serve_tree(request, path[len(V1) :])
        if self.gce.legacy_endpoints and path.startswith(V1BETA1):
            return await self._serve_tree(request, path[len(V1BETA1) :])
        if self.gce.legacy_endpoints and path.startswith(LEGACY):
            return self._legacy(path, path[len(LEGACY) :])
        return not_found(path)

    def _refusal(self, request: web.Request) -> web.Response | None:
        if "X-Forwarded-For" in request.headers:
            return forbidden(request.path, "Request had an X-Forwarded-For header.")
        flavor = request.headers.get("Metadata-Flavor")
        legacy = request.headers.get("X-Google-Metadata-Request")
        if flavor != "Google" and not _is_true(legacy):
            return forbidden(request.path, "Missing Metadata-Flavor:Google header.")
        return None

    def _above_v1(self, request: web.Request, path: str) -> web.Response:
        if not path.endswith("/"):
            return moved(request, path + "/")
        versions = "v1/\nv1beta1/\n" if self.gce.legacy_endpoints else "v1/\n"
        return respond(200, versions, "application/text")

    async def _serve_tree(self, request: web.Request, rest: str) -> web.Response:
        if request.method not in ("GET", "HEAD", "POST"):
            return respond(405, "Method Not Allowed", "text/plain")
        segments = rest.split("/")
        is_dir_request = segments[-1] == ""
        parts = segments[:-1] if is_dir_request else segments
        if "" in parts:  # `//` never names anything
            return not_found(request.path)
        query = request.query
        recursive = _is_true(query.get("recursive"))
        node = gce_tree.lookup(self._root, parts)
        if node is None:
            return not_found(request.path)
        if isinstance(node, gce_tree.Dynamic):
            return self._dynamic(request, node)
        if request.method == "POST":
            return respond(405, "Method Not Allowed", "text/plain")
        if isinstance(node, dict) and not is_dir_request and not recursive:
            return moved(request, request.path + "/")
        if not isinstance(node, dict) and is_dir_request:
            return not_found(request.path)
        alt = query.get("alt")
        if _is_true(query.get("wait_for_change")):
            return await self._wait(parts, query, recursive=recursive, alt=alt)
        body, content_type = gce_tree.render(node, recursive=recursive, alt=alt)
        return respond(200, body, content_type, ETag=etag_of(body))

    async def _wait(
        self, parts: list[str], query: MultiMapping[str], *, recursive: bool, alt: str | None
    ) -> web.Response:
        last = query.get("last_etag")
        raw_timeout = query.get("timeout_sec")
        timeout = MAX_WAIT_SECONDS
        if raw_timeout is not None:
            if not raw_timeout.isdigit():
                return respond(400, "Invalid timeout_sec parameter.", "text/plain")
            timeout = min(float(raw_timeout), MAX_WAIT_SECONDS)
        self.waiting += 1
        try:
            return await self._wait_for(parts, last, timeout, recursive=recursive, alt=alt)
        finally:
            self.waiting -= 1

    async def _wait_for(
        self,
        parts: list[str],
        last: str | None,
        timeout: float,
        *,
        recursive: bool,
        alt: str | None,
    ) -> web.Response:
        deadline = time.monotonic() + timeout
        while True:
            node = gce_tree.lookup(self._root, parts)
            if node is None or isinstance(node, gce_tree.Dynamic):
                return not_found("/".join(parts))
            body, content_type = gce_tree.render(node, recursive=recursive, alt=alt)
            etag = etag_of(body)
            if last is None:
                last = etag
            elif etag != last:
                return respond(200, body, content_type, ETag=etag)
            left = deadline - time.monotonic()
            if left <= 0:
                return respond(200, body, content_type, ETag=etag)
            try:
                await asyncio.wait_for(self._changed.wait(), timeout=left)
            except TimeoutError:
                pass

    def _dynamic(self, request: web.Request, node: gce_tree.Dynamic) -> web.Response:
        account = node.account
        if node.kind == "token":
            body = json.dumps(
                {
                    "access_token": account.token,
                    "expires_in": TOKEN_LIFETIME,
                    "token_type": "Bearer",
                }
            )
            return respond(200, body, "application/json", ETag=etag_of(body))
        if request.method == "POST":
            return respond(405, "Method Not Allowed", "text/plain")
        audience = request.query.get("audience", "")
        if not audience:
            return respond(400, "non-empty audience parameter required\n", "text/plain")
        full = request.query.get("format") == "full"
        body = identity_token(account, audience=audience, full=full, gce=self.gce)
        return respond(200, body, "text/html; charset=utf-8", ETag=etag_of(body))

    def _legacy(self, path: str, rest: str) -> web.Response:
        """The 0.1 API: flat keys, no header, and `service-accounts/default/acquire`."""
        gce = self.gce
        account = gce.service_accounts[0] if gce.service_accounts else None
        if rest == "service-accounts/default/acquire" and account is not None:
            now = int(time.time())
            body = json.dumps(
                {
                    "accessToken": account.token,
                    "expiresAt": now + TOKEN_LIFETIME,
                    "expiresIn": TOKEN_LIFETIME,
                }
            )
            return respond(200, body, "application/json")
        flat: dict[str, str] = {
            "project-id": gce.project_id,
            "numeric-project-id": str(gce.numeric_project_id),
            "hostname": gce.hostname,
            "instance-id": str(gce.instance_id),
            "machine-type": gce.machine_type,
            "zone": gce.zone,
        }
        flat.update({f"attributes/{k}": v for k, v in gce.attributes.items()})
        if rest in flat:
            return respond(200, flat[rest], "application/text")
        if rest == "attributes/":
            return respond(200, gce_tree.listing(dict(gce.attributes)), "application/text")
        if rest == "":
            entries = sorted({key.split("/")[0] + ("/" if "/" in key else "") for key in flat})
            return respond(200, "".join(f"{e}\n" for e in entries), "application/text")
        return not_found(path)


def identity_token(account: GceServiceAccount, *, audience: str, full: bool, gce: GceState) -> str:
    """A JWT-shaped identity token whose signature is a marked fake."""

    def part(data: dict[str, object]) -> str:
        raw = json.dumps(data, separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    now = int(time.time())
    claims: dict[str, object] = {
        "aud": audience,
        "azp": "100000000000000000001",
        "email": account.email,
        "email_verified": True,
        "exp": now + 3600,
        "iat": now,
        "iss": "https://accounts.google.com",
        "sub": "100000000000000000001",
    }
    if full:
        claims["google"] = {
            "compute_engine": {
                "instance_id": str(gce.instance_id),
                "instance_name": gce.name,
                "project_id": gce.project_id,
                "project_number": gce.numeric_project_id,
                "zone": gce.zone,
            }
        }
    header = part({"alg": "RS256", "kid": "emulator", "typ": "JWT"})
    return f"{header}.{part(claims)}.{secrets.GCE_IDENTITY_SIGNATURE}"
