"""`--cluster-file` for the webhook: Namespaces (and Pods) into the cluster view, RBAC
objects into the PSP authorizer, both reloaded when the file changes.

Reading, `List` expansion, Pod/Namespace validation and the change signature are
kube.filesource's; this module adds the RBAC half. It checks every kind itself
before handing the objects to `filesource.by_kind(skip_other_kinds=True)`: a
misspelt RBAC kind must be an error, not skipped, because a file with no RBAC
objects left means "every policy usable by everyone". A file that stops
parsing keeps the last good view and RBAC (a typo must not turn into every pod
being refused), and says why in the log.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from podwarden import logs, rbac
from podwarden.config import ConfigError
from podwarden.kube import filesource, store
from podwarden.podsecurity.psp import engine

_log = logs.get("webhooks.clusterfile")
VIEW_KINDS = filesource.KINDS


class ClusterFile:
    """The parsed file: objects for the view and the RBAC answering PSP `use`."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.rbac: engine.Rbac = engine.Rbac.allow_all()
        self._seen: tuple[int, int, int] | None = None

    def parse(self) -> tuple[dict[str, list[dict[str, Any]]], engine.Rbac]:
        located = filesource.objects(self.path)
        rbac_objects: list[Mapping[str, Any]] = []
        for where, obj in located:
            kind = obj.get("kind") if isinstance(obj, Mapping) else None
            if kind in rbac.RBAC_KINDS:
                rbac_objects.append(obj)
            elif kind not in VIEW_KINDS:
                accepted = ", ".join((*VIEW_KINDS, *rbac.RBAC_KINDS))
                raise ConfigError(f"{where}: kind: {kind!r} is not accepted (accepted: {accepted})")
        view_objects = filesource.by_kind(located, skip_other_kinds=True)
        try:
            psp_rbac = (
                engine.Rbac.from_objects(rbac_objects) if rbac_objects else engine.Rbac.allow_all()
            )
        except engine.RbacError as exc:
            raise ConfigError(f"{self.path}: {exc}") from None
        return view_objects, psp_rbac

    async def load(self, view: store.ClusterView) -> None:
        """Parse and apply (ConfigError leaves view and RBAC as they were)."""
        signature = filesource.signature(self.path)
        objects, psp_rbac = self.parse()
        await filesource.apply(view, objects)
        self.rbac = psp_rbac
        self._seen = signature

    async def follow(self, view: store.ClusterView, *, poll_interval: float = 1.0) -> None:
        """Reload on change until cancelled (the first load is the caller's)."""
        while True:
            await asyncio.sleep(poll_interval)
            if filesource.signature(self.path) == self._seen:
                continue
            try:
                await self.load(view)
            except ConfigError as exc:
                self._seen = filesource.signature(self.path)
                _log.error("cluster file not reloaded; keeping the last good view", error=str(exc))
            else:
                _log.info("cluster file reloaded", path=str(self.path))
