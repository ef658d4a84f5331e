"""POST /apis/authorization.k8s.io/v1/subjectaccessreviews for the lab API server.

The HTTP half only: read the review, answer it from the fixture-declared table
(`sar_answers`: the lab never evaluates RBAC itself, so it cannot grade the
product with the product's own code), and return it with its status filled in,
201 Created as the API server does.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from aiohttp import web

from podwarden.lab.apiserver import errors
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


def handler(table: AnswerTable) -> Any:
    """The aiohttp handler answering from `table`."""

    async def subject_access_review(request: web.Request) -> web.Response:
        raw = await request.read()
        try:
            review = json.loads(raw) if raw else {}
        except json.JSONDecodeError as exc:
            raise errors.bad_request(f"the request body is not valid JSON: {exc}") from None
        if not isinstance(review, Mapping):
            raise errors.bad_request("expected a SubjectAccessReview object")
        return web.json_response(answer(table, review), status=201)

    return subject_access_review
