"""Pod identity assembled for one proxy: the settings' provider wired, prefetch, maintenance.

`start()` wires the settings' provider (one module per cloud under
`providers/`, each an `IdentityProvider`; see `provider.py`) and returns an
`Identity` whose `handlers` plug into `proxy.start(identity=...)` and whose
`firewall(fw)` puts the identity rules in front of a built firewall. It also
subscribes to the cluster view: when a pod with a role appears (or its
namespace starts permitting it) its credentials are fetched at once, so its
first request is served from the cache; a maintenance task refreshes what
live pods use ahead of expiry and forgets what no pod uses any more.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Awaitable, Callable, Mapping

from aiobotocore.session import AioSession

from podwarden import logs
from podwarden.kube import store
from podwarden.kube.objects import Pod
from podwarden.metadata import firewall, policy
from podwarden.metadata.identity import assign, provider, providers
from podwarden.metadata.identity.events import EventSink, Recorder
from podwarden.metadata.identity.settings import IdentitySettings
from podwarden.metadata.identity.sts import AwsCredentials
from podwarden.metadata.identity.verify import PodLookup, Verifier

_log = logs.get("metadata.identity")
Clock = provider.Clock


class Identity:
    """A running pod-identity layer for one provider."""

    def __init__(
        self,
        *,
        settings: IdentitySettings,
        view: store.ClusterView,
        wired: provider.Wired,
        recorder: Recorder,
        verifier: Verifier | None = None,
    ) -> None:
        self.settings = settings
        self.view = view
        self.recorder = recorder
        self.verifier = verifier
        self._wired = wired
        self._unsubscribe = view.subscribe(self._changed)
        self._maintenance: asyncio.Task[None] | None = None

    @property
    def handlers(self) -> Mapping[str, provider.Handler]:
        """Handler name -> handler, for `proxy.start(identity=...)`."""
        return self._wired.handlers

    @property
    def rules(self) -> tuple[policy.Rule, ...]:
        return self._wired.rules

    @property
    def cache(self) -> provider.Idle | None:
        return self._wired.cache

    @property
    def source(self) -> provider.Counted | None:
        return self._wired.source

    def firewall(self, fw: firewall.Firewall) -> firewall.Firewall:
        """`fw` with the identity rules in front of all of its rules."""
        rules = (*self.rules, *fw.policy.rules)
        return dataclasses.replace(
            fw, policy=policy.Policy(rules=rules, responses=fw.policy.responses)
        )

    def maintain(self) -> int:
        """Forget unused credentials and refresh used ones that are due; returns refreshes."""
        return self._wired.maintain()

    def start_maintenance(self) -> None:
        async def loop() -> None:
            while True:
                await asyncio.sleep(self.settings.maintenance_interval)
                try:
                    self.maintain()
                except Exception as exc:  # keep refreshing whatever one pass hit
                    _log.error("maintenance failed", error=repr(exc))

        if self.cache is not None and self._maintenance is None:
            self._maintenance = asyncio.create_task(loop(), name="identity-maintenance")

    def consider(self, pod: Pod) -> None:
        """A pod appeared or changed: report a refusal, or prefetch its credentials."""
        self._wired.consider(pod)

    async def _changed(self, change: store.Change) -> None:
        obj = change.new
        if isinstance(obj, Pod):
            self.consider(obj)
        elif obj is not None and change.kind != "deleted":  # a namespace: its pods may change
            for pod in self.view.pods():
                if pod.namespace == obj.name:
                    self.consider(pod)

    async def close(self) -> None:
        self._unsubscribe()
        if self.verifier is not None:
            self.verifier.close()
        if self._maintenance is not None:
            self._maintenance.cancel()
            await asyncio.gather(self._maintenance, return_exceptions=True)
        await self.recorder.flush()
        await self._wired.close()


async def start(
    settings: IdentitySettings,
    *,
    view: store.ClusterView,
    upstream_url: str,
    sink: EventSink | None = None,
    clock: Clock = time.time,
    aws_session: AioSession | None = None,
    aws_fetch: Callable[[assign.AwsRole], Awaitable[AwsCredentials]] | None = None,
    maintenance: bool = True,
    verify_lookup: PodLookup | None = None,
) -> Identity:
    """Build and start the identity layer for `settings.provider` over `view`.

    `aws_fetch` replaces STS (the churn test and the benchmark count and shape
    what the source returns); everything else is the real path.
    `verify_lookup` (address → the API's pods on it, a consistent read; see
    `kube.lookup.pods_with_ip`) turns on verification before credentials are
    served; without it (the cluster file) the view alone decides.
    """
    recorder = Recorder(sink, interval=settings.event_interval, clock=clock)
    verifier = (
        None
        if verify_lookup is None
        else Verifier(
            view,
            lookup=verify_lookup,
            wait=settings.address_wait,
            interval=settings.verify_interval,
            timeout=settings.verify_timeout,
        )
    )
    context = provider.Context(
        settings=settings,
        view=view,
        upstream_url=upstream_url,
        recorder=recorder,
        verifier=verifier,
        clock=clock,
        aws_session=aws_session,
        aws_fetch=aws_fetch,
    )
    wired = await providers.STARTERS[settings.provider](context)
    identity = Identity(
        settings=settings, view=view, wired=wired, recorder=recorder, verifier=verifier
    )
    for pod in view.pods():  # pods already known get their prefetch too
        identity.consider(pod)
    if maintenance:
        identity.start_maintenance()
    return identity
