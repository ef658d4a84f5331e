"""AdmissionReview (admission.k8s.io v1 and v1beta1) and SubjectAccessReview payloads.

The two AdmissionReview versions carry the same fields; the API server expects
the answer in the version it asked with, so the request's apiVersion is kept and
echoed. Only what a validating/mutating webhook reads is typed; `object` and
`oldObject` stay plain JSON (the engines read them as mappings), and unknown
fields are ignored as the API server's own decoder does.
"""

from __future__ import annotations

import base64
import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from podwarden.api import nesting

ADMISSION_V1 = "admission.k8s.io/v1"
ADMISSION_V1BETA1 = "admission.k8s.io/v1beta1"
ADMISSION_VERSIONS = (ADMISSION_V1, ADMISSION_V1BETA1)
SAR_API_VERSION = "authorization.k8s.io/v1"

Operation = Literal["CREATE", "UPDATE", "DELETE", "CONNECT"]


class MalformedReview(ValueError):
    """The body is not an AdmissionReview a webhook can answer (HTTP 400)."""


class _Model(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="ignore", frozen=True)


class GroupVersionKind(_Model):
    group: str = ""
    version: str = ""
    kind: str = ""


class GroupVersionResource(_Model):
    group: str = ""
    version: str = ""
    resource: str = ""


class UserInfo(_Model):
    username: str = ""
    uid: str = ""
    groups: list[str] = Field(default_factory=list)
    extra: dict[str, list[str]] = Field(default_factory=dict)


class AdmissionRequest(_Model):
    """The `request` of an AdmissionReview: what is being done to which object, by whom."""

    uid: str = Field(min_length=1)
    kind: GroupVersionKind
    resource: GroupVersionResource
    sub_resource: str = Field("", alias="subResource")
    name: str = ""
    namespace: str = ""
    operation: Operation
    user_info: UserInfo = Field(default_factory=UserInfo, alias="userInfo")
    object: dict[str, Any] | None = None
    old_object: dict[str, Any] | None = Field(None, alias="oldObject")
    dry_run: bool = Field(False, alias="dryRun")

    @field_validator("dry_run", mode="before")
    @classmethod
    def _null_is_false(cls, value: Any) -> Any:
        return False if value is None else value


class AdmissionReview(_Model):
    """An incoming review; `api_version` decides the version of the answer."""

    api_version: Literal["admission.k8s.io/v1", "admission.k8s.io/v1beta1"] = Field(
        alias="apiVersion"
    )
    kind: Literal["AdmissionReview"]
    request: AdmissionRequest


def parse_review(body: bytes) -> AdmissionReview:
    """Decode and validate a request body; MalformedReview says what is wrong and where."""
    try:
        data = nesting.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise MalformedReview(f"the body is not JSON: {exc}") from None
    except nesting.TooDeep as exc:
        raise MalformedReview(f"the body is {exc}") from None
    if not isinstance(data, dict):
        raise MalformedReview(f"expected an AdmissionReview object, got {type(data).__name__}")
    if data.get("apiVersion") not in ADMISSION_VERSIONS:
        raise MalformedReview(
            f"apiVersion: {data.get('apiVersion')!r} is not accepted "
            f"(accepted: {', '.join(ADMISSION_VERSIONS)})"
        )
    try:
        return AdmissionReview.model_validate(data)
    except ValidationError as exc:
        raise MalformedReview(describe(exc)) from None


def describe(exc: ValidationError) -> str:
    """The first five problems of a review as `key.path: reason`, joined by `; `."""
    problems = []
    for error in exc.errors()[:5]:
        key = ".".join(str(part) for part in error["loc"]) or "(top level)"
        problems.append(f"{key}: {error['msg']}")
    return "; ".join(problems)


def review_response(
    api_version: str,
    uid: str,
    *,
    allowed: bool,
    code: int = 200,
    message: str = "",
    reason: str = "",
    warnings: list[str] | None = None,
    audit_annotations: dict[str, str] | None = None,
    patch: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """The AdmissionReview answer, in the request's apiVersion, with the request's uid."""
    status: dict[str, Any] = {"code": code}
    if message:
        status["message"] = message
    if reason:
        status["reason"] = reason
    response: dict[str, Any] = {"uid": uid, "allowed": allowed, "status": status}
    if warnings:
        response["warnings"] = warnings
    if audit_annotations:
        response["auditAnnotations"] = audit_annotations
    if patch:
        response["patchType"] = "JSONPatch"
        response["patch"] = base64.b64encode(
            json.dumps(patch, separators=(",", ":")).encode()
        ).decode()
    return {"apiVersion": api_version, "kind": "AdmissionReview", "response": response}


def subject_access_review(
    *,
    user: str,
    groups: list[str],
    uid: str = "",
    extra: dict[str, list[str]] | None = None,
    namespace: str,
    verb: str,
    group: str,
    resource: str,
    name: str,
) -> dict[str, Any]:
    """A SubjectAccessReview asking whether `user` may `verb` the named resource."""
    spec: dict[str, Any] = {
        "user": user,
        "groups": groups,
        "resourceAttributes": {
            "namespace": namespace,
            "verb": verb,
            "group": group,
            "resource": resource,
            "name": name,
        },
    }
    if uid:
        spec["uid"] = uid
    if extra:
        spec["extra"] = extra
    return {"apiVersion": SAR_API_VERSION, "kind": "SubjectAccessReview", "spec": spec}
