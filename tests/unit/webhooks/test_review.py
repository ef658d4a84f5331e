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
        (
            {
                "subResource": "ephemeralcontainers",
                "operation": "UPDATE",
                "object": {**POD, "spec": {**POD["spec"], "ephemeralContainers": [{"name": "d"}]}},
                "oldObject": POD,
            },
            True,
        ),
        ({"subResource": "ephemeralcontainers", "operation": "UPDATE", "oldObject": POD}, False),
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
    assert (isinstance(target, decide.Target) and target.significant) is judged


def _pod(
    *images: str,
    init: tuple[str, ...] = (),
    ephemeral: tuple[str, ...] = (),
    annotations: dict[str, str] | None = None,
    **spec: Any,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "containers": [{"name": f"c{i}", "image": image} for i, image in enumerate(images)],
        **spec,
    }
    if init:
        body["initContainers"] = [{"name": f"i{i}", "image": x} for i, x in enumerate(init)]
    if ephemeral:
        body["ephemeralContainers"] = [{"name": f"e-{x}", "image": x} for x in ephemeral]
    return {"metadata": {"name": "p", "annotations": annotations or {}}, "spec": body}


SECCOMP_C0 = "container.seccomp.security.alpha.kubernetes.io/c0"


@pytest.mark.parametrize(
    ("new", "old", "significant"),
    [
        (_pod("a"), _pod("a"), False),
        (_pod("b"), _pod("a"), True),  # image changed
        (_pod("a", "b"), _pod("a"), True),  # container count
        (_pod("a", init=("x",)), _pod("a"), True),  # init container count
        (_pod("a", init=("y",)), _pod("a", init=("x",)), True),  # init image
        (_pod("a", ephemeral=("dbg",)), _pod("a"), True),  # ephemeral container added
        (_pod("a", ephemeral=("dbg",)), _pod("a", ephemeral=("dbg",)), False),
        (_pod("a", annotations={SECCOMP_C0: "unconfined"}), _pod("a"), True),
        # What PSA does not compare: the API server keeps these immutable on a pod
        # (or they are nothing PSA judges), so they never trigger a re-evaluation.
        (_pod("a", annotations={"team": "x"}), _pod("a"), False),
        (
            _pod("a", annotations={"container.apparmor.security.beta.kubernetes.io/c0": "u"}),
            _pod("a"),
            False,
        ),
        (_pod("a", activeDeadlineSeconds=5), _pod("a"), False),
        (_pod("a", tolerations=[{"key": "k"}]), _pod("a"), False),
        # Shapes PSA could not decode are judged, never waved through.
        ({"metadata": {}, "spec": {"containers": "x"}}, _pod("a"), True),
        (_pod("a"), {"metadata": {}, "spec": []}, True),
    ],
)
def test_significant_update_compares_what_psa_compares(
    new: dict[str, Any], old: dict[str, Any], significant: bool
) -> None:
    target = decide.scope(_parse(operation="UPDATE", object=new, oldObject=old))
    assert isinstance(target, decide.Target)
    assert target.significant is significant


def test_workload_without_template_is_flagged_not_judged() -> None:
    target = decide.scope(
        _parse(
            resource={"group": "apps", "version": "v1", "resource": "deployments"},
            kind={"group": "apps", "version": "v1", "kind": "Deployment"},
            object={"spec": {"template": "nope"}},
        )
    )
    assert isinstance(target, decide.Target)
    assert target.template_error == "Deployment: the pod template is missing or not an object"
