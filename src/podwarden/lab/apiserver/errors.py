"""Failure `Status` objects shaped exactly as kube-apiserver sends them.

kubectl prints `Error from server (<reason>): <message>` from these fields and
client libraries branch on `reason` and `code`, so the wording follows the
upstream apimachinery errors package (`pods "x" not found`, `Operation cannot
be fulfilled on ...`).
"""

from __future__ import annotations

from typing import Any


class StatusError(Exception):
    """Raised by handlers; the app turns it into a Status response with `code`."""

    def __init__(
        self, code: int, reason: str, message: str, details: dict[str, Any] | None = None
    ) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details

    def status(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        }
        if self.details is not None:
            body["details"] = self.details
        return body


def _qualified(plural: str, group: str) -> str:
    return f"{plural}.{group}" if group else plural


def not_found(plural: str, name: str, *, group: str = "") -> StatusError:
    kind = _qualified(plural, group)
    details = {"name": name, "kind": plural} | ({"group": group} if group else {})
    return StatusError(404, "NotFound", f'{kind} "{name}" not found', details)


def already_exists(plural: str, name: str, *, group: str = "") -> StatusError:
    kind = _qualified(plural, group)
    details = {"name": name, "kind": plural} | ({"group": group} if group else {})
    return StatusError(409, "AlreadyExists", f'{kind} "{name}" already exists', details)


def conflict(plural: str, name: str, *, group: str = "") -> StatusError:
    kind = _qualified(plural, group)
    details = {"name": name, "kind": plural} | ({"group": group} if group else {})
    return StatusError(
        409,
        "Conflict",
        f'Operation cannot be fulfilled on {kind} "{name}": the object has been modified; '
        "please apply your changes to the latest version and try again",
        details,
    )


def invalid(
    kind: str, name: str, causes: list[tuple[str, str, str]], *, group: str = ""
) -> StatusError:
    """`causes` are (field, reason, message) triples, e.g. FieldValueRequired."""
    summary = ", ".join(f"{field}: {message}" for field, _reason, message in causes)
    text = f"[{summary}]" if len(causes) > 1 else summary
    details: dict[str, Any] = {
        "name": name,
        "kind": kind,
        "causes": [
            {"reason": reason, "message": message, "field": field}
            for field, reason, message in causes
        ],
    }
    if group:
        details["group"] = group
    return StatusError(422, "Invalid", f'{kind} "{name}" is invalid: {text}', details)


def bad_request(message: str) -> StatusError:
    return StatusError(400, "BadRequest", message)


def gone(message: str) -> StatusError:
    return StatusError(410, "Expired", message)


def unsupported_media_type(content_type: str) -> StatusError:
    return StatusError(
        415,
        "UnsupportedMediaType",
        f"the body of the request was in an unknown format - "
        f"accepted media types include: application/json-patch+json, "
        f"application/merge-patch+json, application/strategic-merge-patch+json "
        f"(got {content_type!r})",
    )


def method_not_allowed(method: str) -> StatusError:
    return StatusError(
        405,
        "MethodNotAllowed",
        f"the server does not allow this method on the requested resource ({method})",
        {},
    )


def path_not_found() -> StatusError:
    return StatusError(404, "NotFound", "the server could not find the requested resource", {})
