"""POST /apis/authorization.k8s.io/v1/subjectaccessreviews for the lab API server.

Added by the webhook part (H9), kept apart from the REST machinery: the admission
webhook selects PodSecurityPolicies by asking "may this user `use` that policy?"
with a SubjectAccessReview, and in the lab the answer comes from the Roles,
ClusterRoles and bindings stored in this server, evaluated by the same RBAC code
the offline `check` uses. Only `use` of `podsecuritypolicies` is evaluated; any
other question is answered `allowed: false` with a reason that says so (an
authorizer that cannot answer grants nothing).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from aiohttp import web

from podwarden.lab.apiserver import errors
from podwarden.lab.apiserver.storage import Storage
from podwarden.podsecurity.psp.rbac import PSP_GROUPS, RBAC_KINDS, Rbac, RbacError

PATH = "/apis/authorization.k8s.io/v1/subjectaccessreviews"
UNSUPPORTED = "the lab authorizer evaluates only verb use of podsecuritypolicies"


def answer(storage: Storage, review: Mapping[str, Any]) -> dict[str, Any]:
    """The review with its status filled in (allowed, reason) from the stored RBAC objects."""
    spec = review.get("spec")
    if review.get("kind") != "SubjectAccessReview" or not isinstance(spec, Mapping):
        raise errors.bad_request("expected a SubjectAccessReview with a spec")
    attrs = spec.get("resourceAttributes")
    if not isinstance(attrs, Mapping):
        raise errors.bad_request(
            "spec.resourceAttributes: required (the lab has no nonResource rules)"
        )
    user = str(spec.get("user") or "")
    groups = [str(g) for g in spec.get("groups") or []]
    status: dict[str, Any] = {"allowed": False}
    if (
        attrs.get("verb") == "use"
        and attrs.get("resource") == "podsecuritypolicies"
        and (attrs.get("group") or "") in PSP_GROUPS
    ):
        rbac_objects = [o for o in storage.all_objects() if o.get("kind") in RBAC_KINDS]
        try:
            rbac = Rbac.from_objects(rbac_objects)
        except RbacError as exc:
            status["evaluationError"] = str(exc)
        else:
            allowed = rbac.can_use(
                str(attrs.get("name") or ""),
                user=user,
                groups=groups,
                namespace=str(attrs.get("namespace") or ""),
            )
            status["allowed"] = allowed
            status["reason"] = "allowed by RBAC" if allowed else "no RBAC rule allows it"
    else:
        status["reason"] = UNSUPPORTED
    return {
        "apiVersion": "authorization.k8s.io/v1",
        "kind": "SubjectAccessReview",
        "metadata": {"creationTimestamp": None},
        "spec": dict(spec),
        "status": status,
    }


def handler(storage_key: web.AppKey[Storage]) -> Any:
    """The aiohttp handler, reading storage from the app under `storage_key`."""

    async def subject_access_review(request: web.Request) -> web.Response:
        raw = await request.read()
        try:
            review = json.loads(raw) if raw else {}
        except json.JSONDecodeError as exc:
            raise errors.bad_request(f"the request body is not valid JSON: {exc}") from None
        if not isinstance(review, Mapping):
            raise errors.bad_request("expected a SubjectAccessReview object")
        body = answer(request.app[storage_key], review)
        return web.json_response(body, status=201)

    return subject_access_review
