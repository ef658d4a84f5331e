"""The metadata cache: TTL expiry, bounds, and single-flight misses."""

from __future__ import annotations

import asyncio

import pytest

from podwarden.metadata.cache import TtlCache


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def keep_all(_: object) -> bool:
    return True


async def test_second_request_is_a_hit_until_the_ttl_runs_out():
    clock = Clock()
    cache: TtlCache[str] = TtlCache(max_entries=10, clock=clock)
    calls = 0

    async def fetch() -> str:
        nonlocal calls
        calls += 1
        return f"v{calls}"

    assert await cache.fetch_through("k", ttl=60, fetch=fetch, keep=keep_all) == ("v1", False)
    clock.now += 59
    assert await cache.fetch_through("k", ttl=60, fetch=fetch, keep=keep_all) == ("v1", True)
    clock.now += 1
    assert await cache.fetch_through("k", ttl=60, fetch=fetch, keep=keep_all) == ("v2", False)
    assert (cache.hits, cache.misses, calls) == (1, 2, 2)


async def test_values_refused_by_keep_are_not_stored():
    cache: TtlCache[int] = TtlCache(max_entries=10)
    calls = 0

    async def fetch() -> int:
        nonlocal calls
        calls += 1
        return 404

    for _ in range(3):
        await cache.fetch_through("k", ttl=60, fetch=fetch, keep=lambda status: status == 200)
    assert calls == 3
    assert len(cache) == 0


async def test_concurrent_misses_share_one_fetch():
    cache: TtlCache[str] = TtlCache(max_entries=10)
    release = asyncio.Event()
    calls = 0

    async def fetch() -> str:
        nonlocal calls
        calls += 1
        await release.wait()
        return "value"

    tasks = [
        asyncio.create_task(cache.fetch_through("k", ttl=60, fetch=fetch, keep=keep_all))
        for _ in range(50)
    ]
    await asyncio.sleep(0.01)
    release.set()
    results = await asyncio.gather(*tasks)
    assert calls == 1
    assert all(value == "value" for value, _ in results)
    assert sum(1 for _, hit in results if not hit) == 1
    assert (cache.hits, cache.misses) == (49, 1)


async def test_a_failed_fetch_reaches_every_waiter_and_caches_nothing():
    cache: TtlCache[str] = TtlCache(max_entries=10)
    release = asyncio.Event()

    async def fetch() -> str:
        await release.wait()
        raise RuntimeError("upstream down")

    tasks = [
        asyncio.create_task(cache.fetch_through("k", ttl=60, fetch=fetch, keep=keep_all))
        for _ in range(5)
    ]
    await asyncio.sleep(0.01)
    release.set()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    assert all(isinstance(r, RuntimeError) for r in results)
    assert len(cache) == 0


async def test_size_is_bounded_oldest_first():
    cache: TtlCache[str] = TtlCache(max_entries=3)

    for key in "abcd":

        async def fetch(key: str = key) -> str:
            return key

        await cache.fetch_through(key, ttl=60, fetch=fetch, keep=keep_all)
    assert len(cache) == 3
    assert cache.peek("a") is None
    assert cache.peek("d") == "d"


def test_bad_bound_is_refused():
    with pytest.raises(ValueError, match="max_entries must be >= 1"):
        TtlCache(max_entries=0)


def test_memo_is_bounded_oldest_first():
    from podwarden.metadata.cache import BoundedMemo

    memo: BoundedMemo[str, int] = BoundedMemo(max_entries=2)
    memo.put("a", 1)
    memo.put("b", 2)
    memo.put("c", 3)
    assert (memo.get("a"), memo.get("b"), memo.get("c"), len(memo)) == (None, 2, 3, 2)
