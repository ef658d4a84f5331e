"""The admission webhook's aiohttp application: /validate, /mutate, /healthz, /metrics.

Three outcomes, kept apart on purpose: a body that is not an AdmissionReview is
the caller's mistake (HTTP 400 naming what is wrong, so a misconfigured
webhook shows up in the API server's log); a decision the engine could not make
is a refusal (`allowed: false`, code 500, the reason) — fail closed, never an
allow; everything else is the engine's answer in the review's own apiVersion.
Dry-run requests are judged like any other, but nothing is recorded: no
decision log line, no metric.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

from podwarden import logs
from podwarden.api import admission
from podwarden.kube import store
from podwarden.podsecurity.psp import engine
from podwarden.webhooks import access, decide, failures
from podwarden.webhooks.clusterpolicies import ClusterPolicies
from podwarden.webhooks.settings import Settings

_log = logs.get("webhooks.app")
MAX_BODY = 8 * 1024 * 1024
DECISION_TIMEOUT = 8.0
"""Seconds before a decision (waiting on SubjectAccessReviews) is given up and refused:
under the API server's default 10 s webhook timeout, so the refusal carries our reason."""


@dataclass
class Metrics:
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        self.decisions = Counter(
            "podwarden_admission_decisions",
            "Admission decisions recorded (dry-run requests excluded)",
            ["endpoint", "allowed"],
            registry=self.registry,
        )
        self.errors = Counter(
            "podwarden_admission_internal_errors",
            "Requests refused because the decision could not be made",
            ["endpoint"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "podwarden_admission_seconds",
            "Time to judge one AdmissionReview",
            ["endpoint"],
            buckets=(0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5),
            registry=self.registry,
        )
        self.policies_rejected = Counter(
            "podwarden_psp_cluster_objects_rejected",
            "PodSecurityPolicy object versions from the cluster that could not be parsed",
            ["group"],
            registry=self.registry,
        )
        self.cluster_policies = Gauge(
            "podwarden_psp_cluster_policies",
            "PodSecurityPolicies from the cluster in force now",
            registry=self.registry,
        )
        self.policies_skipped = Gauge(
            "podwarden_psp_cluster_objects_skipped",
            "PodSecurityPolicy objects in the cluster not in force now (unparsable, duplicate)",
            registry=self.registry,
        )
        self.certificate_expiry = Gauge(
            "podwarden_webhook_certificate_expiry_timestamp_seconds",
            "notAfter of the serving certificate in use (Unix time)",
            registry=self.registry,
        )

    def certificate_loaded(self, not_after: float) -> None:
        self.certificate_expiry.set(not_after)

    def policy_rejected(self, source: str) -> None:
        self.policies_rejected.labels(source).inc()

    def policy_counts(self, *, in_use: int, skipped: int) -> None:
        self.cluster_policies.set(in_use)
        self.policies_skipped.set(skipped)


class Webhook:
    """Everything a request needs: settings, the cluster view, the PSP authorizer."""

    def __init__(
        self,
        *,
        settings: Settings,
        view: store.ClusterView,
        authorizer: access.Authorizer,
        metrics: Metrics | None = None,
        cluster_policies: ClusterPolicies | None = None,
    ) -> None:
        self.settings = settings
        self.view = view
        self.authorizer = authorizer
        self.metrics = metrics or Metrics()
        self.cluster_policies = cluster_policies

    def policies(self) -> tuple[engine.Policy, ...]:
        """The PodSecurityPolicies in force now: the files' and (when followed) the cluster's."""
        if self.cluster_policies is None:
            return self.settings.policies
        return self.cluster_policies.effective

    def not_ready(self) -> str:
        """Why the webhook must not take traffic yet ('' when ready)."""
        if not self.view.synced.is_set():
            return "cluster view not synced yet"
        if self.cluster_policies is not None and not self.cluster_policies.synced.is_set():
            return "cluster PodSecurityPolicies not listed yet"
        return ""

    async def review(self, body: bytes, endpoint: decide.Endpoint) -> dict[str, Any]:
        """The AdmissionReview answer; raises MalformedReview for a body that is not one."""
        review = admission.parse_review(body)
        request = review.request
        started = time.perf_counter()
        try:
            answer = await asyncio.wait_for(
                decide.judge(
                    request,
                    endpoint=endpoint,
                    settings=self.settings,
                    view=self.view,
                    authorizer=self.authorizer,
                    policies=self.policies(),
                ),
                DECISION_TIMEOUT,
            )
        except Exception as exc:  # fail closed: a decision that cannot be made is a deny
            _log.exception("admission decision failed; refusing", uid=request.uid)
            self.metrics.errors.labels(endpoint).inc()
            answer = decide.Answer(
                False,
                code=500,
                reason="InternalError",
                message="podwarden webhook could not decide: "
                + failures.describe(
                    exc, operation="the admission decision", timeout=DECISION_TIMEOUT
                ),
            )
        if not request.dry_run:
            self._record(request, endpoint, answer, time.perf_counter() - started)
        return admission.review_response(
            review.api_version,
            request.uid,
            allowed=answer.allowed,
            code=answer.code,
            message=answer.message,
            reason=answer.reason,
            warnings=answer.warnings,
            audit_annotations=answer.audit_annotations,
            patch=answer.patch if endpoint == "mutate" else None,
        )

    def _record(
        self,
        request: admission.AdmissionRequest,
        endpoint: str,
        answer: decide.Answer,
        seconds: float,
    ) -> None:
        self.metrics.decisions.labels(endpoint, str(answer.allowed).lower()).inc()
        self.metrics.latency.labels(endpoint).observe(seconds)
        if answer.judged:
            # Refusals and mutations at info; plain admits at debug (they are the bulk).
            emit = _log.info if not answer.allowed or answer.patch else _log.debug
            emit(
                "admission",
                endpoint=endpoint,
                uid=request.uid,
                namespace=request.namespace,
                name=request.name,
                resource=request.resource.resource,
                operation=request.operation,
                user=request.user_info.username,
                allowed=answer.allowed,
                message=answer.message,
                patched=bool(answer.patch),
            )


def bad_request(message: str, *, kind: str = "AdmissionReview") -> web.Response:
    """400 with a Status naming what is wrong with the review (both webhooks answer so)."""
    status = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": f"malformed {kind}: {message}",
        "reason": "BadRequest",
        "code": 400,
    }
    return web.json_response(status, status=400)


