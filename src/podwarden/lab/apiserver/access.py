"""POST /apis/authorization.k8s.io/v1/subjectaccessreviews for the lab API server.

The HTTP half only: read the review, answer it, and return it with its status
filled in, 201 Created as the API server does. The answer comes from the lab
cluster's authorizer chain when `--auth-config` declares one (a fixture table, or
a webhook such as `podwarden nodeauth serve`: guard.py), otherwise from the
fixture-declared answer table (`sar_answers`). The lab never evaluates RBAC
itself, so it cannot grade the product with the product's own code.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from aiohttp import web

from podwarden.lab.apiserver import authconfig, errors, guard
from podwarden.lab.apiserver.sar_answers import AnswerTable

PATH = "/apis/authorization.k8s.io/v1/subjectaccessreviews"


def answer(table: AnswerTable, review: Mapping[str, Any]) -> dict[str, Any]:
    """The review with its status (allowed, reason, denied) from `table`."""
    spec = review.get("spec")
    if review.get("kind") != "SubjectAccessReview" or not isinstance(spec, Mapping):
        raise errors.bad_request("expected a SubjectAccessReview with a spec")
    try:
        status = table.answer(spec)
    except ValueError as exc:
        raise errors.bad_request(str(exc)) from None
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


def handler(
    table: AnswerTable, config_of: Callable[[web.Application], authconfig.AuthConfig]
) -> Any:
    """The aiohttp handler: the auth config's authorizer chain when it has one, else `table`."""

    async def subject_access_review(request: web.Request) -> web.Response:
        raw = await request.read()
        try:
            review = json.loads(raw) if raw else {}
        except json.JSONDecodeError as exc:
            raise errors.bad_request(f"the request body is not valid JSON: {exc}") from None
        if not isinstance(review, Mapping):
            raise errors.bad_request("expected a SubjectAccessReview object")
        cfg = config_of(request.app)
        if cfg.authorizers:
            return web.json_response(await answer_from_chain(cfg, review), status=201)
        return web.json_response(answer(table, review), status=201)

    return subject_access_review
