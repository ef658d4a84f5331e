"""AdmissionReview parsing and answers, and which requests the webhook judges."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from podwarden.api import admission
from podwarden.webhooks import decide

POD = {"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c"}]}}


def _request(**overrides: Any) -> dict[str, Any]:
    request: dict[str, Any] = {
        "uid": "u-1",
        "kind": {"group": "", "version": "v1", "kind": "Pod"},
        "resource": {"group": "", "version": "v1", "resource": "pods"},
        "operation": "CREATE",
        "namespace": "team",
        "userInfo": {"username": "alice", "groups": ["dev"]},
        "object": POD,
    }
    request.update(overrides)
    return request


def _parse(**overrides: Any) -> admission.AdmissionRequest:
    body = {
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": _request(**overrides),
    }
    return admission.parse_review(json.dumps(body).encode()).request


def test_parse_keeps_what_the_webhook_reads() -> None:
    request = _parse(dryRun=None, subResource="ephemeralcontainers")
    assert request.user_info.username == "alice"
    assert request.user_info.groups == ["dev"]
    assert request.dry_run is False
    assert request.sub_resource == "ephemeralcontainers"
    assert request.object == POD


def test_response_in_the_request_version_with_a_base64_patch() -> None:
    patch = [{"op": "add", "path": "/metadata/annotations", "value": {"a": "b"}}]
    answer = admission.review_response(
        "admission.k8s.io/v1beta1",
        "u-1",
        allowed=True,
        warnings=["w"],
        audit_annotations={"k": "v"},
        patch=patch,
    )
    assert answer["apiVersion"] == "admission.k8s.io/v1beta1"
    response = answer["response"]
    assert response["uid"] == "u-1"
    assert response["patchType"] == "JSONPatch"
    assert json.loads(base64.b64decode(response["patch"])) == patch
    assert response["warnings"] == ["w"]
    assert response["auditAnnotations"] == {"k": "v"}
    denied = admission.review_response(
        "admission.k8s.io/v1", "u", allowed=False, code=403, message="no", reason="Forbidden"
    )["response"]
    assert denied == {
        "uid": "u",
        "allowed": False,
        "status": {"code": 403, "message": "no", "reason": "Forbidden"},
    }


@pytest.mark.parametrize(
    ("overrides", "judged"),
    [
        ({}, True),
        ({"operation": "DELETE"}, False),
        ({"operation": "CONNECT"}, False),
        ({"subResource": "status", "operation": "UPDATE"}, False),
        ({"subResource": "exec", "operation": "CREATE"}, False),
        ({"subResource": "ephemeralcontainers", "operation": "UPDATE", "oldObject": POD}, True),
        ({"operation": "UPDATE", "oldObject": POD}, False),  # nothing significant changed
        ({"operation": "UPDATE", "oldObject": {**POD, "spec": {}}}, True),
        ({"resource": {"group": "", "version": "v1", "resource": "secrets"}}, False),
        (
            {
                "resource": {"group": "apps", "version": "v1", "resource": "deployments"},
                "kind": {"group": "apps", "version": "v1", "kind": "Deployment"},
                "object": {"spec": {"template": POD}},
            },
            True,
        ),
        (
            {
                "resource": {"group": "batch", "version": "v1", "resource": "cronjobs"},
                "kind": {"group": "batch", "version": "v1", "kind": "CronJob"},
                "object": {"spec": {"jobTemplate": {"spec": {"template": POD}}}},
            },
            True,
        ),
        (
            {
                "resource": {"group": "apps", "version": "v1", "resource": "deployments"},
                "subResource": "scale",
                "operation": "UPDATE",
            },
            False,
        ),
    ],
)
def test_scope(overrides: dict[str, Any], judged: bool) -> None:
    target = decide.scope(_parse(**overrides))
    assert isinstance(target, decide.Target) is judged


def test_security_annotation_change_is_significant() -> None:
    annotated = {
        **POD,
        "metadata": {
            "name": "p",
            "annotations": {"container.apparmor.security.beta.kubernetes.io/c": "unconfined"},
        },
    }
    target = decide.scope(_parse(operation="UPDATE", object=annotated, oldObject=POD))
    assert isinstance(target, decide.Target)


def test_workload_without_template_is_refused() -> None:
    answer = decide.scope(
        _parse(
            resource={"group": "apps", "version": "v1", "resource": "deployments"},
            kind={"group": "apps", "version": "v1", "kind": "Deployment"},
            object={"spec": {"template": "nope"}},
        )
    )
    assert isinstance(answer, decide.Answer)
    assert not answer.allowed
    assert answer.code == 400
    assert answer.message == "Deployment: the pod template is missing or not an object"
