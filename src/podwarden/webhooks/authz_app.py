"""`podwarden nodeauth serve`: /authorize, /admit, /metrics, /healthz and /readyz over aiohttp.

- POST /authorize: a SubjectAccessReview (authorization.k8s.io/v1 or v1beta1) as
  kube-apiserver's authorization webhook sends it; the answer echoes the review in
  its version with `status.allowed` / `status.denied` / `status.reason`.
- POST /admit: an AdmissionReview for NodeRestriction (validating webhook).

Three outcomes, kept apart as in the admission webhook: a body that is not a review
is the caller's mistake (HTTP 400 with the reason, so a misconfigured API server
shows it in its log); a decision the engine could not make never allows — /authorize
answers `denied: true` with an evaluationError, /admit refuses with code 500; all
else is the engine's answer. Before the first full list of the cluster every review
is refused the same way (a graph that is still filling would say "no relationship"
for objects it has not seen yet) and /readyz says why.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
)

from podwarden import logs
from podwarden.api import admission, authorization
from podwarden.nodeauth import restriction
from podwarden.nodeauth.engine import Engine
from podwarden.webhooks import app, failures
from podwarden.webhooks.authz_view import NodeAuthView

_log = logs.get("webhooks.nodeauth")
MAX_BODY = 3 * 1024 * 1024


@dataclass
class Metrics:
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        self.decisions = Counter(
            "podwarden_nodeauth_decisions", "Reviews answered", ["endpoint", "outcome"],
            registry=self.registry,
        )  # fmt: skip
        self.errors = Counter(
            "podwarden_nodeauth_internal_errors",
            "Reviews refused because no decision could be made",
            ["endpoint"],
            registry=self.registry,
        )
        self.malformed = Counter(
            "podwarden_nodeauth_malformed_reviews", "Bodies refused with 400", ["endpoint"],
            registry=self.registry,
        )  # fmt: skip
        self.latency = Histogram(
            "podwarden_nodeauth_seconds",
            "Time to judge one review",
            ["endpoint"],
            buckets=(0.0001, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.05),
            registry=self.registry,
        )
        self.graph = Gauge(
            "podwarden_nodeauth_graph_objects", "Objects in the node graph", ["kind"],
            registry=self.registry,
        )  # fmt: skip


class NodeAuthServer:
    """Everything a request needs."""

    def __init__(
        self, *, view: NodeAuthView, engine: Engine, metrics: Metrics | None = None
    ) -> None:
        self.view = view
        self.engine = engine
        self.metrics = metrics or Metrics()
        self.draining = False

    def not_ready(self) -> str:
        if self.draining:
            return "draining"
        if not self.view.synced.is_set():
            return "cluster not listed yet"
        return ""

    def authorize(self, body: bytes) -> dict[str, Any]:
        data = authorization.decode(body)
        review = authorization.parse_review(data)  # MalformedReview -> 400
        spec = data["spec"]
        started = time.perf_counter()
        reason = self.not_ready()
        try:
            if reason:
                raise RuntimeError(reason)
            decision = self.engine.authorize(authorization.attributes_of(review))
        except Exception as exc:  # never allow on an internal error
            if not reason:
                _log.exception("authorization failed; denying")
            self.metrics.errors.labels("authorize").inc()
            return authorization.review_response(
                review.api_version, spec, allowed=False, denied=True,
                reason="podwarden nodeauth could not decide",
                evaluation_error=failures.describe(exc, operation="the authorization decision"),
            )  # fmt: skip
        self.metrics.decisions.labels("authorize", decision.outcome).inc()
        self.metrics.latency.labels("authorize").observe(time.perf_counter() - started)
        if decision.outcome == "deny":
            _log.debug("denied", user=review.spec.user, reason=decision.reason)
        return authorization.review_response(
            review.api_version,
            spec,
            allowed=decision.allowed,
            denied=decision.outcome == "deny",
            reason=decision.reason,
        )

    def admit(self, body: bytes) -> dict[str, Any]:
        review = admission.parse_review(body)
        request = review.request
        started = time.perf_counter()
        reason = self.not_ready()
        try:
            if reason:
                raise RuntimeError(reason)
            verdict = restriction.admit(
                restriction.Request(
                    user=request.user_info.username,
                    groups=tuple(request.user_info.groups),
                    operation=request.operation,
                    group=request.resource.group,
                    resource=request.resource.resource,
                    subresource=request.sub_resource,
                    namespace=request.namespace,
                    name=request.name,
                    obj=request.object,
                    old=request.old_object,
                ),
                self.view.state,
                self.engine.rules,
            )
        except Exception as exc:
            if not reason:
                _log.exception("admission failed; refusing", uid=request.uid)
            self.metrics.errors.labels("admit").inc()
            verdict = restriction.Verdict(
                False,
                500,
                "InternalError",
                "podwarden nodeauth could not decide: "
                + failures.describe(exc, operation="the NodeRestriction admission"),
            )
        outcome = "allow" if verdict.allowed else "deny"
        self.metrics.decisions.labels("admit", outcome).inc()
        self.metrics.latency.labels("admit").observe(time.perf_counter() - started)
        if not verdict.allowed:
            _log.debug("refused", user=request.user_info.username, message=verdict.message)
        return admission.review_response(
            review.api_version,
            request.uid,
            allowed=verdict.allowed,
            code=verdict.code,
            message=verdict.message,
            reason=verdict.reason,
        )


SERVER_KEY: web.AppKey[NodeAuthServer] = web.AppKey("nodeauth", NodeAuthServer)


def _bad_request(endpoint: str, server: NodeAuthServer, message: str) -> web.Response:
    server.metrics.malformed.labels(endpoint).inc()
    kind = "SubjectAccessReview" if endpoint == "authorize" else "AdmissionReview"
    return app.bad_request(message, kind=kind)


def _endpoint(name: str) -> Any:
    async def handle(request: web.Request) -> web.Response:
        server = request.app[SERVER_KEY]
        try:
            body = await request.read()
        except web.HTTPRequestEntityTooLarge:
            return _bad_request(name, server, f"the body exceeds {MAX_BODY} bytes")
        try:
            answer = server.authorize(body) if name == "authorize" else server.admit(body)
        except (authorization.MalformedReview, admission.MalformedReview) as exc:
            return _bad_request(name, server, str(exc))
        return web.Response(
            body=json.dumps(answer, separators=(",", ":")).encode(), content_type="application/json"
        )

    return handle


async def _healthz(request: web.Request) -> web.Response:
    return web.Response(text="ok\n")


async def _readyz(request: web.Request) -> web.Response:
    reason = request.app[SERVER_KEY].not_ready()
    if reason:
        return web.Response(status=503, text=f"{reason}\n")
    return web.Response(text="ok\n")


async def _metrics(request: web.Request) -> web.Response:
    server = request.app[SERVER_KEY]
    for kind, count in server.view.state.graph.counts().items():
        server.metrics.graph.labels(kind).set(count)
    return app.metrics_response(server.metrics.registry)


def build(server: NodeAuthServer) -> web.Application:
    application = web.Application(client_max_size=MAX_BODY)
    application[SERVER_KEY] = server
    application.router.add_post("/authorize", _endpoint("authorize"))
    application.router.add_post("/admit", _endpoint("admit"))
    application.router.add_get("/healthz", _healthz)
    application.router.add_get("/readyz", _readyz)
    application.router.add_get("/metrics", _metrics)
    return application
