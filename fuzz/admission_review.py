"""Fuzz target: arbitrary bytes as an AdmissionReview body into the webhook's decision path.

Half of the inputs are a valid review whose pod is mutated field by field (the
shapes a hostile or buggy client could send: lists where objects belong, huge
numbers, odd capability names), half are free-form bytes. Findings: any
exception other than MalformedReview (the HTTP 400 path), a decision the webhook
had to fail closed on (an engine bug hidden behind a 500 refusal), an answer
with another uid, or a patch that is not a JSON Patch list.
"""

from __future__ import annotations

import asyncio
import base64
import json
from pathlib import Path
from typing import Any

from podwarden.api import admission
from podwarden.kube import store
from podwarden.podsecurity.psp import engine
from podwarden.webhooks import access, app, settings

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "psp-walkthrough"


class InternalError(AssertionError):
    """The webhook could not decide: an engine raised on this input."""


class BadAnswer(AssertionError):
    """The answer breaks the AdmissionReview contract."""


def _webhooks() -> tuple[asyncio.AbstractEventLoop, list[app.Webhook]]:
    loop = asyncio.new_event_loop()
    view = store.ClusterView()
    ns = {
        "kind": "Namespace",
        "metadata": {
            "name": "default",
            "labels": {
                "pod-security.kubernetes.io/enforce": "restricted",
                "pod-security.kubernetes.io/warn": "baseline",
                "pod-security.kubernetes.io/audit": "restricted",
            },
        },
    }
    loop.run_until_complete(view.apply(ns))
    psp = settings.from_data(
        {"mode": "psp", "psp": {"policies": ["policy.yaml", "policy-var-log.yaml"]}},
        source="fuzz",
        base=EXAMPLES,
    )
    everyone = access.RbacAuthorizer(engine.Rbac.allow_all)
    hooks = [
        app.Webhook(settings=settings.Settings(), view=view, authorizer=everyone),
        app.Webhook(settings=psp, view=view, authorizer=everyone),
        app.Webhook(settings=settings.Settings(mode="tenant"), view=view, authorizer=everyone),
    ]
    return loop, hooks


LOOP, WEBHOOKS = _webhooks()
SEED_POD: dict[str, Any] = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {"name": "p", "annotations": {"a": "b"}},
    "spec": {
        "securityContext": {"runAsNonRoot": True},
        "containers": [
            {
                "name": "c",
                "image": "x",
                "securityContext": {"capabilities": {"add": ["NET_ADMIN"], "drop": ["ALL"]}},
                "volumeMounts": [{"name": "v", "mountPath": "/v"}],
            }
        ],
        "volumes": [{"name": "v", "hostPath": {"path": "/var/log"}}],
    },
}
ODD_VALUES: tuple[Any, ...] = (
    None,
    True,
    0,
    -1,
    2**70,
    "",
    "ALL",
    "*",
    [],
    {},
    [None],
    {"": ""},
    "/",
    "../..",
    1.5,
)


def _mutate(fdp: Any, node: Any, depth: int = 0) -> Any:
    """Replace one randomly chosen value somewhere in `node`."""
    if depth > 6 or not isinstance(node, dict | list) or not node or fdp.ConsumeProbability() < 0.2:
        choice = fdp.ConsumeIntInRange(0, len(ODD_VALUES))
        if choice == len(ODD_VALUES):
            return fdp.ConsumeUnicodeNoSurrogates(12)
        return ODD_VALUES[choice]
    if isinstance(node, dict):
        keys = list(node)
        key = keys[fdp.ConsumeIntInRange(0, len(keys) - 1)]
        return {**node, key: _mutate(fdp, node[key], depth + 1)}
    index = fdp.ConsumeIntInRange(0, len(node) - 1)
    return [*node[:index], _mutate(fdp, node[index], depth + 1), *node[index + 1 :]]


def build_body(data: bytes) -> tuple[int, str, bytes]:
    """Decode fuzz bytes into (webhook index, endpoint, request body)."""
    import atheris

    fdp = atheris.FuzzedDataProvider(data)
    hook = fdp.ConsumeIntInRange(0, len(WEBHOOKS) - 1)
    endpoint = "mutate" if fdp.ConsumeBool() else "validate"
    if fdp.ConsumeBool():
        return hook, endpoint, fdp.ConsumeBytes(fdp.remaining_bytes())
    pod = SEED_POD
    for _ in range(fdp.ConsumeIntInRange(1, 4)):
        pod = _mutate(fdp, pod)
    operation = ("CREATE", "UPDATE", "DELETE")[fdp.ConsumeIntInRange(0, 2)]
    body = {
        "apiVersion": admission.ADMISSION_VERSIONS[fdp.ConsumeIntInRange(0, 1)],
        "kind": "AdmissionReview",
        "request": {
            "uid": "fuzz",
            "kind": {"group": "", "version": "v1", "kind": "Pod"},
            "resource": {"group": "", "version": "v1", "resource": "pods"},
            "namespace": "default",
            "operation": operation,
            "userInfo": {"username": "fuzz"},
            "object": pod,
            "oldObject": SEED_POD if operation == "UPDATE" else None,
            "dryRun": True,  # judged in full, but no decision log per input
        },
    }
    return hook, endpoint, json.dumps(body).encode()


def check(webhook: app.Webhook, endpoint: str, body: bytes) -> None:
    """Review one body; raise on any contract breach."""
    try:
        answer = LOOP.run_until_complete(webhook.review(body, endpoint))  # type: ignore[arg-type]
    except admission.MalformedReview:
        return
    response = answer["response"]
    if response["status"]["code"] == 500:
        raise InternalError(f"{body[:300]!r}: {response['status'].get('message')}")
    if response["uid"] != json.loads(body)["request"]["uid"]:
        raise BadAnswer(f"uid changed: {response['uid']!r}")
    if not isinstance(response["allowed"], bool):
        raise BadAnswer("allowed is not a boolean")
    if "patch" in response:
        ops = json.loads(base64.b64decode(response["patch"]))
        if not response["allowed"] or not isinstance(ops, list):
            raise BadAnswer(f"patch on a refusal or not a list: {ops!r}")


def one_input(data: bytes) -> None:
    """libFuzzer entry point."""
    hook, endpoint, body = build_body(data)
    check(WEBHOOKS[hook], endpoint, body)
