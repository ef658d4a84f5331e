"""Short-lived credentials per key: refreshed ahead of expiry, fetched once, backed off.

Why hand-written: the behaviour is the whole point and no library has it in
this combination —

- single-flight: however many requests need a key at once, one fetch runs
  and all of them await it (a burst of pods never becomes a burst of STS calls);
- refresh-ahead: a hit inside the refresh window starts a background fetch and
  is served from the still-valid entry, so clients never wait on a refresh;
- never stale: an entry with `min_validity` or less left is never served;
- backoff with full jitter after a failure: until `retry_at`, requests for
  that key get the last error at once instead of hammering the source;
- time is injected (`clock`, wall-clock seconds, because expirations are wall
  times), so unit tests drive every case with a fake clock and no sleeps.

Every fetch is measured for the alerts (identity errors, slow first
credentials): its duration by `source` and whether the key had credentials
before (`first`: a pod waits on it; `refresh`: nobody does), and each failure
by the error's code (AccessDenied, RegionDisabled, SourceFailed...).
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable, Hashable, Iterable
from dataclasses import dataclass
from typing import Generic, TypeVar

from prometheus_client import Counter, Histogram

from podwarden import logs

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

_log = logs.get("metadata.identity.cache")

FETCH_SECONDS = Histogram(
    "podwarden_identity_fetch_seconds",
    "Time to fetch credentials from the source (STS, IAM Credentials): `first` for a key"
    " without credentials yet (a pod may be waiting), `refresh` ahead of expiry",
    ["source", "kind"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30),
)
FETCH_ERRORS = Counter(
    "podwarden_identity_fetch_errors_total",
    "Credential fetches that failed, by source and error code",
    ["source", "code"],
)


class SourceError(Exception):
    """A credential source failed; `code` is short and safe to show to the pod.

    `message` is the source's own words, for the log and the pod's Event only: STS
    names the node's principal in it. `refused` is True when the source said no
    (AccessDenied and the like), False when it could not be asked or answer.
    """

    def __init__(self, code: str, message: str, *, refused: bool = False) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.refused = refused


@dataclass(frozen=True, slots=True)
class Backoff:
    """Full jitter: wait uniform(floor, min(cap, base * 2**attempt)) seconds."""

    base: float = 1.0
    cap: float = 60.0
    floor: float = 0.5

    def delay(self, attempt: int, rng: random.Random | None = None) -> float:
        ceiling = min(self.cap, self.base * (2 ** min(attempt, 20)))
        return max(self.floor, (rng or random).uniform(0, ceiling))


@dataclass(slots=True)
class _Entry(Generic[V]):
    value: V
    expires: float


@dataclass(slots=True)
class _Failure:
    error: SourceError
    attempts: int
    retry_at: float


class CredentialCache(Generic[K, V]):
    """Credentials by key; `fetch(key)` is the source, `expiry(value)` its wall-clock end."""

    def __init__(
        self,
        *,
        fetch: Callable[[K], Awaitable[V]],
        expiry: Callable[[V], float],
        min_validity: float,
        refresh_before: float,
        clock: Callable[[], float],
        backoff: Backoff | None = None,
        rng: random.Random | None = None,
        source: str = "unnamed",
    ) -> None:
        if refresh_before <= min_validity:
            raise ValueError("refresh_before must exceed min_validity, or refreshes come too late")
        self._fetch = fetch
        self._expiry = expiry
        self._min_validity = min_validity
        self._refresh_before = refresh_before
        self._clock = clock
        self._backoff = backoff or Backoff()
        self._rng = rng
        self._source = source
        self._entries: dict[K, _Entry[V]] = {}
        self._inflight: dict[K, asyncio.Task[V]] = {}
        self._failures: dict[K, _Failure] = {}
        self.fetches = 0  # calls made to the source (for tests and the benchmark)

    def __len__(self) -> int:
        return len(self._entries)

    def peek(self, key: K) -> V | None:
        """The entry if it may be served right now (no fetch, no refresh)."""
        entry = self._entries.get(key)
        if entry is None or entry.expires - self._clock() <= self._min_validity:
            return None
        return entry.value

    async def get(self, key: K) -> V:
        """Servable credentials for `key`; raises SourceError when none can be had."""
        now = self._clock()
        entry = self._entries.get(key)
        if entry is not None and entry.expires - now > self._min_validity:
            if entry.expires - now <= self._refresh_before:
                self._background(key, now)
            return entry.value
        failure = self._failures.get(key)
        if failure is not None and now < failure.retry_at and key not in self._inflight:
            raise failure.error
        return await asyncio.shield(self._start(key))

    def prefetch(self, key: K) -> None:
        """Start fetching `key` unless it is fresh, in flight or backing off (never raises)."""
        now = self._clock()
        entry = self._entries.get(key)
        if entry is not None and entry.expires - now > self._refresh_before:
            return
        self._background(key, now)

    def refresh_due(self, keys: Iterable[K] | None = None) -> int:
        """Start refreshes for entries (of `keys`, or all) inside the refresh window."""
        now = self._clock()
        started = 0
        for key in list(self._entries) if keys is None else keys:
            entry = self._entries.get(key)
            if entry is not None and entry.expires - now <= self._refresh_before:
                started += self._background(key, now)
        return started

    def retain(self, keys: Iterable[K]) -> None:
        """Forget every entry and failure not in `keys` (no live pod uses them any more)."""
        keep = set(keys)
        for table in (self._entries, self._failures):
            for key in [k for k in table if k not in keep]:
                del table[key]

    async def idle(self) -> None:
        """Wait until no fetch is in flight (tests and shutdown)."""
        while self._inflight:
            await asyncio.gather(*self._inflight.values(), return_exceptions=True)

    async def close(self) -> None:
        for task in self._inflight.values():
            task.cancel()
        await asyncio.gather(*self._inflight.values(), return_exceptions=True)

    def _background(self, key: K, now: float) -> int:
        failure = self._failures.get(key)
        if key in self._inflight or (failure is not None and now < failure.retry_at):
            return 0
        self._start(key)
        return 1

    def _start(self, key: K) -> asyncio.Task[V]:
        task = self._inflight.get(key)
        if task is None:
            task = asyncio.create_task(self._run(key))
            task.add_done_callback(_retrieve)
            self._inflight[key] = task
        return task

    async def _run(self, key: K) -> V:
        self.fetches += 1
        kind = "refresh" if key in self._entries else "first"
        started = time.monotonic()
        try:
            value = await self._fetch(key)
            left = self._expiry(value) - self._clock()
            if left <= self._min_validity:
                raise SourceError(
                    "ShortLived",
                    f"the source returned credentials with only {left:.0f}s left",
                )
        except Exception as exc:
            error = (
                exc
                if isinstance(exc, SourceError)
                else SourceError("SourceFailed", f"{type(exc).__name__}: {exc}")
            )
            FETCH_ERRORS.labels(self._source, error.code).inc()
            previous = self._failures.get(key)
            attempts = previous.attempts + 1 if previous is not None else 1
            delay = self._backoff.delay(attempts - 1, self._rng)
            self._failures[key] = _Failure(error, attempts, self._clock() + delay)
            _log.warning("credential fetch failed", error=str(error), retry_in=round(delay, 3))
            raise error from None
        else:
            FETCH_SECONDS.labels(self._source, kind).observe(time.monotonic() - started)
            self._entries[key] = _Entry(value, self._expiry(value))
            self._failures.pop(key, None)
            return value
        finally:
            self._inflight.pop(key, None)


def _retrieve(task: asyncio.Task[object]) -> None:
    """Background fetches may fail unobserved; their error is recorded, not lost."""
    if not task.cancelled():
        task.exception()