def metrics_response(registry: CollectorRegistry) -> web.Response:
    """The server's registry, then the process-wide one, in Prometheus' text format.

    The process-wide registry carries what is shared by every server in the
    process, such as the cluster view's reflector metrics the alerts watch.
    """
    response = web.Response(body=generate_latest(registry) + generate_latest(REGISTRY))
    response.headers["Content-Type"] = CONTENT_TYPE_LATEST
    return response


WEBHOOK_KEY: web.AppKey[Webhook] = web.AppKey("webhook", Webhook)


def _endpoint(name: decide.Endpoint) -> Any:
    async def handle(request: web.Request) -> web.Response:
        webhook = request.app[WEBHOOK_KEY]
        try:
            body = await request.read()
        except web.HTTPRequestEntityTooLarge:
            return bad_request(f"the body exceeds {MAX_BODY} bytes")
        try:
            answer = await webhook.review(body, name)
        except admission.MalformedReview as exc:
            return bad_request(str(exc))
        return web.Response(
            body=json.dumps(answer, separators=(",", ":")).encode(),
            content_type="application/json",
        )

    return handle


async def _healthz(request: web.Request) -> web.Response:
    reason = request.app[WEBHOOK_KEY].not_ready()
    if reason:
        return web.Response(status=503, text=f"{reason}\n")
    return web.Response(text="ok\n")


async def _metrics(request: web.Request) -> web.Response:
    return metrics_response(request.app[WEBHOOK_KEY].metrics.registry)


def build(webhook: Webhook) -> web.Application:
    """The application for `webhook`."""
    app = web.Application(client_max_size=MAX_BODY)
    app[WEBHOOK_KEY] = webhook
    app.router.add_post("/validate", _endpoint("validate"))
    app.router.add_post("/mutate", _endpoint("mutate"))
    app.router.add_get("/healthz", _healthz)
    app.router.add_get("/metrics", _metrics)
    return app
