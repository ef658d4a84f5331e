"""The credential cache with a fake clock: single-flight, refresh-ahead, never stale, backoff."""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass

import pytest
from prometheus_client import REGISTRY

from podwarden.metadata.identity.cache import Backoff, CredentialCache, SourceError

MIN_VALID = 960.0
REFRESH_BEFORE = 1800.0
LIFETIME = 3600.0


@dataclass
class FakeClock:
    now: float = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@dataclass(frozen=True)
class Creds:
    serial: int
    expires: float


class FakeSource:
    """Counts calls; each call can be held open (gate) or made to fail."""

    def __init__(self, clock: FakeClock, *, lifetime: float = LIFETIME) -> None:
        self.clock = clock
        self.lifetime = lifetime
        self.calls: list[str] = []
        self.gate: asyncio.Event | None = None
        self.fail: SourceError | None = None

    async def fetch(self, key: str) -> Creds:
        self.calls.append(key)
        if self.gate is not None:
            await self.gate.wait()
        if self.fail is not None:
            raise self.fail
        return Creds(len(self.calls), self.clock.now + self.lifetime)


def make(
    clock: FakeClock, source: FakeSource, *, name: str = "unnamed"
) -> CredentialCache[str, Creds]:
    return CredentialCache(
        fetch=source.fetch,
        expiry=lambda c: c.expires,
        min_validity=MIN_VALID,
        refresh_before=REFRESH_BEFORE,
        clock=clock,
        backoff=Backoff(base=10.0, cap=60.0, floor=5.0),
        rng=random.Random(7),
        source=name,
    )


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


async def test_many_concurrent_requests_make_one_fetch(clock):
    source = FakeSource(clock)
    source.gate = asyncio.Event()
    cache = make(clock, source)
    waiting = [asyncio.create_task(cache.get("role-a")) for _ in range(200)]
    await asyncio.sleep(0)
    source.gate.set()
    results = await asyncio.gather(*waiting)
    assert source.calls == ["role-a"]
    assert {r.serial for r in results} == {1}


async def test_a_fresh_entry_is_served_without_fetching(clock):
    source = FakeSource(clock)
    cache = make(clock, source)
    first = await cache.get("k")
    clock.now += LIFETIME - REFRESH_BEFORE - 1  # just outside the refresh window
    assert await cache.get("k") == first
    await cache.idle()
    assert len(source.calls) == 1


async def test_a_hit_in_the_refresh_window_is_served_and_refreshed_in_the_background(clock):
    source = FakeSource(clock)
    cache = make(clock, source)
    first = await cache.get("k")
    clock.now += LIFETIME - REFRESH_BEFORE + 1
    source.gate = asyncio.Event()
    assert await cache.get("k") == first  # served at once, the refresh is pending
    await asyncio.sleep(0)
    assert len(source.calls) == 2
    assert await cache.get("k") == first  # still one refresh in flight
    assert len(source.calls) == 2
    source.gate.set()
    await cache.idle()
    assert (await cache.get("k")).serial == 2


async def test_credentials_with_min_validity_or_less_are_never_served(clock):
    source = FakeSource(clock)
    cache = make(clock, source)
    await cache.get("k")
    clock.now += LIFETIME - MIN_VALID  # exactly min_validity left
    assert cache.peek("k") is None
    fresh = await cache.get("k")  # waits for a new fetch instead
    assert fresh.serial == 2
    assert fresh.expires - clock.now > MIN_VALID


async def test_a_source_answer_that_is_too_short_lived_is_an_error(clock):
    source = FakeSource(clock, lifetime=MIN_VALID)
    cache = make(clock, source)
    with pytest.raises(SourceError) as caught:
        await cache.get("k")
    assert caught.value.code == "ShortLived"


