"""Cluster-wide list-then-watch of several resources into one sink, without keeping the objects.

The node authorizer's graph needs every pod of the cluster (not the node-scoped
watch the agent uses), plus nodes, PVs, PVCs, volume attachments, resource slices,
service accounts, CSI drivers and, for token-audience grants and the report, the
RBAC objects. Holding the raw objects (ObjectStore) would cost gigabytes on a large
cluster, so this feed hands each object to a `Sink` as it arrives — the sink keeps
the few facts it needs — and remembers only keys, which is all a relist needs to
tell what vanished:

- lists are paginated (`limit=500`) and applied page by page, so a 150,000-pod list
  never sits in memory whole;
- then a watch from the list's resourceVersion (the reflector's `_watch_once`:
  bookmarks, 410 -> relist, jittered backoff on errors);
- a group/version the server does not serve (resource.k8s.io on an older cluster) is
  skipped after a discovery check and counts as listed; it is asked again every
  `rediscover` seconds.

`synced` is set once every resource has been listed (or found not served).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from podwarden import logs
from podwarden.kube import client, discovery, reflector

_log = logs.get("kube.feed")


class Sink(Protocol):
    def apply(self, obj: Mapping[str, Any]) -> None: ...

    def delete(self, obj: Mapping[str, Any]) -> None: ...


@dataclass(frozen=True)
class Watched:
    """A collection to follow; `versions` are tried in order for a non-core group."""

    kind: str
    plural: str
    group: str = ""
    versions: tuple[str, ...] = ("v1",)

    def path(self, version: str) -> str:
        prefix = "/api/v1" if not self.group else f"/apis/{self.group}/{version}"
        return f"{prefix}/{self.plural}"


def _key(obj: Mapping[str, Any]) -> str:
    meta = obj.get("metadata") or {}
    return f"{meta.get('namespace') or ''}/{meta.get('name') or ''}"


class Feed:
    """Follows `watched` into `sink` until cancelled."""

    def __init__(
        self,
        api: client.Api,
        sink: Sink,
        watched: Iterable[Watched],
        *,
        backoff: reflector.Backoff | None = None,
        rediscover: float = 300.0,
    ) -> None:
        self.api = api
        self.sink = sink
        self.watched = tuple(watched)
        self.backoff = backoff or reflector.Backoff()
        self.rediscover = rediscover
        self.synced = asyncio.Event()
        self.listed: set[str] = set()
        self.not_served: set[str] = set()

    async def run(self) -> None:
        tasks = [asyncio.create_task(self._follow(w), name=f"feed:{w.kind}") for w in self.watched]
        try:
            await asyncio.gather(*tasks)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    def _mark_listed(self, kind: str) -> None:
        self.listed.add(kind)
        if len(self.listed) == len(self.watched):
            self.synced.set()

    async def _version(self, watched: Watched) -> str | None:
        if not watched.group:
            return "v1"
        for version in watched.versions:
            found = await discovery.served_version(
                self.api, group=watched.group, plural=watched.plural, version=version
            )
            if found:
                return found
        return None

    async def _follow(self, watched: Watched) -> None:
        failures = 0
        while True:
            try:
                version = await self._version(watched)
                if version is None:
                    self.not_served.add(watched.kind)
                    self._mark_listed(watched.kind)
                    _log.info("not served; skipping", kind=watched.kind, group=watched.group)
                    await asyncio.sleep(self.rediscover)
                    continue
                self.not_served.discard(watched.kind)
                resource = reflector.Resource(watched.kind, watched.path(version))
                await self._list_then_watch(resource)
            except (client.ApiUnavailable, client.ApiStatusError, ValueError) as exc:
                reflector.RECONNECTS.labels(watched.kind).inc()
                delay = self.backoff.delay(failures)
                failures += 1
                _log.warning(
                    "feed failed; retrying", kind=watched.kind, error=str(exc), retry_in=delay
                )
                await asyncio.sleep(delay)

    async def _list(self, resource: reflector.Resource, known: set[str]) -> tuple[set[str], str]:
        seen: set[str] = set()
        token, version = "", ""
        reflector.RELISTS.labels(resource.kind).inc()
        while True:
            params = {"limit": "500"} | ({"continue": token} if token else {})
            page = await self.api.get_json(resource.path, params=params)
            metadata = page.get("metadata") or {}
            version = version or str(metadata.get("resourceVersion") or "")
            for item in page.get("items") or []:
                obj = dict(item, kind=resource.kind)
                seen.add(_key(obj))
                self.sink.apply(obj)
            token = str(metadata.get("continue") or "")
            if not token:
                break
        for gone in known - seen:
            namespace, _, name = gone.partition("/")
            self.sink.delete(
                {"kind": resource.kind, "metadata": {"namespace": namespace, "name": name}}
            )
        return seen, version

    async def _list_then_watch(self, resource: reflector.Resource) -> None:
        known: set[str] = set()
        version = ""
        while True:
            if not version:
                started = time.monotonic()
                known, version = await self._list(resource, known)
                _log.info(
                    "listed", kind=resource.kind, items=len(known),
                    seconds=round(time.monotonic() - started, 2),
                )  # fmt: skip
                self._mark_listed(resource.kind)
            try:
                async for event in reflector._watch_once(self.api, resource, version):
                    kind, obj = str(event.get("type")), event.get("object") or {}
                    version = str((obj.get("metadata") or {}).get("resourceVersion") or version)
                    reflector.EVENTS.labels(resource.kind, kind).inc()
                    reflector.LAST_EVENT.labels(resource.kind).set_to_current_time()
                    if kind == "BOOKMARK":
                        continue
                    obj = dict(obj, kind=resource.kind)
                    if kind == "DELETED":
                        known.discard(_key(obj))
                        self.sink.delete(obj)
                    elif kind in ("ADDED", "MODIFIED"):
                        known.add(_key(obj))
                        self.sink.apply(obj)
            except reflector.Expired:
                version = ""


NODE_GRAPH: tuple[Watched, ...] = (
    Watched("Pod", "pods"),
    Watched("Node", "nodes"),
    Watched("PersistentVolume", "persistentvolumes"),
    Watched("PersistentVolumeClaim", "persistentvolumeclaims"),
    Watched("ServiceAccount", "serviceaccounts"),
    Watched("VolumeAttachment", "volumeattachments", "storage.k8s.io"),
    Watched("CSIDriver", "csidrivers", "storage.k8s.io"),
    Watched("ResourceSlice", "resourceslices", "resource.k8s.io", ("v1", "v1beta2", "v1beta1")),
)
"""What the node graph and NodeRestriction read."""

RBAC: tuple[Watched, ...] = tuple(
    Watched(kind, plural, "rbac.authorization.k8s.io")
    for kind, plural in (
        ("Role", "roles"),
        ("ClusterRole", "clusterroles"),
        ("RoleBinding", "rolebindings"),
        ("ClusterRoleBinding", "clusterrolebindings"),
    )
)
"""What token-audience grants and the blast-radius report read."""


async def list_once(api: client.Api, watched: Iterable[Watched]) -> list[dict[str, Any]]:
    """Every object of `watched`, listed once (for `report` and `can-i` against a cluster)."""
    found: list[dict[str, Any]] = []

    class _Collect:
        def apply(self, obj: Mapping[str, Any]) -> None:
            found.append(dict(obj))

        def delete(self, obj: Mapping[str, Any]) -> None:
            pass

    feed = Feed(api, _Collect(), ())
    for item in watched:
        version = await feed._version(item)
        if version is not None:
            await feed._list(reflector.Resource(item.kind, item.path(version)), set())
    return found
