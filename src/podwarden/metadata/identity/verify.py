"""Before credentials are served, confirm the view's answer with a consistent read of the API.

Why: the view follows a watch, and a watch can lag more than a whole
delete-and-recreate cycle. Then an address the view still gives to an old pod
already belongs to a new one, and a watch-only design serves the old pod's
credentials to the new pod (kube2iam's and kiam's bug class). So, when an API is
available, `Verifier.check(address, pod)` asks it which live pods on this node
hold the address, and:

- exactly one live pod, with the uid the view resolved → serve that pod;
- exactly one live pod, another uid → the view is behind: wait (bounded, the
  `--address-wait`) until the view shows that pod on the address, and serve it
  (its assignment comes from the view, which by then has it); else nothing;
- none, or several → nothing;
- the API fails or is slow → nothing (fail closed), counted and logged.

Reads are single-flight per address, with one rule that keeps them sound: a
request is answered only by a read that STARTED AFTER the request arrived (a
read that began earlier may predate the address changing hands). Concurrent
requests share the next read. Reads of one address are paced by a token
bucket (a burst of BURST reads, then one per `interval`): an SDK's usual
sequence (role listing, then credentials) never waits, while a pod polling its
credentials in a loop costs the API server at most 1/`interval` reads a second,
without any older answer ever being reused. A store Change touching the
address refills its bucket, so a request after a view change never waits.

Why not a positive cache (reuse a verification for ~1 s): with a lagging watch
no view change arrives to invalidate it, so a new pod reusing the address
within that second gets the old pod's credentials — the bug this module
exists to close. And why the interval is short (0.25 s by default): past the
burst a request may wait up to one interval for its read, and SDKs give the
metadata service about 1 s (botocore's default timeout) before they give up.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Literal

from prometheus_client import Counter

from podwarden import logs
from podwarden.kube import store
from podwarden.kube.objects import Pod

Outcome = Literal["verified", "mismatch", "api_error"]
PodLookup = Callable[[str], Awaitable[list[Pod]]]
Clock = Callable[[], float]

VERIFICATIONS = Counter(
    "podwarden_identity_verifications_total",
    "Consistent reads before serving credentials, by outcome",
    ["outcome"],
)
MAX_IDLE_SLOTS = 4096
BURST = 3.0  # reads of one address allowed back to back before the interval paces them
_log = logs.get("metadata.identity.verify")


@dataclass
class _Slot:
    """One address's reads: the one running, the one that starts next, and its read budget."""

    running: asyncio.Future[list[Pod]] | None = None
    queued: asyncio.Future[list[Pod]] | None = None
    tokens: float = BURST
    refilled: float = float("-inf")
    changed: list[asyncio.Future[None]] = field(default_factory=list)


