"""The AdmissionReview protocol: versions, dry-run, malformed bodies, failing closed."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from podwarden.kube import client, store
from podwarden.podsecurity.psp import provider
from podwarden.webhooks import access, app, settings
from tests.integration.webhooks.conftest import (
    EXAMPLES,
    Starter,
    load_example,
    namespace,
    review,
)

BASELINE = {"pod-security.kubernetes.io/enforce": "baseline"}
PRIVILEGED = load_example("pod-privileged.yaml")


async def test_v1beta1_is_answered_in_v1beta1(start_webhook: Starter) -> None:
    client = await start_webhook(cluster=[namespace("default", **BASELINE)])
    body = review(PRIVILEGED, api_version="admission.k8s.io/v1beta1")
    answer = await client.post("/validate", body)  # post() checks apiVersion and uid
    assert not answer["allowed"]
    assert answer["status"]["code"] == 403
    assert answer["status"]["message"].startswith('violates PodSecurity "baseline:latest"')


def _decisions(metrics: str) -> float:
    total = 0.0
    for line in metrics.splitlines():
        if line.startswith("podwarden_admission_decisions_total{"):
            total += float(line.rsplit(" ", 1)[1])
    return total


async def test_dry_run_is_judged_but_not_recorded(start_webhook: Starter) -> None:
    client = await start_webhook(cluster=[namespace("default", **BASELINE)])
    answer = await client.post("/validate", review(PRIVILEGED, dry_run=True))
    assert not answer["allowed"]
    _, metrics = await client.get("/metrics")
    assert _decisions(metrics) == 0
    await client.post("/validate", review(PRIVILEGED))
    _, metrics = await client.get("/metrics")
    assert _decisions(metrics) == 1


def _without(body: dict[str, Any], *path: str) -> dict[str, Any]:
    copy = json.loads(json.dumps(body))
    target = copy
    for key in path[:-1]:
        target = target[key]
    del target[path[-1]]
    return copy


GOOD = review(PRIVILEGED)
MALFORMED = [
    (b"{not json", "the body is not JSON"),
    (b"[]", "expected an AdmissionReview object, got list"),
    (json.dumps({**GOOD, "apiVersion": "v1"}).encode(), "apiVersion: 'v1' is not accepted"),
    (json.dumps(_without(GOOD, "request")).encode(), "request: Field required"),
    (json.dumps(_without(GOOD, "request", "uid")).encode(), "request.uid: Field required"),
    (
        json.dumps({**GOOD, "request": {**GOOD["request"], "operation": "EXPLODE"}}).encode(),
        "request.operation: Input should be 'CREATE', 'UPDATE', 'DELETE' or 'CONNECT'",
    ),
    (
        json.dumps({**GOOD, "request": {**GOOD["request"], "object": [1]}}).encode(),
        "request.object: Input should be a valid dictionary",
    ),
]


@pytest.mark.parametrize(("body", "reason"), MALFORMED, ids=[r for _, r in MALFORMED])
async def test_malformed_review_is_400_with_the_reason(
    start_webhook: Starter, body: bytes, reason: str
) -> None:
    client = await start_webhook()
    status, answer = await client.post_raw("/validate", body)
    assert status == 400
    assert answer["reason"] == "BadRequest"
    assert reason in answer["message"], answer["message"]


async def test_internal_error_fails_closed(
    start_webhook: Starter, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = await start_webhook(config={"mode": "psp", "psp": {"policies": ["policy.yaml"]}})

    def failing_policy(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("policy exploded")

    monkeypatch.setattr(provider, "mutate_pod", failing_policy)
    for endpoint in ("/validate", "/mutate"):
        answer = await client.post(endpoint, review(load_example("pod-rootfs.yaml")))
        assert answer["allowed"] is False
        assert answer["status"]["code"] == 500
        assert answer["status"]["message"] == (
            "podwarden webhook could not decide: RuntimeError: policy exploded"
        )
        assert "patch" not in answer
    _, metrics = await client.get("/metrics")
    assert 'podwarden_admission_internal_errors_total{endpoint="mutate"} 1.0' in metrics


async def test_out_of_scope_resources_pass(start_webhook: Starter) -> None:
    client = await start_webhook(cluster=[namespace("default", **BASELINE)])
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}}
    body = review(secret, resource=("", "v1", "secrets"), kind="Secret")
    answer = await client.post("/validate", body)
    assert answer == {"uid": body["request"]["uid"], "allowed": True, "status": {"code": 200}}


async def test_healthz(start_webhook: Starter) -> None:
    client = await start_webhook()
    assert await client.get("/healthz") == (200, "ok\n")


async def test_an_authorizer_that_never_answers_is_a_refusal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An API server that accepts the SubjectAccessReview and never answers."""
    accepted: list[asyncio.StreamWriter] = []

    async def hang(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(writer)

    hanging = await asyncio.start_server(hang, "127.0.0.1", 0)
    port = hanging.sockets[0].getsockname()[1]
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        "apiVersion: v1\nkind: Config\n"
        f"clusters: [{{name: x, cluster: {{server: 'http://127.0.0.1:{port}'}}}}]\n"
        "users: [{name: x, user: {token: t}}]\n"
        "contexts: [{name: x, context: {cluster: x, user: x}}]\ncurrent-context: x\n"
    )
    api = client.from_kubeconfig(kubeconfig)
    monkeypatch.setattr(app, "DECISION_TIMEOUT", 0.5)
    psp = settings.from_data(
        {"mode": "psp", "psp": {"policies": ["policy.yaml"]}}, source="t", base=EXAMPLES
    )
    webhook = app.Webhook(
        settings=psp, view=store.ClusterView(), authorizer=access.SarAuthorizer(api)
    )
    try:
        body = json.dumps(review(load_example("pod-rootfs.yaml"))).encode()
        answer = (await webhook.review(body, "mutate"))["response"]
    finally:
        await api.close()
        for writer in accepted:
            writer.close()
        hanging.close()
    assert answer["allowed"] is False
    assert answer["status"]["code"] == 500
    assert answer["status"]["message"] == (
        "podwarden webhook could not decide: the admission decision timed out after 0.5s"
    )


