"""The reflector: list, then watch from the list's resourceVersion, forever.

The loop is three small nested async generators (kopf's shape), each with one
job:

- `_watch_once` — one watch connection: yields events, turns a 410 (as an
  ERROR event or an HTTP status) into `Expired`;
- `_list_then_watch` — lists (paginated) and yields a SYNC with every item,
  then chains watches from the last seen resourceVersion (bookmarks advance
  it), relisting on `Expired` and reconnecting with jittered exponential
  backoff when the server is unreachable;
- `follow` — applies what it gets to the `ClusterView`.

The agent watches only its node's pods (`spec.nodeName=<node>`) and all
namespaces, so memory follows the node's size, not the cluster's (the kiam
fault). The admission webhook reads only namespace labels, so it watches
namespaces alone (`namespaces_only=True`): a pod watch over a whole cluster
would cost it memory and API-server load for nothing. Metrics: events by
type, relists, reconnects, the time of the last event or bookmark
(staleness), and the lag from a pod's creation to its arrival here.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from prometheus_client import Counter, Gauge, Histogram

from podwarden import logs
from podwarden.kube import client, store

_log = logs.get("kube.reflector")

EVENTS = Counter("podwarden_kube_watch_events_total", "Watch events received", ["resource", "type"])
RELISTS = Counter("podwarden_kube_relists_total", "Full lists (first and after 410)", ["resource"])
RECONNECTS = Counter(
    "podwarden_kube_reconnects_total", "Watch reconnections after an error", ["resource"]
)
LAST_EVENT = Gauge(
    "podwarden_kube_last_event_timestamp_seconds",
    "Unix time of the last event or bookmark (time() minus this is the view's staleness)",
    ["resource"],
)
LAG = Histogram(
    "podwarden_kube_event_lag_seconds",
    "Seconds from an object's creationTimestamp to its ADDED event reaching the view",
    ["resource"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60),
)


class Expired(Exception):
    """The resourceVersion we asked for is gone from the server's history (410)."""


@dataclass(frozen=True)
class Backoff:
    """Exponential backoff with full jitter: sleep uniform(0, min(cap, base * 2**n))."""

    base: float = 0.2
    cap: float = 30.0
    floor: float = 0.05

    def delay(self, attempt: int) -> float:
        ceiling = min(self.cap, self.base * (2 ** min(attempt, 30)))
        return max(self.floor, random.uniform(0, ceiling))


@dataclass(frozen=True)
class Resource:
    """What to reflect: kind, collection path and an optional field selector."""

    kind: str
    path: str
    field_selector: str = ""


def _params(resource: Resource, **extra: str) -> dict[str, str]:
    params = dict(extra)
    if resource.field_selector:
        params["fieldSelector"] = resource.field_selector
    return params


async def list_all(api: client.Api, resource: Resource) -> tuple[list[dict[str, Any]], str]:
    """All items (following `continue`) and the list's resourceVersion."""
    items: list[dict[str, Any]] = []
    token = ""
    version = ""
    while True:
        extra = {"limit": "500"} | ({"continue": token} if token else {})
        page = await api.get_json(resource.path, params=_params(resource, **extra))
        metadata = page.get("metadata") or {}
        version = version or str(metadata.get("resourceVersion") or "")
        items.extend(page.get("items") or [])
        token = str(metadata.get("continue") or "")
        if not token:
            return items, version


async def _watch_once(
    api: client.Api, resource: Resource, version: str
) -> AsyncIterator[dict[str, Any]]:
    """Events of one watch connection, starting after `version`.

    The server ends the watch after a random 5-10 minutes (spreading reconnects, as
    client-go does); a connection silent for longer than that is dead.
    """
    timeout = random.randint(300, 600)
    params = _params(
        resource,
        watch="1",
        allowWatchBookmarks="true",
        resourceVersion=version,
        timeoutSeconds=str(timeout),
    )
    try:
        lines = api.stream_lines(resource.path, params=params, read_timeout=timeout + 30.0)
        async for event in lines:
            if event.get("type") == "ERROR":
                status = event.get("object") or {}
                if status.get("code") == 410:
                    raise Expired(str(status.get("message") or "resourceVersion expired"))
                raise client.ApiStatusError.from_status(status)
            yield event
    except client.ApiStatusError as exc:
        if exc.code == 410:
            raise Expired(exc.message) from None
        raise


