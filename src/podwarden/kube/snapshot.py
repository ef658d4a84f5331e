"""A one-off, read-only copy of the objects a cluster audit needs, from an API or a file.

The agent and the webhook follow the cluster with watches; an audit (and
`kubectl podwarden why`) instead wants every object of a few collections once,
consistently enough to judge, and then to exit. This module lists the
collections it is asked for (paginated, concurrently), keyed by kind, and keeps
apart what could not be read and why — a collection the server does not serve
(podwarden's CRD before it is installed, `policy/v1beta1` after 1.25) or that
the caller may not list — so a report can say "not checked" instead of
concluding "nothing there" from an error.

`from_file` reads the same kinds from a YAML/JSON stream (`kubectl get … -o
yaml` dumps, `List` kinds included) for clusters seen only as files. Kinds it
was not asked for are counted, not silently lost.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from podwarden.config import ConfigError
from podwarden.kube import client, discovery, filesource, objectstore, reflector, store


@dataclass(frozen=True)
class Collection:
    """One collection to list: its kind, API group (\"\" for core), plural and version.

    `version=None` asks discovery for the group's preferred version; `optional`
    collections that are not served are recorded as unreadable, not an error.
    """

    kind: str
    group: str
    plural: str
    version: str | None = "v1"
    optional: bool = False

    def path(self, version: str) -> str:
        prefix = "/api" if not self.group else f"/apis/{self.group}"
        return f"{prefix}/{version}/{self.plural}"


NAMESPACES = Collection("Namespace", "", "namespaces")
PODS = Collection("Pod", "", "pods")
NODES = Collection("Node", "", "nodes")
RBAC = tuple(
    Collection(kind, "rbac.authorization.k8s.io", plural, optional=True)
    for kind, plural in (
        ("Role", "roles"),
        ("RoleBinding", "rolebindings"),
        ("ClusterRole", "clusterroles"),
        ("ClusterRoleBinding", "clusterrolebindings"),
    )
)


@dataclass
class Snapshot:
    """Objects by kind (with kind and apiVersion set), and what could not be read."""

    source: str
    objects: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    unreadable: dict[str, str] = field(default_factory=dict)
    """`<kind> (<group/version or file>)` -> why it was not read."""
    ignored_kinds: dict[str, int] = field(default_factory=dict)

    def of(self, kind: str) -> list[dict[str, Any]]:
        return self.objects.get(kind, [])

    def add(self, obj: Mapping[str, Any]) -> None:
        self.objects.setdefault(str(obj.get("kind")), []).append(dict(obj))


async def _read_collection(api: client.Api, snap: Snapshot, wanted: Collection) -> None:
    label = f"{wanted.kind} ({wanted.group or 'core'})"
    version = wanted.version
    if wanted.group and (wanted.version is None or wanted.optional):
        version = await discovery.served_version(
            api, group=wanted.group, plural=wanted.plural, version=wanted.version
        )
        if version is None:
            snap.unreadable[label] = "not served by this API server"
            return
    path = wanted.path(version or "v1")
    try:
        items, _ = await reflector.list_all(api, reflector.Resource(wanted.kind, path))
    except client.ApiStatusError as exc:
        if not wanted.optional and exc.code != 403:
            raise
        if not wanted.optional:
            raise ConfigError(f"cannot list {path}: {exc} (grant list on it)") from None
        snap.unreadable[label] = f"{exc.code} {exc.reason or 'error'}: {exc.message}"
        return
    api_version = objectstore.api_version_of(path)
    for item in items:
        snap.add({**store.slim(item), "kind": wanted.kind, "apiVersion": api_version})


async def read(
    api: client.Api,
    collections: Sequence[Collection],
    *,
    objects: Iterable[tuple[str, str]] = (),
) -> Snapshot:
    """List `collections`, then GET each (kind, path) of `objects` (a 404 or 403 is recorded
    in `unreadable` under `<kind> <path>`). Unreachable servers raise ApiUnavailable; a
    required collection that cannot be listed raises ConfigError."""
    snap = Snapshot(source=api.server)
    await asyncio.gather(*(_read_collection(api, snap, wanted) for wanted in collections))
    for kind, path in objects:
        try:
            found = await api.get_json(path)
        except client.ApiStatusError as exc:
            if exc.code not in (403, 404):
                raise
            snap.unreadable[f"{kind} {path}"] = f"{exc.code} {exc.reason}: {exc.message}"
            continue
        snap.add({**store.slim(found), "kind": kind})
    return snap


def from_file(path: Path, kinds: Iterable[str]) -> Snapshot:
    """The objects of `kinds` in a YAML/JSON stream; other kinds are counted in
    `ignored_kinds`. ConfigError names the file (and document) for anything unusable."""
    accepted = set(kinds)
    snap = Snapshot(source=str(path))
    for where, obj in filesource.objects(path):
        if not isinstance(obj, Mapping) or not isinstance(obj.get("kind"), str):
            raise ConfigError(f"{where}: expected a Kubernetes object with a kind")
        kind = str(obj["kind"])
        if kind not in accepted:
            snap.ignored_kinds[kind] = snap.ignored_kinds.get(kind, 0) + 1
            continue
        metadata = obj.get("metadata")
        if not isinstance(metadata, Mapping) or not metadata.get("name"):
            raise ConfigError(f"{where}: metadata.name: required")
        snap.add(obj)
    return snap
