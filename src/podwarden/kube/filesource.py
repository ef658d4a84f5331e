"""`--cluster-file`: Pods and Namespaces from a YAML stream, reloaded when it changes.

For hosts without Kubernetes (a plain Docker host) and for tests. Each reload
goes through `ClusterView.replace`, so subscribers get exactly the added /
updated / deleted changes a watch would have produced, and the store applies
the same IP rules. Changes are found by polling the file's stat signature
(no inotify: it works on every filesystem, including bind mounts and
ConfigMap volumes whose files are swapped by symlink).

A file that stops parsing keeps the last good view (and logs why): clearing it
would turn a typo into an outage, and every pod in it was legitimately there.
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

_log = logs.get("kube.filesource")
KINDS = ("Pod", "Namespace")


def _documents(path: Path) -> list[Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}") from None
    try:
        return [doc for doc in yaml.safe_load_all(text) if doc is not None]
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}:{mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or exc
        raise ConfigError(f"{path}{where}: not valid YAML: {problem}") from None


def load(path: Path) -> dict[str, list[dict[str, Any]]]:
    """Parse the file into {"Pod": [...], "Namespace": [...]}; raise ConfigError if unusable.

    Documents may be single objects or a `kind: List` with `items`.
    """
    found: dict[str, list[dict[str, Any]]] = {kind: [] for kind in KINDS}
    objects: list[tuple[str, Any]] = []
    for index, doc in enumerate(_documents(path)):
        where = f"{path}: document {index + 1}"
        if isinstance(doc, Mapping) and doc.get("kind") == "List":
            items = doc.get("items") or []
            objects.extend((f"{where}: items[{i}]", item) for i, item in enumerate(items))
        else:
            objects.append((where, doc))
    for where, obj in objects:
        if not isinstance(obj, Mapping):
            got = type(obj).__name__
            raise ConfigError(f"{where}: expected a Pod or Namespace object, got {got}")
        kind = obj.get("kind")
        if kind not in KINDS:
            raise ConfigError(f"{where}: kind: {kind!r} is not accepted (accepted: Pod, Namespace)")
        metadata = obj.get("metadata")
        if not isinstance(metadata, Mapping) or not metadata.get("name"):
            raise ConfigError(f"{where}: metadata.name: required")
        found[str(kind)].append(dict(obj))
    return found


async def reload(view: store.ClusterView, path: Path) -> None:
    """Load `path` once into `view` (raises ConfigError, leaving the view unchanged)."""
    objects = load(path)
    await view.replace("Namespace", objects["Namespace"])
    await view.replace("Pod", objects["Pod"])
    view.synced.set()


def _signature(path: Path) -> tuple[int, int, int] | None:
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return (stat.st_mtime_ns, stat.st_size, stat.st_ino)


async def follow(view: store.ClusterView, path: Path, *, poll_interval: float = 1.0) -> None:
    """Load the file, then reload it whenever its stat signature changes; runs until cancelled.

    The first load must succeed (ConfigError otherwise); later failures are logged.
    """
    seen = _signature(path)
    await reload(view, path)
    _log.info("cluster file loaded", path=str(path), pods=len(view.pods()))
    while True:
        await asyncio.sleep(poll_interval)
        current = _signature(path)
        if current == seen:
            continue
        seen = current
        try:
            await reload(view, path)
        except ConfigError as exc:
            _log.error("cluster file not reloaded; keeping the last good view", error=str(exc))
        else:
            _log.info("cluster file reloaded", path=str(path), pods=len(view.pods()))


def run(
    view: store.ClusterView, path: Path | str, *, poll_interval: float = 1.0
) -> asyncio.Task[None]:
    """Start `follow` as a task (cancel it to stop)."""
    return asyncio.create_task(
        follow(view, Path(path), poll_interval=poll_interval), name=f"cluster-file:{path}"
    )
