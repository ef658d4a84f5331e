"""PodSecurityPolicy objects from the cluster, for the webhook (`psp.clusterPolicies`).

On a cluster users create policies as objects — podwarden's CRD
(`policy.podwarden.io`) from 1.25 on, `policy/v1beta1` before — and expect them
enforced, as PSP's own admission plugin did. This follows both collections
with the reflector (`kube.objectstore`), parses every object with the same
engine as the policy files, and keeps the set in force: file policies plus
cluster policies, recomputed on every change.

Each source is asked of discovery first and skipped while it is not served
(v1beta1 is gone from 1.25; the CRD may be installed after the webhook), and
asked again every `probe_interval` seconds. `synced` is set once every served
source has been listed: the readiness gate, so no decision is made on a
partial set.

Safety: an object that does not parse is skipped (logged, counted) and never
allows anything — the policies that do parse are judged without it, as if it
did not exist. A cluster policy whose name is already taken (by a file policy,
or the CRD's by a v1beta1 one) is skipped the same way: policies are used,
ordered and recorded by name, so two with one name would be ambiguous.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from podwarden import logs
from podwarden.kube import client, discovery, objectstore, reflector
from podwarden.podsecurity.psp import engine
from podwarden.podsecurity.psp.model import PODWARDEN_GROUP

_log = logs.get("webhooks.clusterpolicies")
PLURAL = "podsecuritypolicies"


@dataclass(frozen=True)
class Source:
    """One collection of PodSecurityPolicy objects; `version` None: the preferred one."""

    group: str
    version: str | None


SOURCES = (Source(PODWARDEN_GROUP, None), Source("policy", "v1beta1"))
"""In precedence order: on a name clash the CRD's object wins over a v1beta1 one."""


class PolicyMetrics(Protocol):
    """What this module records (app.Metrics has these)."""

    def policy_rejected(self, source: str) -> None: ...
    def policy_counts(self, *, in_use: int, skipped: int) -> None: ...


class ClusterPolicies:
    """The policies in force; `effective` is replaced (never mutated) on every change."""

    def __init__(
        self,
        api: client.Api,
        *,
        file_policies: Sequence[engine.Policy],
        metrics: PolicyMetrics,
        probe_interval: float = 30.0,
        backoff: reflector.Backoff | None = None,
    ) -> None:
        self._api = api
        self._files = tuple(file_policies)
        self._metrics = metrics
        self._probe_interval = probe_interval
        self._backoff = backoff
        self._stores: dict[Source, objectstore.ObjectStore] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._parsed: dict[tuple[str, str, str], engine.Policy | str] = {}
        self.effective: tuple[engine.Policy, ...] = self._files
        self.skipped: dict[str, str] = {}
        """`<group>/<name>` of each object not in force, and why."""
        self.synced = asyncio.Event()

    # ---- following -------------------------------------------------------------------

    async def run(self) -> None:
        """Probe, follow, recompute; until cancelled."""
        try:
            while True:
                if await self._probe() and not self.synced.is_set():
                    await asyncio.gather(*(s.synced.wait() for s in self._stores.values()))
                    self._recompute()
                    self.synced.set()
                    _log.info("cluster policies listed", sources=self.sources())
                await asyncio.sleep(self._probe_interval)
        finally:
            for task in self._tasks:
                task.cancel()
            for task in self._tasks:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task

    def sources(self) -> list[str]:
        """The collections being followed, as group/version."""
        return [store.api_version for store in self._stores.values()]

    async def _probe(self) -> bool:
        """Start following every newly served source; False when discovery failed."""
        complete = True
        for source in SOURCES:
            if source in self._stores:
                continue
            try:
                path = await self._readable_path(source)
            except (client.ApiUnavailable, client.ApiStatusError) as exc:
                _log.warning("discovery failed; asking again", group=source.group, error=str(exc))
                complete = False
                continue
            if path is None:
                continue
            store = objectstore.ObjectStore(reflector.Resource("PodSecurityPolicy", path))
            store.subscribe(self._changed)
            self._stores[source] = store
            self._tasks.append(objectstore.run(store, api=self._api, backoff=self._backoff))
            _log.info("following PodSecurityPolicy objects", path=path)
        return complete

    async def _readable_path(self, source: Source) -> str | None:
        """The collection path, or None when it is not served or we may not list it (a
        forbidden source is skipped and asked again later, not waited for forever: skipping
        policies only ever refuses more)."""
        version = await discovery.served_version(
            self._api, group=source.group, plural=PLURAL, version=source.version
        )
        if version is None:
            _log.debug("not served; skipped", group=source.group, version=source.version)
            return None
        path = f"/apis/{source.group}/{version}/{PLURAL}"
        try:
            await self._api.get_json(path, params={"limit": "1"})
        except client.ApiStatusError as exc:
            if exc.code != 403:
                raise
            _log.error(
                "PodSecurityPolicy objects not readable (grant list and watch); skipped",
                path=path,
                error=str(exc),
            )
            return None
        return path

    async def _changed(self, _store: objectstore.ObjectStore) -> None:
        if self.synced.is_set():
            self._recompute()

    # ---- parsing ---------------------------------------------------------------------

    def _parse(self, group: str, obj: Mapping[str, Any]) -> engine.Policy | str:
        """The policy, or why the object is unusable; once per object version."""
        meta = obj.get("metadata")
        meta = meta if isinstance(meta, Mapping) else {}
        key = (group, str(meta.get("uid") or meta.get("name")), str(meta.get("resourceVersion")))
        found = self._parsed.get(key)
        if found is not None:
            return found
        body = {k: obj[k] for k in ("apiVersion", "kind", "metadata", "spec") if k in obj}
        try:
            (found,) = engine.load_policies([body])
        except engine.PolicyError as exc:
            found = str(exc)
            self._metrics.policy_rejected(group)
            _log.warning("PodSecurityPolicy object skipped: it cannot be parsed", error=found)
        self._parsed[key] = found
        return found

    def _recompute(self) -> None:
        by_name: dict[str, engine.Policy] = {p.name: p for p in self._files}
        origin = {p.name: "a policy file" for p in self._files}
        skipped: dict[str, str] = {}
        seen: set[tuple[str, str, str]] = set()
        for source, store in self._stores.items():
            for obj in store.objects():
                meta = obj.get("metadata") or {}
                label = f"{source.group}/{meta.get('name')}"
                parsed = self._parse(source.group, obj)
                seen.add(
                    (
                        source.group,
                        str(meta.get("uid") or meta.get("name")),
                        str(meta.get("resourceVersion")),
                    )
                )
                if isinstance(parsed, str):
                    skipped[label] = parsed
                elif parsed.name in by_name:
                    skipped[label] = (
                        f"duplicate name: {parsed.name!r} is already {origin[parsed.name]}"
                    )
                    if label not in self.skipped:
                        _log.warning("PodSecurityPolicy object skipped", reason=skipped[label])
                else:
                    by_name[parsed.name] = parsed
                    origin[parsed.name] = f"{source.group}/{parsed.name}"
        self._parsed = {k: v for k, v in self._parsed.items() if k in seen}
        self.effective = tuple(by_name[name] for name in sorted(by_name))
        self.skipped = skipped
        self._metrics.policy_counts(
            in_use=len(self.effective) - len(self._files), skipped=len(skipped)
        )
