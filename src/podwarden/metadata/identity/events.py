"""A Kubernetes Event on the pod when it is refused an identity (reason and why).

Events are created through the API with lightkube (the cluster view's own
configuration) when one is available; without an API (a cluster file) they
are only logged. Each (pod, reason, message) is reported at most once per
`interval`, so a pod retrying in a loop cannot flood the API server, and
sending happens in the background: a slow API never delays a pod's answer.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Protocol

from podwarden import logs
from podwarden.kube.objects import Pod

COMPONENT = "podwarden-proxy"
MAX_REMEMBERED = 10_000
_log = logs.get("metadata.identity.events")


class EventSink(Protocol):
    """Creates one Event; raises on failure (the recorder logs it)."""

    async def create(self, pod: Pod, *, reason: str, message: str) -> None: ...


class LightkubeSink:
    """Events through a lightkube client (from `kube.client.Api.lightkube()`)."""

    def __init__(self, client: object, *, node: str = "") -> None:
        self._client = client
        self._node = node

    async def create(self, pod: Pod, *, reason: str, message: str) -> None:
        from lightkube.models.core_v1 import EventSource, ObjectReference
        from lightkube.models.meta_v1 import ObjectMeta
        from lightkube.resources.core_v1 import Event

        now = datetime.now(UTC)
        event = Event(
            metadata=ObjectMeta(generateName=f"{pod.name}.", namespace=pod.namespace),
            involvedObject=ObjectReference(
                apiVersion="v1",
                kind="Pod",
                name=pod.name,
                namespace=pod.namespace,
                uid=pod.uid or None,
            ),
            reason=reason,
            message=message[:1024],
            type="Warning",
            source=EventSource(component=COMPONENT, host=self._node or None),
            firstTimestamp=now,
            lastTimestamp=now,
            count=1,
            reportingComponent=COMPONENT,
            reportingInstance=self._node or COMPONENT,
        )
        await self._client.create(event)  # type: ignore[attr-defined]


class Recorder:
    """Reports refusals: logs every one, sends an Event per (pod, reason, message) per interval."""

    def __init__(
        self, sink: EventSink | None, *, interval: float, clock: Callable[[], float]
    ) -> None:
        self._sink = sink
        self._interval = interval
        self._clock = clock
        self._last: dict[tuple[str, str, str], float] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self.sent = 0

    def refused(self, pod: Pod, *, reason: str, message: str) -> None:
        """Record a refusal; never raises and never waits."""
        key = (pod.uid or pod.key, reason, message)
        now = self._clock()
        last = self._last.get(key)
        if last is not None and now - last < self._interval:
            return
        if len(self._last) >= MAX_REMEMBERED:
            self._last.clear()
        self._last[key] = now
        _log.warning("identity refused", pod=pod.key, reason=reason, message=message)
        if self._sink is None:
            return
        task = asyncio.create_task(self._send(pod, reason, message))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _send(self, pod: Pod, reason: str, message: str) -> None:
        assert self._sink is not None
        try:
            await self._sink.create(pod, reason=reason, message=message)
            self.sent += 1
        except Exception as exc:  # an Event is a courtesy; its failure changes no decision
            _log.warning("event not created", pod=pod.key, error=repr(exc))

    async def flush(self) -> None:
        """Wait for Events being sent (tests and shutdown)."""
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
