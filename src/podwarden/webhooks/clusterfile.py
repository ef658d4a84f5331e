"""`--cluster-file` for the webhook: Namespaces (and Pods) into the cluster view, RBAC
objects into the PSP authorizer, both reloaded when the file changes.

kube.filesource accepts only Pods and Namespaces (what the agent needs); the
webhook also reads Roles, ClusterRoles and their bindings from the same file to
select PodSecurityPolicies offline, so it splits the documents itself and feeds
the view through the same `ClusterView.replace` the file source uses. A file
that stops parsing keeps the last good view and RBAC (a typo must not turn into
every pod being refused), and says why in the log.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from podwarden import logs
from podwarden.config import ConfigError
from podwarden.kube import store
from podwarden.podsecurity.psp import engine
from podwarden.podsecurity.psp.rbac import RBAC_KINDS

_log = logs.get("webhooks.clusterfile")
VIEW_KINDS = ("Pod", "Namespace")


def _objects(path: Path) -> list[tuple[str, Any]]:
    try:
        text = path.read_text(encoding="utf-8")
        docs = [d for d in yaml.safe_load_all(text) if d is not None]
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}:{mark.column + 1}" if mark is not None else ""
        raise ConfigError(
            f"{path}{where}: not valid YAML: {getattr(exc, 'problem', exc)}"
        ) from None
    found: list[tuple[str, Any]] = []
    for index, doc in enumerate(docs):
        where = f"{path}: document {index + 1}"
        if isinstance(doc, Mapping) and doc.get("kind") == "List":
            found += [(f"{where}: items[{i}]", d) for i, d in enumerate(doc.get("items") or [])]
        else:
            found.append((where, doc))
    return found


class ClusterFile:
    """The parsed file: objects for the view and the RBAC answering PSP `use`."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.rbac: engine.Rbac = engine.Rbac.allow_all()
        self._seen: tuple[int, int, int] | None = None

    def parse(self) -> tuple[dict[str, list[dict[str, Any]]], engine.Rbac]:
        view_objects: dict[str, list[dict[str, Any]]] = {kind: [] for kind in VIEW_KINDS}
        rbac_objects: list[Mapping[str, Any]] = []
        for where, obj in _objects(self.path):
            kind = obj.get("kind") if isinstance(obj, Mapping) else None
            if kind in VIEW_KINDS:
                meta = obj.get("metadata")
                if not isinstance(meta, Mapping) or not meta.get("name"):
                    raise ConfigError(f"{where}: metadata.name: required")
                view_objects[kind].append(dict(obj))
            elif kind in RBAC_KINDS:
                rbac_objects.append(obj)
            else:
                accepted = ", ".join((*VIEW_KINDS, *RBAC_KINDS))
                raise ConfigError(f"{where}: kind: {kind!r} is not accepted (accepted: {accepted})")
        try:
            rbac = (
                engine.Rbac.from_objects(rbac_objects) if rbac_objects else engine.Rbac.allow_all()
            )
        except engine.RbacError as exc:
            raise ConfigError(f"{self.path}: {exc}") from None
        return view_objects, rbac

    async def load(self, view: store.ClusterView) -> None:
        """Parse and apply (ConfigError leaves view and RBAC as they were)."""
        signature = _signature(self.path)
        objects, rbac = self.parse()
        await view.replace("Namespace", objects["Namespace"])
        await view.replace("Pod", objects["Pod"])
        self.rbac = rbac
        self._seen = signature
        view.synced.set()

    async def follow(self, view: store.ClusterView, *, poll_interval: float = 1.0) -> None:
        """Reload on change until cancelled (the first load is the caller's)."""
        while True:
            await asyncio.sleep(poll_interval)
            if _signature(self.path) == self._seen:
                continue
            try:
                await self.load(view)
            except ConfigError as exc:
                self._seen = _signature(self.path)
                _log.error("cluster file not reloaded; keeping the last good view", error=str(exc))
            else:
                _log.info("cluster file reloaded", path=str(self.path))


def _signature(path: Path) -> tuple[int, int, int] | None:
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return (stat.st_mtime_ns, stat.st_size, stat.st_ino)
