"""Objects of any one resource, kept in step with the API server by the reflector.

`ClusterView` is shaped for pods and namespaces (indexes by IP and node); other
readers — the admission webhook's PodSecurityPolicy objects above all — need
only "every object of this collection, and tell me when that changes". This
store gives exactly that, fed by the same list-then-watch loop
(`reflector.events`: pagination, bookmarks, 410 → relist, backoff), so a
relist that finds objects gone is seen as deletions, as for the cluster view.

Objects are kept as the server sent them (raw dicts, keyed by
namespace/name); list items, which the server sends without `kind` and
`apiVersion`, get them from the resource. Subscribers are awaited after every
change, and once after a whole relist (not once per object).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any

from podwarden import logs
from podwarden.kube import client, reflector

_log = logs.get("kube.objectstore")
Subscriber = Callable[["ObjectStore"], Awaitable[None]]


def api_version_of(path: str) -> str:
    """The apiVersion a collection path serves: /api/v1/x → v1, /apis/g/v/x → g/v."""
    parts = [part for part in path.split("/") if part]
    if parts[:1] == ["api"] and len(parts) > 1:
        return parts[1]
    if parts[:1] == ["apis"] and len(parts) > 2:
        return f"{parts[1]}/{parts[2]}"
    raise ValueError(f"{path!r} is not a collection path (/api/v1/... or /apis/g/v/...)")


def _key(obj: Mapping[str, Any]) -> str:
    meta = obj.get("metadata")
    meta = meta if isinstance(meta, Mapping) else {}
    return f"{meta.get('namespace') or ''}/{meta.get('name') or ''}"


class ObjectStore:
    """Every object of one resource, by namespace/name; `synced` is set after the first list."""

    def __init__(self, resource: reflector.Resource) -> None:
        self.resource = resource
        self.api_version = api_version_of(resource.path)
        self._objects: dict[str, dict[str, Any]] = {}
        self._subscribers: list[Subscriber] = []
        self.synced = asyncio.Event()

    def objects(self) -> list[dict[str, Any]]:
        """The current objects, ordered by namespace/name."""
        return [self._objects[key] for key in sorted(self._objects)]

    def subscribe(self, callback: Subscriber) -> Callable[[], None]:
        """Await `callback(store)` after every change; returns a function that unsubscribes."""
        self._subscribers.append(callback)

        def unsubscribe() -> None:
            if callback in self._subscribers:
                self._subscribers.remove(callback)

        return unsubscribe

    def _typed(self, raw: Mapping[str, Any]) -> dict[str, Any]:
        obj = dict(raw)
        obj.setdefault("kind", self.resource.kind)
        obj.setdefault("apiVersion", self.api_version)
        return obj

    async def apply(self, raw: Mapping[str, Any]) -> None:
        """An ADDED or MODIFIED event."""
        self._objects[_key(raw)] = self._typed(raw)
        await self._notify()

    async def delete(self, raw: Mapping[str, Any]) -> None:
        """A DELETED event (an object we never saw is ignored)."""
        if self._objects.pop(_key(raw), None) is not None:
            await self._notify()

    async def replace(self, items: Iterable[Mapping[str, Any]]) -> None:
        """Hold exactly `items` (after a list or relist); one notification if anything changed."""
        fresh = {_key(item): self._typed(item) for item in items}
        if fresh != self._objects:
            self._objects = fresh
            await self._notify()

    async def _notify(self) -> None:
        for callback in list(self._subscribers):
            try:
                await callback(self)
            except Exception as exc:  # a subscriber's bug must not stop the store
                _log.error("subscriber failed", error=repr(exc), resource=self.resource.path)


async def follow(
    store: ObjectStore, *, api: client.Api, backoff: reflector.Backoff | None = None
) -> None:
    """Keep `store` in step with the API server until cancelled."""
    async for kind, payload in reflector.events(api, store.resource, backoff=backoff):
        if kind == "SYNC":
            await store.replace(payload)
            store.synced.set()
        elif kind == "DELETED":
            await store.delete(payload)
        elif kind in ("ADDED", "MODIFIED"):
            await store.apply(payload)


def run(
    store: ObjectStore, *, api: client.Api, backoff: reflector.Backoff | None = None
) -> asyncio.Task[None]:
    """Start `follow` as a task (cancel it to stop)."""
    return asyncio.create_task(
        follow(store, api=api, backoff=backoff), name=f"kube-objects:{store.resource.path}"
    )
