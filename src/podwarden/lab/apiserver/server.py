"""Lifecycle of a lab API server: seed state, listen, persist changes, stop.

`--state FILE` is read at start (a snapshot this server wrote, or a
hand-written YAML/JSON stream or List of objects, created in order with
Namespaces first) and rewritten, atomically and debounced, after changes, so
a restarted lab keeps its objects and its resourceVersion counter.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import ssl
import threading
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar

import yaml
from aiohttp import web

from podwarden import logs
from podwarden.config import ConfigError, read_yaml
from podwarden.lab.apiserver import app, crds, errors
from podwarden.lab.apiserver.resources import REGISTRY, ResourceType
from podwarden.lab.apiserver.sar_answers import AnswerTable
from podwarden.lab.apiserver.storage import Storage
from podwarden.lab.ports import free_port

T = TypeVar("T")

_log = logs.get("lab.apiserver")
SYSTEM_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")


def _seed_objects(data: Any, path: Path) -> list[dict[str, Any]]:
    docs = data if isinstance(data, list) else [data]
    objects: list[dict[str, Any]] = []
    for doc in docs:
        if doc is None:
            continue
        if isinstance(doc, dict) and doc.get("kind") == "List":
            objects.extend(doc.get("items") or [])
        elif isinstance(doc, dict):
            objects.append(doc)
        else:
            raise ConfigError(f"{path}: expected Kubernetes objects, got {type(doc).__name__}")
    return objects


def load_state(storage: Storage, path: Path) -> None:
    """Fill `storage` from `path` (see the module docstring for accepted forms)."""
    if path.suffix == ".json":
        try:
            data: Any = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise ConfigError(f"{path}: cannot load state: {exc}") from None
    else:
        try:
            data = [doc for doc in yaml.safe_load_all(path.read_text(encoding="utf-8"))]
        except (OSError, yaml.YAMLError):
            data = read_yaml(path)  # re-raises with the file, line and problem
        if len(data) == 1:
            data = data[0]
    if isinstance(data, dict) and data.get("kind") == "PodwardenLabState":
        storage.restore(data)
        return
    objects = _seed_objects(data, path)
    order = {"Namespace": 0, crds.KIND: 1}  # CRDs before the custom objects they serve
    objects.sort(key=lambda obj: order.get(str(obj.get("kind")), 2))
    for index, obj in enumerate(objects):
        rtype = storage.registry.by_kind(str(obj.get("apiVersion")), str(obj.get("kind")))
        where = f"{path}: object {index + 1}"
        if rtype is None:
            raise ConfigError(
                f"{where}: apiVersion/kind {obj.get('apiVersion')}/{obj.get('kind')} is not "
                "served (accepted: "
                + ", ".join(sorted({t.kind for t in storage.registry.types}))
                + ")"
            )
        namespace = (obj.get("metadata") or {}).get("namespace") or "default"
        try:
            storage.create(rtype, namespace if rtype.namespaced else None, obj)
        except errors.StatusError as exc:
            raise ConfigError(f"{where}: {exc.message}") from None


def save_state(storage: Storage, path: Path) -> None:
    """Write a snapshot atomically (JSON for *.json, YAML otherwise)."""
    snapshot = storage.snapshot()
    text = (
        json.dumps(snapshot, indent=1)
        if path.suffix == ".json"
        else yaml.safe_dump(snapshot, sort_keys=False)
    )
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, path)


class LabApiServer:
    """An embedded Kubernetes API on host:port (plain HTTP unless TLS files are given)."""

    def __init__(
        self,
        *,
        state_file: Path | None = None,
        history: int = 10_000,
        bookmark_interval: float = 5.0,
        watch_delay: float = 0.0,
        pod_termination: float = 0.0,
        save_delay: float = 0.2,
        token: str | None = None,
        sar_answers: AnswerTable | None = None,
        auth_config: Path | None = None,
    ) -> None:
        self.storage = Storage(history=history)
        self.sar_answers = sar_answers or AnswerTable()
        self.auth_config = auth_config
        self.state_file = state_file
        self._save_delay = save_delay
        self._save_task: asyncio.Task[None] | None = None
        self._runner: web.AppRunner | None = None
        self._bookmark_interval = bookmark_interval
        self.storage.watch_delay = watch_delay
        self.storage.pod_termination = pod_termination
        self.auth = app.TokenAuth(token) if token else None
        self.url = ""
        if state_file is not None and state_file.exists() and state_file.stat().st_size:
            load_state(self.storage, state_file)
        namespaces = self.storage_type("namespaces")
        for name in SYSTEM_NAMESPACES:
            with contextlib.suppress(errors.StatusError):
                self.storage.create(namespaces, None, {"metadata": {"name": name}})
        self.storage.floor = self.storage.version  # history starts now
        self.storage.on_change = self._schedule_save

    @staticmethod
    def storage_type(plural: str, group: str = "", version: str = "v1") -> ResourceType:
        """The served type for a plural name (for callers of `storage` directly)."""
        found = REGISTRY.by_path(group, version, plural)
        if found is None:
            raise KeyError(f"{group}/{version}/{plural} is not served")
        return found

    def _schedule_save(self) -> None:
        if self.state_file is None or (self._save_task and not self._save_task.done()):
            return
        try:
            self._save_task = asyncio.get_running_loop().create_task(self._save_later())
        except RuntimeError:
            save_state(self.storage, self.state_file)

    async def _save_later(self) -> None:
        await asyncio.sleep(self._save_delay)
        if self.state_file is not None:
            save_state(self.storage, self.state_file)

    async def start(
        self, host: str, port: int, *, tls_cert: Path | None = None, tls_key: Path | None = None
    ) -> str:
        """Listen and return the base URL."""
        context = None
        if tls_cert is not None:
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(tls_cert, tls_key)
        application = app.build(
            self.storage,
            bookmark_interval=self._bookmark_interval,
            auth=self.auth,
            sar_answers=self.sar_answers,
            auth_config=self.auth_config,
        )
        self._runner = web.AppRunner(application, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port, ssl_context=context)
        await site.start()
        scheme = "https" if context else "http"
        shown = f"[{host}]" if ":" in host else host
        self.url = f"{scheme}://{shown}:{port}"
        _log.info("lab API server listening", url=self.url, objects=len(self.storage.all_objects()))
        return self.url

    async def stop(self) -> None:
        if self._save_task is not None and not self._save_task.done():
            self._save_task.cancel()
        if self.state_file is not None:
            save_state(self.storage, self.state_file)
        self.storage.drop_watches()  # open watch streams end now, not at shutdown_timeout
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None


class ServerThread:
    """A lab API server on its own event loop in a background thread.

    For synchronous callers (tests that run kubectl as a subprocess, the
    lab's setup code): `with ServerThread(...) as srv:` gives `srv.url` and
    `srv.call(fn)` to touch `srv.server.storage` safely on the server's loop.
    """

    def __init__(self, *, host: str = "127.0.0.1", port: int = 0, **options: Any) -> None:
        self.host = host
        self.port = port
        self._options = options
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self.server: LabApiServer | None = None
        self.url = ""

    def __enter__(self) -> ServerThread:
        self._thread.start()
        self.server = self.call(lambda: LabApiServer(**self._options))
        if not self.port:
            self.port = free_port(self.host)
        self.url = self._run(self.server.start(self.host, self.port))
        return self

    def __exit__(self, *_exc: object) -> None:
        if self.server is not None:
            self._run(self.server.stop())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()

    def _run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout=30)

    def call(self, function: Callable[[], T]) -> T:
        """Run `function` on the server's loop and return its result."""

        async def wrapper() -> T:
            return function()

        return self._run(wrapper())