async def _list_then_watch(
    api: client.Api, resource: Resource, backoff: Backoff
) -> AsyncIterator[tuple[str, Any]]:
    """("SYNC", items) after each (re)list, then ("ADDED"|"MODIFIED"|"DELETED", object)."""
    failures = 0
    version = ""
    while True:
        try:
            if not version:
                RELISTS.labels(resource.kind).inc()
                items, version = await list_all(api, resource)
                _log.info("listed", resource=resource.kind, items=len(items), version=version)
                yield "SYNC", items
                LAST_EVENT.labels(resource.kind).set_to_current_time()
                failures = 0
            received, opened = 0, time.monotonic()
            async for event in _watch_once(api, resource, version):
                received += 1
                kind, obj = str(event.get("type")), event.get("object") or {}
                version = str((obj.get("metadata") or {}).get("resourceVersion") or version)
                EVENTS.labels(resource.kind, kind).inc()
                LAST_EVENT.labels(resource.kind).set_to_current_time()
                failures = 0
                if kind != "BOOKMARK":
                    yield kind, obj
            if not received and time.monotonic() - opened < 1.0:
                # closed at once with nothing said (a proxy, a restarting server): don't spin
                await asyncio.sleep(backoff.delay(failures))
                failures += 1
        except Expired as exc:
            _log.info("resourceVersion expired; relisting", resource=resource.kind, error=str(exc))
            version = ""
        except (client.ApiUnavailable, client.ApiStatusError, ValueError, AttributeError) as exc:
            # unreachable, refused, or a malformed answer: back off, resume from `version`
            # (a malformed answer during a list leaves `version` empty, so that relists)
            RECONNECTS.labels(resource.kind).inc()
            if isinstance(exc, client.ApiStatusError) and exc.code == 400:
                version = ""  # our resourceVersion was refused: start over from a list
            delay = backoff.delay(failures)
            failures += 1
            _log.warning(
                "watch failed; reconnecting",
                resource=resource.kind,
                error=str(exc),
                retry_in=round(delay, 3),
                attempt=failures,
            )
            await asyncio.sleep(delay)


def events(
    api: client.Api, resource: Resource, *, backoff: Backoff | None = None
) -> AsyncIterator[tuple[str, Any]]:
    """The list-then-watch stream for any resource (the loop `follow` uses for pods and
    namespaces): ("SYNC", items) after each (re)list, then (type, object) per event."""
    return _list_then_watch(api, resource, backoff or Backoff())


def _observe_lag(resource: Resource, kind: str, obj: dict[str, Any]) -> None:
    """Creation-to-view delay of a new object (includes scheduling for node-scoped pods)."""
    if kind != "ADDED":
        return
    stamp = (obj.get("metadata") or {}).get("creationTimestamp")
    if not stamp:
        return
    try:
        then = datetime.fromisoformat(str(stamp).replace("Z", "+00:00")).timestamp()
    except ValueError:
        return
    LAG.labels(resource.kind).observe(max(0.0, time.time() - then))


async def _reflect(
    view: store.ClusterView,
    api: client.Api,
    resource: Resource,
    backoff: Backoff,
    listed: asyncio.Event,
) -> None:
    async for kind, payload in _list_then_watch(api, resource, backoff):
        if kind == "SYNC":
            await view.replace(resource.kind, payload)
            listed.set()
            continue
        obj = dict(payload, kind=resource.kind)
        _observe_lag(resource, kind, obj)
        if kind == "DELETED":
            await view.delete(obj)
        elif kind in ("ADDED", "MODIFIED"):
            await view.apply(obj)


NAMESPACES = Resource("Namespace", "/api/v1/namespaces")


def resources_for(node_name: str | None, *, namespaces_only: bool = False) -> tuple[Resource, ...]:
    """The node's pods in every namespace (all pods if node_name is None), and namespaces;
    only namespaces when `namespaces_only` (node_name is then ignored)."""
    if namespaces_only:
        return (NAMESPACES,)
    selector = f"spec.nodeName={node_name}" if node_name else ""
    return (Resource("Pod", "/api/v1/pods", selector), NAMESPACES)


async def follow(
    view: store.ClusterView,
    *,
    api: client.Api,
    node_name: str | None,
    namespaces_only: bool = False,
    backoff: Backoff | None = None,
) -> None:
    """Keep `view` in step with the API server until cancelled; sets view.synced once
    every watched resource has been listed (the pods stay empty when namespaces_only)."""
    backoff = backoff or Backoff()
    flags: list[asyncio.Event] = []
    tasks = []
    for resource in resources_for(node_name, namespaces_only=namespaces_only):
        flags.append(asyncio.Event())
        tasks.append(asyncio.create_task(_reflect(view, api, resource, backoff, flags[-1])))
    listed: asyncio.Future[Any] = asyncio.ensure_future(
        asyncio.gather(*(flag.wait() for flag in flags))
    )
    try:
        await asyncio.wait([listed, *tasks], return_when=asyncio.FIRST_COMPLETED)
        if listed.done():
            view.synced.set()
        await asyncio.gather(*tasks)
    finally:
        listed.cancel()
        for task in tasks:
            task.cancel()
        await asyncio.gather(listed, *tasks, return_exceptions=True)


def run(
    view: store.ClusterView,
    *,
    api: client.Api,
    node_name: str | None,
    namespaces_only: bool = False,
    backoff: Backoff | None = None,
) -> asyncio.Task[None]:
    """Start `follow` as a task (cancel it to stop)."""
    return asyncio.create_task(
        follow(
            view, api=api, node_name=node_name, namespaces_only=namespaces_only, backoff=backoff
        ),
        name="kube-reflector",
    )
