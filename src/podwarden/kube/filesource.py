"""`--cluster-file`: Pods and Namespaces from a YAML stream, reloaded when it changes.

For hosts without Kubernetes (a plain Docker host) and for tests. Each reload
goes through `ClusterView.replace`, so subscribers get exactly the added /
updated / deleted changes a watch would have produced, and the store applies
the same IP rules. Changes are found by polling the file's stat signature
(no inotify: it works on every filesystem, including bind mounts and
ConfigMap volumes whose files are swapped by symlink).

A file that stops parsing keeps the last good view (and logs why): clearing it
would turn a typo into an outage, and every pod in it was legitimately there.

Other kinds are refused by default (a misspelt `kind: pod` must not vanish
silently). `skip_other_kinds=True` keeps only Pods and Namespaces from a file
that carries more — a `kubectl get -o yaml` dump, or the webhook's cluster file,
whose RBAC objects it reads itself from `objects()` after checking every kind.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterable, Mapping
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


def objects(path: Path) -> list[tuple[str, Any]]:
    """Every object in the file, `List` items expanded, each with where it came from
    (`FILE: document N` or `FILE: document N: items[i]`); raise ConfigError if unreadable."""
    found: list[tuple[str, Any]] = []
    for index, doc in enumerate(_documents(path)):
        where = f"{path}: document {index + 1}"
        if isinstance(doc, Mapping) and doc.get("kind") == "List":
            items = doc.get("items") or []
            found.extend((f"{where}: items[{i}]", item) for i, item in enumerate(items))
        else:
            found.append((where, doc))
    return found


def by_kind(
    located: Iterable[tuple[str, Any]], *, skip_other_kinds: bool = False
) -> dict[str, list[dict[str, Any]]]:
    """Sort located objects into {"Pod": [...], "Namespace": [...]}; ConfigError names the
    object for anything unusable. Objects of another kind are an error unless
    `skip_other_kinds`; an object that is not a mapping, or has no kind, always is."""
    found: dict[str, list[dict[str, Any]]] = {kind: [] for kind in KINDS}
    for where, obj in located:
        if not isinstance(obj, Mapping):
            got = type(obj).__name__
            raise ConfigError(f"{where}: expected a Pod or Namespace object, got {got}")
        kind = obj.get("kind")
        if kind not in KINDS:
            if skip_other_kinds and isinstance(kind, str) and kind:
                continue
            raise ConfigError(f"{where}: kind: {kind!r} is not accepted (accepted: Pod, Namespace)")
        metadata = obj.get("metadata")
        if not isinstance(metadata, Mapping) or not metadata.get("name"):
            raise ConfigError(f"{where}: metadata.name: required")
        found[str(kind)].append(dict(obj))
    return found


def load(path: Path, *, skip_other_kinds: bool = False) -> dict[str, list[dict[str, Any]]]:
    """Parse the file into {"Pod": [...], "Namespace": [...]}; raise ConfigError if unusable.

    Documents may be single objects or a `kind: List` with `items`.
    """
    return by_kind(objects(path), skip_other_kinds=skip_other_kinds)


async def reload(view: store.ClusterView, path: Path, *, skip_other_kinds: bool = False) -> None:
    """Load `path` once into `view` (raises ConfigError, leaving the view unchanged)."""
    await apply(view, load(path, skip_other_kinds=skip_other_kinds))


async def apply(view: store.ClusterView, found: Mapping[str, list[dict[str, Any]]]) -> None:
    """Replace the view's Namespaces and Pods with `found` (from `by_kind`) and mark it synced."""
    await view.replace("Namespace", found["Namespace"])
    await view.replace("Pod", found["Pod"])
    view.synced.set()


def signature(path: Path) -> tuple[int, int, int] | None:
    """What changes when the file is rewritten or swapped (None: not there); cheap to poll."""
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return (stat.st_mtime_ns, stat.st_size, stat.st_ino)


async def follow(
    view: store.ClusterView,
    path: Path,
    *,
    poll_interval: float = 1.0,
    skip_other_kinds: bool = False,
) -> None:
    """Load the file, then reload it whenever its stat signature changes; runs until cancelled.

    The first load must succeed (ConfigError otherwise); later failures are logged.
    """
    seen = signature(path)
    await reload(view, path, skip_other_kinds=skip_other_kinds)
    _log.info("cluster file loaded", path=str(path), pods=len(view.pods()))
    while True:
        await asyncio.sleep(poll_interval)
        current = signature(path)
        if current == seen:
            continue
        seen = current
        try:
            await reload(view, path, skip_other_kinds=skip_other_kinds)
        except ConfigError as exc:
            _log.error("cluster file not reloaded; keeping the last good view", error=str(exc))
        else:
            _log.info("cluster file reloaded", path=str(path), pods=len(view.pods()))


def run(
    view: store.ClusterView,
    path: Path | str,
    *,
    poll_interval: float = 1.0,
    skip_other_kinds: bool = False,
) -> asyncio.Task[None]:
    """Start `follow` as a task (cancel it to stop)."""
    return asyncio.create_task(
        follow(view, Path(path), poll_interval=poll_interval, skip_other_kinds=skip_other_kinds),
        name=f"cluster-file:{path}",
    )
