"""Prometheus metrics and the health endpoints of one proxy.

Each proxy owns its own CollectorRegistry (not the process-global one), so
tests and the lab can run several proxies in one process. Labelled children
are cached because `.labels()` costs more than the request it counts.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily
from prometheus_client.registry import Collector

_LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class CacheStats(Protocol):
    """What the metrics read from a cache: its own hit and miss counters."""

    hits: int
    misses: int


class _CacheCollector(Collector):
    """Reads the cache's own counters at scrape time (no double bookkeeping)."""

    def __init__(self, provider: str, cache: CacheStats) -> None:
        self._provider = provider
        self._cache = cache

    def collect(self) -> list[CounterMetricFamily]:  # type: ignore[override]
        hits = CounterMetricFamily(
            "podwarden_cache_hits", "Answers served from the metadata cache", labels=["provider"]
        )
        hits.add_metric([self._provider], self._cache.hits)
        misses = CounterMetricFamily(
            "podwarden_cache_misses", "Cacheable requests that went upstream", labels=["provider"]
        )
        misses.add_metric([self._provider], self._cache.misses)
        return [hits, misses]


class ProxyMetrics:
    """The counters and histograms one proxy updates per request."""

    def __init__(self, *, provider: str, cache: CacheStats) -> None:
        self.provider = provider
        self.registry = CollectorRegistry(auto_describe=True)
        self._requests = Counter(
            "podwarden_requests",
            "Metadata requests by decision and the rule that made it",
            ["provider", "decision", "rule"],
            registry=self.registry,
        )
        self._latency = Histogram(
            "podwarden_request_duration_seconds",
            "Time from request to answer",
            ["provider"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        ).labels(provider)
        self._upstream_errors = Counter(
            "podwarden_upstream_errors",
            "Upstream failures answered with 502",
            ["provider", "kind"],
            registry=self.registry,
        )
        self.registry.register(_CacheCollector(provider, cache))
        self._children: dict[tuple[str, str], Counter] = {}

    def observe(self, *, decision: str, rule: str, seconds: float) -> None:
        key = (decision, rule)
        child = self._children.get(key)
        if child is None:
            child = self._requests.labels(self.provider, decision, rule)
            self._children[key] = child
        child.inc()
        self._latency.observe(seconds)

    def upstream_error(self, kind: str) -> None:
        self._upstream_errors.labels(self.provider, kind).inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)


def build_app(metrics: ProxyMetrics, *, ready: Callable[[], bool]) -> web.Application:
    """/metrics, /healthz (the process answers) and /readyz (serving, not draining)."""

    async def metrics_handler(_: web.Request) -> web.Response:
        return web.Response(body=metrics.render(), content_type="text/plain", charset="utf-8")

    async def healthz(_: web.Request) -> web.Response:
        return web.Response(text="ok\n")

    async def readyz(_: web.Request) -> web.Response:
        if ready():
            return web.Response(text="ready\n")
        return web.Response(status=503, text="not ready (starting or draining)\n")

    app = web.Application()
    app.router.add_get("/metrics", metrics_handler)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    return app
