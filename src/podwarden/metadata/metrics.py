"""Prometheus metrics and the health endpoints of one proxy.

Each proxy owns its own CollectorRegistry (not the process-global one), so
tests and the lab can run several proxies in one process. The per-request
numbers are kept in plain ints and rendered by a collector at scrape time:
prometheus_client's Counter and Histogram take a lock and walk their buckets
on every update, which costs more than serving a cached answer.
prometheus_client and aiohttp's server are imported on first use (the first
scrape, the metrics listener): a proxy without them is ~3 MiB smaller.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from aiohttp import web

LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class CacheStats(Protocol):
    """What the metrics read from a cache: its own hit and miss counters."""

    hits: int
    misses: int


class ProxyMetrics:
    """Request counts by decision and rule, a latency histogram, upstream errors, cache hits."""

    def __init__(self, *, provider: str, cache: CacheStats) -> None:
        self.provider = provider
        self._cache = cache
        self._requests: dict[tuple[str, str], int] = {}
        self._upstream_errors: dict[str, int] = {}
        self._buckets = [0] * (len(LATENCY_BUCKETS) + 1)  # the last one is +Inf only
        self._latency_sum = 0.0
        self._registry: Any = None

    def observe(self, *, decision: str, rule: str, seconds: float) -> None:
        key = (decision, rule)
        self._requests[key] = self._requests.get(key, 0) + 1
        self._buckets[bisect.bisect_left(LATENCY_BUCKETS, seconds)] += 1
        self._latency_sum += seconds

    def upstream_error(self, kind: str) -> None:
        self._upstream_errors[kind] = self._upstream_errors.get(kind, 0) + 1

    def render(self) -> bytes:
        """This proxy's metrics, then the process-wide ones (identity, cluster view, process).

        Pod identity and the reflector count in prometheus_client's global registry;
        appending it here means one scrape of the proxy sees all of them.
        """
        from prometheus_client import REGISTRY, CollectorRegistry, generate_latest

        if self._registry is None:
            self._registry = CollectorRegistry(auto_describe=False)
            self._registry.register(self)  # type: ignore[arg-type]  # a Collector by shape
        return generate_latest(self._registry) + generate_latest(REGISTRY)

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily

        provider = self.provider
        requests = CounterMetricFamily(
            "podwarden_requests",
            "Metadata requests by decision and the rule that made it",
            labels=["provider", "decision", "rule"],
        )
        for (decision, rule), count in sorted(self._requests.items()):
            requests.add_metric([provider, decision, rule], count)
        yield requests
        cumulative, running = [], 0
        for bound, count in zip((*LATENCY_BUCKETS, float("inf")), self._buckets, strict=True):
            running += count
            cumulative.append((_bound_text(bound), running))
        latency = HistogramMetricFamily(
            "podwarden_request_duration_seconds",
            "Time from request to answer",
            labels=["provider"],
        )
        latency.add_metric([provider], cumulative, sum_value=self._latency_sum)
        yield latency
        errors = CounterMetricFamily(
            "podwarden_upstream_errors",
            "Upstream failures answered with 502",
            labels=["provider", "kind"],
        )
        for kind, count in sorted(self._upstream_errors.items()):
            errors.add_metric([provider, kind], count)
        yield errors
        for name, text, value in (
            ("podwarden_cache_hits", "Answers served from the metadata cache", self._cache.hits),
            ("podwarden_cache_misses", "Cacheable requests that went upstream", self._cache.misses),
        ):
            family = CounterMetricFamily(name, text, labels=["provider"])
            family.add_metric([provider], value)
            yield family


def _bound_text(bound: float) -> str:
    return "+Inf" if bound == float("inf") else repr(bound)


def build_app(metrics: ProxyMetrics, *, ready: Callable[[], bool]) -> web.Application:
    """/metrics, /healthz (the process answers) and /readyz (serving, not draining)."""
    from aiohttp import web

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


async def serve(
    metrics: ProxyMetrics, *, host: str, port: int, ready: Callable[[], bool]
) -> tuple[web.AppRunner, int]:
    """Start the metrics listener; returns its runner (to clean up) and bound port."""
    from aiohttp import web

    runner = web.AppRunner(build_app(metrics, ready=ready), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    for address in runner.addresses:
        return runner, int(address[1])
    raise RuntimeError("the metrics listener has no bound address")
