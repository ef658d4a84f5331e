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

from podwarden.lab.apiserver import authconfig, errors, guard
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


async def answer_from_chain(
    cfg: authconfig.AuthConfig, review: Mapping[str, Any]
) -> dict[str, Any]:
    """The review answered by the configured authorizer chain (issue 10: `nodeauth verify`
    asks about `system:node:N`, and the answer is the fixture table's or the webhook's)."""
    spec = review.get("spec")
    if review.get("kind") != "SubjectAccessReview" or not isinstance(spec, Mapping):
        raise errors.bad_request("expected a SubjectAccessReview with a spec")
    attrs = spec.get("resourceAttributes")
    if not isinstance(attrs, Mapping):
        raise errors.bad_request(
            "spec.resourceAttributes: required (the lab has no nonResource rules)"
        )
    found = spec.get("extra")
    extra: Mapping[str, Any] = found if isinstance(found, Mapping) else {}
    who = guard.Identity(
        str(spec.get("user") or ""),
        tuple(str(g) for g in spec.get("groups") or []),
        tuple((str(k), tuple(v)) for k, v in sorted(extra.items())),
    )
    decision, reason = await guard.authorize(
        cfg,
        who,
        guard.Attrs(
            verb=str(attrs.get("verb") or ""),
            group=str(attrs.get("group") or ""),
            resource=str(attrs.get("resource") or ""),
            subresource=str(attrs.get("subresource") or ""),
            namespace=str(attrs.get("namespace") or ""),
            name=str(attrs.get("name") or ""),
            field_selector=str((attrs.get("fieldSelector") or {}).get("rawSelector") or ""),
        ),
    )
    status: dict[str, Any] = {"allowed": decision == "allow"}
    if decision == "deny":
        status["denied"] = True
    if reason:
        status["reason"] = reason
    return {
        "apiVersion": "authorization.k8s.io/v1",
        "kind": "SubjectAccessReview",
        "metadata": {"creationTimestamp": None},
        "spec": dict(spec),
        "status": status,
    }


def handler(storage_key: web.AppKey[Storage], config_of: Any = None) -> Any:
    """The aiohttp handler, reading storage from the app under `storage_key`; with
    `config_of(app)` giving an auth config that has authorizers, those answer instead."""

    async def subject_access_review(request: web.Request) -> web.Response:
        raw = await request.read()
        try:
            review = json.loads(raw) if raw else {}
        except json.JSONDecodeError as exc:
            raise errors.bad_request(f"the request body is not valid JSON: {exc}") from None
        if not isinstance(review, Mapping):
            raise errors.bad_request("expected a SubjectAccessReview object")
        cfg = config_of(request.app) if config_of is not None else None
        if cfg is not None and cfg.authorizers:
            return web.json_response(await answer_from_chain(cfg, review), status=201)
        body = answer(request.app[storage_key], review)
        return web.json_response(body, status=201)

    return subject_access_review