def _deep_review(api_version: str, levels: int) -> bytes:
    """A review whose pod's spec carries an unknown field holding `levels` nested
    objects: the body is `levels` + 4 deep (review, request, object, spec). Written
    by hand, since json.dumps itself refuses to recurse that far."""
    pod = {**PRIVILEGED, "metadata": {"name": "deep"}}
    body = json.dumps(review(pod, api_version=api_version))
    opening, closing = '{"x":' * levels, "}" * levels
    return body.replace('"spec": {', f'"spec": {{"deep": {opening}1{closing}, ', 1).encode()


@pytest.mark.parametrize("endpoint", ["/validate", "/mutate"])
@pytest.mark.parametrize("api_version", ["admission.k8s.io/v1", "admission.k8s.io/v1beta1"])
async def test_deep_nesting_is_400_with_the_reason(
    start_webhook: Starter, endpoint: str, api_version: str
) -> None:
    """Issue 9 finding 10: 2,000 levels used to end in RecursionError, an HTTP 500."""
    client = await start_webhook(cluster=[namespace("default", **BASELINE)])
    for levels in (2_000, 20_000, 197):
        status, answer = await client.post_raw(endpoint, _deep_review(api_version, levels))
        assert status == 400, (levels, answer)
        assert answer["reason"] == "BadRequest"
        assert answer["message"] == (
            "malformed AdmissionReview: the body is nested more than 200 levels deep "
            "(the limit is 200)"
        )
    # The same review at a depth within the limit is judged (refused as privileged).
    status, answer = await client.post_raw(endpoint, _deep_review(api_version, 150))
    assert status == 200, answer
    assert answer["apiVersion"] == api_version
    assert answer["response"]["allowed"] is False
    assert answer["response"]["status"]["message"].startswith('violates PodSecurity "baseline')
