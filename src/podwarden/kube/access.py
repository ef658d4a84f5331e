"""SubjectAccessReview: ask the API server's authorizer "may this user do that?".

Added by the webhook part (H9) as its own module so kube/ stays the only place
that talks to an API server: PSP selection needs to know whether the requesting
user or the pod's service account may `use` a policy, which only the cluster's
authorizer (RBAC, webhooks, Node) can answer.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import httpx2 as httpx

from podwarden.kube.client import Api, ApiStatusError, ApiUnavailable

SAR_PATH = "/apis/authorization.k8s.io/v1/subjectaccessreviews"


async def review(api: Api, body: Mapping[str, Any]) -> tuple[bool, str]:
    """POST a SubjectAccessReview; (allowed, reason). Errors raise ApiStatusError/ApiUnavailable."""
    try:
        response = await api.http.post(
            SAR_PATH,
            content=json.dumps(body).encode(),
            headers={"Content-Type": "application/json", "Accept": "application/json"},
        )
    except httpx.HTTPError as exc:
        raise ApiUnavailable(f"POST {SAR_PATH}: {exc!r}") from None
    try:
        decoded = json.loads(response.content) if response.content else {}
    except json.JSONDecodeError:
        decoded = {}
    if response.status_code >= 400:
        if isinstance(decoded, dict) and decoded.get("kind") == "Status":
            raise ApiStatusError.from_status(decoded, fallback_code=response.status_code)
        raise ApiStatusError(response.status_code, "", f"POST {SAR_PATH}")
    status = decoded.get("status") if isinstance(decoded, dict) else None
    if not isinstance(status, dict):
        raise ApiUnavailable(f"POST {SAR_PATH}: the answer has no status")
    return status.get("allowed") is True, str(status.get("reason") or "")


async def patch_as(
    api: Api,
    path: str,
    patch: Mapping[str, Any],
    *,
    user: str,
    groups: tuple[str, ...] = (),
    dry_run: bool = True,
) -> tuple[int, str]:
    """A JSON merge PATCH of `path` impersonating `user` (server-side dry run by default);
    (HTTP status, the Status message or ''). Added by the node-authorization part
    (issue 10) for `nodeauth verify`: only an impersonated request meets admission as
    the node would. Unreachable servers raise ApiUnavailable."""
    headers = [
        ("Content-Type", "application/merge-patch+json"),
        ("Accept", "application/json"),
        ("Impersonate-User", user),
        *(("Impersonate-Group", group) for group in groups),
    ]
    try:
        response = await api.http.patch(
            path,
            content=json.dumps(patch).encode(),
            headers=httpx.Headers(headers),
            params={"dryRun": "All"} if dry_run else {},
        )
    except httpx.HTTPError as exc:
        raise ApiUnavailable(f"PATCH {path}: {exc!r}") from None
    try:
        decoded = json.loads(response.content) if response.content else {}
    except json.JSONDecodeError:
        decoded = {}
    message = ""
    if isinstance(decoded, dict) and decoded.get("kind") == "Status":
        message = str(decoded.get("message") or "")
    return response.status_code, message
