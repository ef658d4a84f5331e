"""In-memory TTL cache for immutable metadata, with single-flight misses.

Instance id, zone, region, machine type and the like never change during a
node's life, yet SDKs ask for them on every start. Serving them from memory is
what lets the proxy outrun a plain reverse proxy. Concurrent misses for the
same key share one upstream fetch (single-flight), so a burst of pods starting
together costs the metadata service one request, not hundreds.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass
from typing import Generic, TypeVar

ValueT = TypeVar("ValueT")


@dataclass(slots=True)
class _Entry(Generic[ValueT]):
    value: ValueT
    expires_at: float


class TtlCache(Generic[ValueT]):
    """A bounded mapping whose entries expire; counts hits and misses.

    `fetch_through` is the only way in: the caller says how to fetch a value and
    whether a fetched value may be kept (only successful answers should be).
    """

    def __init__(self, *, max_entries: int, clock: Callable[[], float] = time.monotonic) -> None:
        if max_entries < 1:
            raise ValueError(f"max_entries must be >= 1, got {max_entries}")
        self._max_entries = max_entries
        self._clock = clock
        self._entries: dict[Hashable, _Entry[ValueT]] = {}
        self._inflight: dict[Hashable, asyncio.Task[ValueT]] = {}
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._entries)

    def peek(self, key: Hashable) -> ValueT | None:
        """The live value for `key` without fetching, counting a hit when found."""
        entry = self._entries.get(key)
        if entry is None:
            return None
        if self._clock() >= entry.expires_at:
            del self._entries[key]
            return None
        self.hits += 1
        return entry.value

    async def fetch_through(
        self,
        key: Hashable,
        *,
        ttl: float,
        fetch: Callable[[], Awaitable[ValueT]],
        keep: Callable[[ValueT], bool],
    ) -> tuple[ValueT, bool]:
        """The cached value for `key`, or the fetched one; returns (value, was_hit).

        Waiters on an in-flight fetch count as hits: they did not reach upstream.
        A fetch that raises propagates to every waiter and caches nothing. The fetch
        runs in its own task: a caller that is cancelled (its client left) stops
        waiting, but the fetch goes on for the others waiting on it.
        """
        cached = self.peek(key)
        if cached is not None:
            return cached, True
        pending = self._inflight.get(key)
        if pending is not None:
            self.hits += 1
            return await asyncio.shield(pending), True
        self.misses += 1
        task = asyncio.create_task(self._fetch(key, ttl=ttl, fetch=fetch, keep=keep))
        task.add_done_callback(_retrieve)
        self._inflight[key] = task
        return await asyncio.shield(task), False

    async def _fetch(
        self,
        key: Hashable,
        *,
        ttl: float,
        fetch: Callable[[], Awaitable[ValueT]],
        keep: Callable[[ValueT], bool],
    ) -> ValueT:
        try:
            value = await fetch()
            if keep(value):
                self._store(key, value, ttl)
            return value
        finally:
            del self._inflight[key]

    def _store(self, key: Hashable, value: ValueT, ttl: float) -> None:
        if key not in self._entries and len(self._entries) >= self._max_entries:
            now = self._clock()
            for stale in [k for k, e in self._entries.items() if e.expires_at <= now]:
                del self._entries[stale]
            while len(self._entries) >= self._max_entries:
                del self._entries[next(iter(self._entries))]
        self._entries[key] = _Entry(value=value, expires_at=self._clock() + ttl)


def _retrieve(task: asyncio.Task[object]) -> None:
    """A fetch whose callers all left may fail unobserved: mark its error as seen."""
    if not task.cancelled():
        task.exception()


KeyT = TypeVar("KeyT", bound=Hashable)


class BoundedMemo(Generic[KeyT, ValueT]):
    """Results of a pure function, remembered for at most `max_entries` keys (oldest go first).

    The proxy remembers firewall verdicts per raw request: pods repeat the same
    few requests byte for byte, and the verdict is a pure function of them.
    """

    def __init__(self, *, max_entries: int) -> None:
        if max_entries < 1:
            raise ValueError(f"max_entries must be >= 1, got {max_entries}")
        self._max_entries = max_entries
        self._entries: dict[KeyT, ValueT] = {}

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: KeyT) -> ValueT | None:
        return self._entries.get(key)

    def put(self, key: KeyT, value: ValueT) -> None:
        if len(self._entries) >= self._max_entries:
            del self._entries[next(iter(self._entries))]
        self._entries[key] = value