async def test_after_a_failure_requests_fail_fast_until_the_backoff_ends(clock):
    source = FakeSource(clock)
    source.fail = SourceError("AccessDenied", "not allowed")
    cache = make(clock, source)
    for _ in range(5):
        with pytest.raises(SourceError) as caught:
            await cache.get("k")
        assert caught.value.code == "AccessDenied"
    assert len(source.calls) == 1  # the other four were answered from the backoff
    clock.now += 61  # past any delay the backoff can pick
    source.fail = None
    assert (await cache.get("k")).serial == 2


async def test_backoff_grows_with_each_failure(clock):
    source = FakeSource(clock)
    source.fail = SourceError("Throttling", "slow down")
    cache = make(clock, source)
    delays = []
    for _ in range(4):
        with pytest.raises(SourceError):
            await cache.get("k")
        failure = cache._failures["k"]
        delays.append(failure.retry_at - clock.now)
        clock.now = failure.retry_at
    assert all(5.0 <= d <= 60.0 for d in delays)
    assert [cache._failures["k"].attempts] == [4]


async def test_a_failed_refresh_keeps_serving_the_still_valid_entry(clock):
    source = FakeSource(clock)
    cache = make(clock, source)
    first = await cache.get("k")
    clock.now += LIFETIME - REFRESH_BEFORE + 10
    source.fail = SourceError("Throttling", "slow down")
    assert await cache.get("k") == first
    await cache.idle()
    assert await cache.get("k") == first  # refresh failed; entry still valid, no new call
    assert len(source.calls) == 2


async def test_prefetch_fills_the_cache_before_the_first_request(clock):
    source = FakeSource(clock)
    cache = make(clock, source)
    cache.prefetch("k")
    cache.prefetch("k")
    await cache.idle()
    assert len(source.calls) == 1
    assert cache.peek("k") is not None
    await cache.get("k")
    assert len(source.calls) == 1


async def test_refresh_due_refreshes_only_entries_in_the_window(clock):
    source = FakeSource(clock)
    cache = make(clock, source)
    await cache.get("old")
    clock.now += 2000
    await cache.get("new")
    assert cache.refresh_due() == 1
    await cache.idle()
    assert source.calls == ["old", "new", "old"]


async def test_retain_forgets_keys_no_pod_uses(clock):
    source = FakeSource(clock)
    cache = make(clock, source)
    await cache.get("a")
    await cache.get("b")
    cache.retain({"b"})
    assert cache.peek("a") is None
    assert cache.peek("b") is not None


async def test_keys_are_independent(clock):
    source = FakeSource(clock)
    cache = make(clock, source)
    a, b = await asyncio.gather(cache.get("a"), cache.get("b"))
    assert sorted(source.calls) == ["a", "b"]
    assert a != b


def test_refresh_window_must_be_larger_than_the_minimum_validity(clock):
    with pytest.raises(ValueError, match="refresh_before must exceed min_validity"):
        CredentialCache(
            fetch=FakeSource(clock).fetch,
            expiry=lambda c: c.expires,
            min_validity=100,
            refresh_before=100,
            clock=clock,
        )


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def test_fetches_are_measured_as_first_or_refresh_and_failures_by_code(clock):
    """What the alerts read: slow first credentials, and identity errors by code."""
    name = "unit-metrics"
    source = FakeSource(clock)
    cache = make(clock, source, name=name)
    await cache.get("k")
    first = "podwarden_identity_fetch_seconds_count"
    assert sample(first, source=name, kind="first") == 1
    assert sample(first, source=name, kind="refresh") == 0
    clock.now += LIFETIME - REFRESH_BEFORE + 1  # inside the refresh window
    await cache.get("k")
    await cache.idle()
    assert sample(first, source=name, kind="refresh") == 1
    assert sample(first, source=name, kind="first") == 1
    source.fail = SourceError("AccessDenied", "not allowed to assume")
    with pytest.raises(SourceError):
        await cache.get("other")
    errors = "podwarden_identity_fetch_errors_total"
    assert sample(errors, source=name, code="AccessDenied") == 1
    assert sample(first, source=name, kind="first") == 1  # a failure is not a duration