class Verifier:
    """Consistent-read confirmation of "this address is this pod", for credential answers."""

    def __init__(
        self,
        view: store.ClusterView,
        *,
        lookup: PodLookup,
        wait: float,
        interval: float = 0.25,
        timeout: float = 2.0,
        clock: Clock = time.monotonic,
    ) -> None:
        self._view = view
        self._lookup = lookup
        self._wait = wait
        self._interval = interval
        self._timeout = timeout
        self._clock = clock
        self._slots: dict[str, _Slot] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self.outcomes: dict[Outcome, int] = {"verified": 0, "mismatch": 0, "api_error": 0}
        self.reads = 0
        self._unsubscribe = view.subscribe(self._changed)

    async def check(self, address: str, pod: Pod) -> Pod | None:
        """The pod to serve on `address` (the view resolved `pod`), or None to refuse."""
        try:
            found = await self._fresh_read(address)
        except Exception as exc:  # any failure to know is a refusal, never a crash
            self._count("api_error")
            _log.warning(
                "consistent read failed; credentials refused",
                address=address,
                pod=pod.key,
                error=repr(exc),
            )
            return None
        live = [p for p in found if p.owns_its_ips and address in p.ips]
        if len(live) == 1 and pod.uid and live[0].uid == pod.uid:
            self._count("verified")
            return pod
        self._count("mismatch")
        if len(live) != 1:
            _log.warning(
                "the API does not show exactly one live pod on the address; credentials refused",
                address=address,
                view_pod=pod.key,
                api_pods=[p.key for p in live],
            )
            return None
        caught = await self._caught_up(address, live[0].uid)
        _log.warning(
            "the view was behind the API on this address",
            address=address,
            view_pod=pod.key,
            api_pod=live[0].key,
            caught_up=caught is not None,
        )
        return caught

    def close(self) -> None:
        self._unsubscribe()
        for task in list(self._tasks):
            task.cancel()

    # ---- reads ---------------------------------------------------------------------

    async def _fresh_read(self, address: str) -> list[Pod]:
        """The result of a read of `address` that starts now or later (shared)."""
        slot = self._slots.get(address)
        if slot is None:
            if len(self._slots) >= MAX_IDLE_SLOTS:
                self._prune()
            slot = self._slots[address] = _Slot()
        if slot.queued is None:
            future: asyncio.Future[list[Pod]] = asyncio.get_running_loop().create_future()
            future.add_done_callback(_retrieve)
            slot.queued = future
            task = asyncio.create_task(self._run(slot, future, address))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return await asyncio.shield(slot.queued)

    async def _run(self, slot: _Slot, future: asyncio.Future[list[Pod]], address: str) -> None:
        try:
            if slot.running is not None:  # one read of an address at a time
                await asyncio.wait({slot.running})
            await self._throttle(slot)
            slot.queued = None  # from now on, arrivals need the next read
            slot.running = future
            self.reads += 1
            result = await asyncio.wait_for(self._lookup(address), self._timeout)
        except asyncio.CancelledError:
            if not future.done():
                future.cancel()
            raise
        except Exception as exc:
            if not future.done():
                future.set_exception(exc)
        else:
            if not future.done():
                future.set_result(result)
        finally:
            if slot.queued is future:
                slot.queued = None
            if slot.running is future:
                slot.running = None

    def _refill(self, slot: _Slot) -> None:
        now = self._clock()
        if self._interval <= 0:
            slot.tokens = BURST
        elif slot.refilled > float("-inf"):
            slot.tokens = min(BURST, slot.tokens + (now - slot.refilled) / self._interval)
        slot.refilled = now

    async def _throttle(self, slot: _Slot) -> None:
        """Take one read from the address's budget, waiting for it (or for a view change)."""
        while True:
            self._refill(slot)
            if slot.tokens >= 1:
                slot.tokens -= 1
                return
            changed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            slot.changed.append(changed)
            try:
                await asyncio.wait({changed}, timeout=(1 - slot.tokens) * self._interval)
            finally:
                if changed in slot.changed:
                    slot.changed.remove(changed)

    def _prune(self) -> None:
        for address, slot in list(self._slots.items()):
            self._refill(slot)
            idle = slot.running is None and slot.queued is None and not slot.changed
            if idle and slot.tokens >= BURST:
                del self._slots[address]

    # ---- the view catching up --------------------------------------------------------

    async def _caught_up(self, address: str, uid: str) -> Pod | None:
        """The view's pod on `address` once it is exactly the pod `uid`, waiting ≤ `wait`."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._wait
        while True:
            lookup = self._view.pod_by_ip(address)
            if lookup.kind == "one" and lookup.pod is not None and lookup.pod.uid == uid:
                return lookup.pod
            remaining = deadline - loop.time()
            if remaining <= 0:
                return None
            slot = self._slots.setdefault(address, _Slot())
            changed: asyncio.Future[None] = loop.create_future()
            slot.changed.append(changed)
            try:
                await asyncio.wait({changed}, timeout=remaining)
            finally:
                if changed in slot.changed:
                    slot.changed.remove(changed)

    async def _changed(self, change: store.Change) -> None:
        """A view change on an address: wake its waiters and refill its read budget."""
        touched: set[str] = set()
        for obj in (change.new, change.old):
            if isinstance(obj, Pod):
                touched.update(obj.ips)
        for address in touched:
            slot = self._slots.get(address)
            if slot is None:
                continue
            slot.tokens = BURST
            for waiter in slot.changed:
                if not waiter.done():
                    waiter.set_result(None)

    def _count(self, outcome: Outcome) -> None:
        self.outcomes[outcome] += 1
        VERIFICATIONS.labels(outcome).inc()


def _retrieve(future: asyncio.Future[list[Pod]]) -> None:
    """Mark a shared read's error as seen even when every requester has gone away."""
    if not future.cancelled():
        future.exception()
