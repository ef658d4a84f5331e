"""The cluster view: pods and namespaces in memory, indexed by pod IP and by node.

Both sources (the reflector over the API and the static cluster file) feed the
same `ClusterView` with the same three verbs (`apply`, `delete`, `replace`), so
identity decisions have one set of semantics whatever the source:

- only pods that own their IPs are indexed by IP (not hostNetwork, not
  Succeeded/Failed, not being deleted, with at least one IP);
- two live pods sharing an IP make the answer "ambiguous", which callers must
  treat as "no identity" (an IP reused before the old pod's deletion reached us);
- pods are keyed by uid, so a DELETED event for an old pod never removes a new
  pod that reused its name.

Subscribers are awaited in order after each change, so the identity layer sees
changes in the order the API server made them; they should hand slow work (a
credential prefetch) to a task of their own.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from podwarden import logs
from podwarden.kube.objects import Namespace, Pod, canonical_ip, kind_of

LookupKind = Literal["none", "one", "ambiguous"]
ChangeKind = Literal["added", "updated", "deleted"]

_log = logs.get("kube.store")


@dataclass(frozen=True)
class Lookup:
    """The answer to "which pod is this IP?"; `pod` is set only when kind is "one"."""

    kind: LookupKind
    pod: Pod | None = None
    candidates: tuple[Pod, ...] = ()


@dataclass(frozen=True)
class Change:
    """One change to the view; `old` is the previous version (None when added)."""

    kind: ChangeKind
    new: Pod | Namespace | None
    old: Pod | Namespace | None

    @property
    def obj(self) -> Pod | Namespace:
        """The object the change is about (the last known version for a delete)."""
        found = self.new if self.new is not None else self.old
        if found is None:
            raise ValueError("a Change needs a new or an old object")
        return found


Subscriber = Callable[[Change], Awaitable[None]]


def slim(raw: Mapping[str, Any]) -> Mapping[str, Any]:
    """The object without metadata.managedFields, which nothing here reads.

    Server-side apply's field ownership is often a third of a pod's JSON; a node's
    view holds every pod of the node, so it is dropped on the way in.
    """
    metadata = raw.get("metadata")
    if isinstance(metadata, Mapping) and "managedFields" in metadata:
        kept = {key: value for key, value in metadata.items() if key != "managedFields"}
        return {**raw, "metadata": kept}
    return raw


def pod_key(raw: Mapping[str, Any]) -> str:
    """The uid, or `namespace/name` for objects without one (the static file)."""
    pod = Pod(raw)
    return pod.uid or f"{pod.namespace}/{pod.name}"


class ClusterView:
    """Pods and namespaces, with indexes by IP, node and name."""

    def __init__(self) -> None:
        self._pods: dict[str, Pod] = {}
        self._by_ip: dict[str, dict[str, Pod]] = {}
        self._by_node: dict[str, dict[str, Pod]] = {}
        self._namespaces: dict[str, Namespace] = {}
        self._subscribers: list[Subscriber] = []
        self._ip_waiters: dict[str, list[asyncio.Future[None]]] = {}
        self.synced = asyncio.Event()

    # ---- reading -------------------------------------------------------------------

    def pod_by_ip(self, ip: str) -> Lookup:
        """Which live pod owns `ip` (canonical text form is applied)."""
        canonical = canonical_ip(ip)
        owners = self._by_ip.get(canonical or "", {})
        if not owners:
            return Lookup("none")
        if len(owners) > 1:
            return Lookup("ambiguous", None, tuple(owners.values()))
        (pod,) = owners.values()
        return Lookup("one", pod, (pod,))

    async def wait_for_ip(self, ip: str, timeout: float) -> Lookup:
        """Like `pod_by_ip`, but waits up to `timeout` seconds while the answer is "none".

        Covers a pod's first seconds, when its request can arrive before the
        watch event that announces its IP.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        canonical = canonical_ip(ip) or ip
        while True:
            found = self.pod_by_ip(canonical)
            remaining = deadline - loop.time()
            if found.kind != "none" or remaining <= 0:
                return found
            waiter: asyncio.Future[None] = loop.create_future()
            self._ip_waiters.setdefault(canonical, []).append(waiter)
            try:
                await asyncio.wait_for(asyncio.shield(waiter), remaining)
            except TimeoutError:
                return self.pod_by_ip(canonical)
            finally:
                waiters = self._ip_waiters.get(canonical, [])
                if waiter in waiters:
                    waiters.remove(waiter)
                if not waiters:
                    self._ip_waiters.pop(canonical, None)

    def pods_on_node(self, node_name: str) -> list[Pod]:
        return list(self._by_node.get(node_name, {}).values())

    def pods(self) -> list[Pod]:
        return list(self._pods.values())

    def namespace(self, name: str) -> Namespace | None:
        return self._namespaces.get(name)

    def namespaces(self) -> list[Namespace]:
        return list(self._namespaces.values())

    def subscribe(self, callback: Subscriber) -> Callable[[], None]:
        """Call `callback` after every change; returns a function that unsubscribes."""
        self._subscribers.append(callback)

        def unsubscribe() -> None:
            if callback in self._subscribers:
                self._subscribers.remove(callback)

        return unsubscribe

    # ---- writing (sources only) ----------------------------------------------------

    async def apply(self, raw: Mapping[str, Any]) -> None:
        """Add or update a Pod or Namespace (the ADDED and MODIFIED watch events)."""
        raw = slim(raw)
        kind = kind_of(raw)
        if kind == "Pod":
            key = pod_key(raw)
            new_pod = Pod(raw)
            old_pod = self._pods.get(key)
            self._unindex(key, old_pod)
            self._pods[key] = new_pod
            self._index(key, new_pod)
            await self._notify(Change("updated" if old_pod else "added", new_pod, old_pod))
        elif kind == "Namespace":
            new_ns = Namespace(raw)
            old_ns = self._namespaces.get(new_ns.name)
            self._namespaces[new_ns.name] = new_ns
            await self._notify(Change("updated" if old_ns else "added", new_ns, old_ns))

    async def delete(self, raw: Mapping[str, Any]) -> None:
        """Remove a Pod or Namespace (the DELETED watch event)."""
        kind = kind_of(raw)
        if kind == "Pod":
            key = pod_key(raw)
            old_pod = self._pods.pop(key, None)
            if old_pod is not None:
                self._unindex(key, old_pod)
                await self._notify(Change("deleted", None, old_pod))
        elif kind == "Namespace":
            old_ns = self._namespaces.pop(Namespace(raw).name, None)
            if old_ns is not None:
                await self._notify(Change("deleted", None, old_ns))

    async def replace(self, kind: str, items: Iterable[Mapping[str, Any]]) -> None:
        """Make the view hold exactly `items` of `kind` (after a list or relist).

        Objects that vanished while we were not watching are deleted, changed
        ones updated: subscribers see the same events a continuous watch would.
        """
        items = [slim(dict(item, kind=kind)) for item in items]
        if kind == "Pod":
            keep = {pod_key(item) for item in items}
            gone = [pod.raw for key, pod in self._pods.items() if key not in keep]
        else:
            keep = {Namespace(item).name for item in items}
            gone = [ns.raw for name, ns in self._namespaces.items() if name not in keep]
        for raw in gone:
            await self.delete(raw)
        for item in items:
            current = (
                self._pods.get(pod_key(item))
                if kind == "Pod"
                else self._namespaces.get(Namespace(item).name)
            )
            if current is None or current.raw != item:
                await self.apply(item)

    # ---- internals -----------------------------------------------------------------

    def _index(self, key: str, pod: Pod) -> None:
        if pod.node_name:
            self._by_node.setdefault(pod.node_name, {})[key] = pod
        if not pod.owns_its_ips:
            return
        for ip in pod.ips:
            self._by_ip.setdefault(ip, {})[key] = pod
            for waiter in self._ip_waiters.get(ip, []):
                if not waiter.done():
                    waiter.set_result(None)

    def _unindex(self, key: str, pod: Pod | None) -> None:
        if pod is None:
            return
        node = self._by_node.get(pod.node_name)
        if node is not None:
            node.pop(key, None)
            if not node:
                del self._by_node[pod.node_name]
        for ip in pod.ips:
            owners = self._by_ip.get(ip)
            if owners is not None:
                owners.pop(key, None)
                if not owners:
                    del self._by_ip[ip]

    async def _notify(self, change: Change) -> None:
        for callback in list(self._subscribers):
            try:
                await callback(change)
            except Exception as exc:  # a subscriber's bug must not stop the view
                _log.error("subscriber failed", error=repr(exc), change=change.kind)
