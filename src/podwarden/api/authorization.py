"""SubjectAccessReview as kube-apiserver's authorization webhook sends it, and the request
attributes the node authorizer judges.

kube-apiserver POSTs `authorization.k8s.io/v1` (or `v1beta1`, per the webhook's
`subjectAccessReviewVersion`) and expects the answer in the same version. The two
versions differ in one field name: v1 lists the groups under `spec.groups`, v1beta1
under `spec.group`. Since 1.31 `resourceAttributes` may carry `fieldSelector` and
`labelSelector`, either as `rawSelector` text or as parsed `requirements`
(`In`/`NotIn`/`Exists`/`DoesNotExist`); the webhook authorizer sends requirements,
`kubectl auth can-i`-style callers often send the raw text. Both become the same
`FieldRequirement`s here.

`Attributes` is what the engines read (upstream's authorizer.Attributes): plain,
immutable, cheap to build, so the in-process decision costs microseconds.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from podwarden.api import admission

SAR_V1 = "authorization.k8s.io/v1"
SAR_V1BETA1 = "authorization.k8s.io/v1beta1"
SAR_VERSIONS = (SAR_V1, SAR_V1BETA1)

# What the API server puts in `extra` for a pod-bound service-account token (1.32+).
EXTRA_NODE_NAME = "authentication.kubernetes.io/node-name"
EXTRA_NODE_UID = "authentication.kubernetes.io/node-uid"
EXTRA_POD_NAME = "authentication.kubernetes.io/pod-name"

Operator = Literal["=", "!=", "exists", "!"]


class MalformedReview(ValueError):
    """The body is not a SubjectAccessReview an authorizer can answer (HTTP 400)."""


@dataclass(frozen=True, slots=True)
class FieldRequirement:
    """One field-selector clause: `key=value`, `key!=value`, `key` exists or `!key`."""

    key: str
    operator: Operator
    value: str = ""


@dataclass(frozen=True, slots=True)
class Attributes:
    """One request as an authorizer sees it (upstream's authorizer.AttributesRecord)."""

    user: str
    groups: tuple[str, ...] = ()
    extra: tuple[tuple[str, tuple[str, ...]], ...] = ()
    uid: str = ""
    resource_request: bool = True
    verb: str = ""
    api_group: str = ""
    resource: str = ""
    subresource: str = ""
    namespace: str = ""
    name: str = ""
    path: str = ""
    field_selector: tuple[FieldRequirement, ...] = field(default=())

    def extra_value(self, key: str) -> str:
        """The first value of `extra[key]` ('' when absent)."""
        for name, values in self.extra:
            if name == key:
                return values[0] if values else ""
        return ""

    def field_equals(self, key: str, value: str) -> bool:
        """True when the field selector requires `key` to equal `value` (as upstream:
        `req.Field == key && req.Operator == Equals && req.Value == value`)."""
        return any(
            req.key == key and req.operator == "=" and req.value == value
            for req in self.field_selector
        )


def parse_field_selector(text: str) -> tuple[FieldRequirement, ...]:
    """`a=b,c==d,e!=f` as requirements; raises ValueError naming the bad clause."""
    found: list[FieldRequirement] = []
    for raw in text.split(","):
        clause = raw.strip()
        if not clause:
            continue
        if "!=" in clause:
            key, _, value = clause.partition("!=")
            operator: Operator = "!="
        elif "=" in clause:
            key, _, value = clause.partition("=")
            value = value[1:] if value.startswith("=") else value
            operator = "="
        else:
            raise ValueError(f"invalid field selector clause {clause!r}: expected key=value")
        if not key.strip():
            raise ValueError(f"invalid field selector clause {clause!r}: empty field name")
        found.append(FieldRequirement(key.strip(), operator, value.strip()))
    return tuple(found)


class _Model(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="ignore", frozen=True)


class SelectorRequirement(_Model):
    key: str
    operator: Literal["In", "NotIn", "Exists", "DoesNotExist"]
    values: list[str] = Field(default_factory=list)


class SelectorAttributes(_Model):
    raw_selector: str = Field("", alias="rawSelector")
    requirements: list[SelectorRequirement] = Field(default_factory=list)


class ResourceAttributes(_Model):
    namespace: str = ""
    verb: str = ""
    group: str = ""
    version: str = ""
    resource: str = ""
    subresource: str = ""
    name: str = ""
    field_selector: SelectorAttributes | None = Field(None, alias="fieldSelector")
    label_selector: SelectorAttributes | None = Field(None, alias="labelSelector")


class NonResourceAttributes(_Model):
    path: str = ""
    verb: str = ""


class SarSpec(_Model):
    resource_attributes: ResourceAttributes | None = Field(None, alias="resourceAttributes")
    non_resource_attributes: NonResourceAttributes | None = Field(
        None, alias="nonResourceAttributes"
    )
    user: str = ""
    groups: list[str] | None = None
    group: list[str] | None = None  # v1beta1's name for the same list
    extra: dict[str, list[str]] = Field(default_factory=dict)
    uid: str = ""


class SubjectAccessReview(_Model):
    api_version: Literal["authorization.k8s.io/v1", "authorization.k8s.io/v1beta1"] = Field(
        alias="apiVersion"
    )
    kind: Literal["SubjectAccessReview"]
    spec: SarSpec


def _requirements(selector: SelectorAttributes | None) -> tuple[FieldRequirement, ...]:
    if selector is None:
        return ()
    if selector.requirements:
        found: list[FieldRequirement] = []
        for req in selector.requirements:
            if req.operator == "In" and len(req.values) == 1:
                found.append(FieldRequirement(req.key, "=", req.values[0]))
            elif req.operator == "NotIn" and len(req.values) == 1:
                found.append(FieldRequirement(req.key, "!=", req.values[0]))
            elif req.operator == "Exists":
                found.append(FieldRequirement(req.key, "exists"))
            elif req.operator == "DoesNotExist":
                found.append(FieldRequirement(req.key, "!"))
            # In/NotIn with several values has no field-selector equivalent: it narrows
            # nothing an authorizer may rely on, so it is dropped (as upstream drops it).
        return tuple(found)
    try:
        return parse_field_selector(selector.raw_selector)
    except ValueError:
        return ()  # upstream: an unparsable selector narrows nothing


def decode(body: bytes) -> Any:
    """The body's JSON; MalformedReview when it is not JSON."""
    try:
        return json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise MalformedReview(f"the body is not JSON: {exc}") from None


def parse_review(body: bytes | dict[str, Any]) -> SubjectAccessReview:
    """Validate a body (raw, or already decoded); MalformedReview says what is wrong and where."""
    data = decode(body) if isinstance(body, bytes) else body
    if not isinstance(data, dict):
        raise MalformedReview(f"expected a SubjectAccessReview object, got {type(data).__name__}")
    if data.get("apiVersion") not in SAR_VERSIONS:
        raise MalformedReview(
            f"apiVersion: {data.get('apiVersion')!r} is not accepted "
            f"(accepted: {', '.join(SAR_VERSIONS)})"
        )
    if data.get("kind") != "SubjectAccessReview":
        raise MalformedReview(
            f"kind: {data.get('kind')!r} is not accepted (accepted: SubjectAccessReview)"
        )
    try:
        review = SubjectAccessReview.model_validate(data)
    except ValidationError as exc:
        raise MalformedReview(admission.describe(exc)) from None
    spec = review.spec
    if not spec.user:
        raise MalformedReview("spec.user: required (the API server always names the user)")
    if (spec.resource_attributes is None) == (spec.non_resource_attributes is None):
        raise MalformedReview(
            "spec: exactly one of resourceAttributes and nonResourceAttributes is required"
        )
    return review


def attributes_of(review: SubjectAccessReview) -> Attributes:
    """The review's request as Attributes (groups from `groups` or v1beta1's `group`)."""
    spec = review.spec
    groups = tuple(spec.groups if spec.groups is not None else (spec.group or []))
    extra = tuple((key, tuple(values)) for key, values in sorted(spec.extra.items()))
    resource = spec.resource_attributes
    if resource is not None:
        return Attributes(
            user=spec.user,
            groups=groups,
            extra=extra,
            uid=spec.uid,
            verb=resource.verb,
            api_group=resource.group,
            resource=resource.resource,
            subresource=resource.subresource,
            namespace=resource.namespace,
            name=resource.name,
            field_selector=_requirements(resource.field_selector),
        )
    non_resource = spec.non_resource_attributes or NonResourceAttributes()
    return Attributes(
        user=spec.user,
        groups=groups,
        extra=extra,
        uid=spec.uid,
        resource_request=False,
        verb=non_resource.verb,
        path=non_resource.path,
    )


def review_response(
    api_version: str,
    spec: dict[str, Any],
    *,
    allowed: bool,
    denied: bool = False,
    reason: str = "",
    evaluation_error: str = "",
) -> dict[str, Any]:
    """The answer kube-apiserver reads: the review echoed with `status` filled in."""
    status: dict[str, Any] = {"allowed": allowed}
    if denied:
        status["denied"] = True
    if reason:
        status["reason"] = reason
    if evaluation_error:
        status["evaluationError"] = evaluation_error
    return {
        "apiVersion": api_version,
        "kind": "SubjectAccessReview",
        "spec": spec,
        "status": status,
    }
