"""Pod identity assembled for one proxy: sources, cache, resolver, handlers, prefetch.

`start()` wires the parts for the settings' provider and returns an
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
from typing import Any

from aiobotocore.session import AioSession

from podwarden import logs
from podwarden.kube import store
from podwarden.kube.objects import Pod
from podwarden.metadata import firewall, policy
from podwarden.metadata.identity import assign, handlers
from podwarden.metadata.identity.aws import AwsCredentials, StsSource
from podwarden.metadata.identity.cache import CredentialCache
from podwarden.metadata.identity.events import EventSink, Recorder
from podwarden.metadata.identity.gcp import AccessToken, GcpKey, IamCredentialsSource
from podwarden.metadata.identity.resolver import Resolver
from podwarden.metadata.identity.settings import IdentitySettings
from podwarden.metadata.identity.verify import PodLookup, Verifier
from podwarden.metadata.model import ProviderName

_log = logs.get("metadata.identity")
Clock = Callable[[], float]


class Identity:
    """A running pod-identity layer for one provider."""

    def __init__(
        self,
        *,
        settings: IdentitySettings,
        view: store.ClusterView,
        handlers: dict[str, handlers.Handler],
        rules: tuple[policy.Rule, ...],
        resolver: Resolver[Any],
        recorder: Recorder,
        cache: CredentialCache[Any, Any] | None,
        key_of: Callable[[Any], Any],
        source: StsSource | IamCredentialsSource | None,
        verifier: Verifier | None = None,
    ) -> None:
        self.settings = settings
        self.view = view
        self.handlers = handlers
        self.rules = rules
        self.resolver = resolver
        self.recorder = recorder
        self.cache = cache
        self.source = source
        self.verifier = verifier
        self._key_of = key_of
        self._unsubscribe = view.subscribe(self._changed)
        self._maintenance: asyncio.Task[None] | None = None

    def firewall(self, fw: firewall.Firewall) -> firewall.Firewall:
        """`fw` with the identity rules in front of all of its rules."""
        rules = (*self.rules, *fw.policy.rules)
        return dataclasses.replace(
            fw, policy=policy.Policy(rules=rules, responses=fw.policy.responses)
        )

    def keys_in_use(self) -> set[Any]:
        """Cache keys of every live pod that may have an identity now."""
        found: set[Any] = set()
        for pod in self.view.pods():
            if pod.owns_its_ips:
                assigned = self.resolver.assignment_of(pod)
                if assigned is not None and not isinstance(assigned, assign.Refusal):
                    found.add(self._key_of(assigned))
        return found

    def maintain(self) -> int:
        """Forget unused credentials and refresh used ones that are due; returns refreshes."""
        if self.cache is None:
            return 0
        keys = self.keys_in_use()
        self.cache.retain(keys)
        return self.cache.refresh_due(keys)

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

    def _consider(self, pod: Pod) -> None:
        if not pod.owns_its_ips:
            return
        assigned = self.resolver.assignment_of(pod)
        if isinstance(assigned, assign.Refusal):
            if assigned.report:
                self.recorder.refused(pod, reason=assigned.reason, message=assigned.message)
        elif assigned is not None and self.cache is not None and self.settings.prefetch:
            self.cache.prefetch(self._key_of(assigned))

    async def _changed(self, change: store.Change) -> None:
        obj = change.new
        if isinstance(obj, Pod):
            self._consider(obj)
        elif obj is not None and change.kind != "deleted":  # a namespace: its pods may change
            for pod in self.view.pods():
                if pod.namespace == obj.name:
                    self._consider(pod)

    async def close(self) -> None:
        self._unsubscribe()
        if self.verifier is not None:
            self.verifier.close()
        if self._maintenance is not None:
            self._maintenance.cancel()
            await asyncio.gather(self._maintenance, return_exceptions=True)
        await self.recorder.flush()
        if self.cache is not None:
            await self.cache.close()
        if isinstance(self.source, StsSource):
            await self.source.close()


def _assigner(
    fn: Callable[[Pod, Mapping[str, str] | None, IdentitySettings], Any],
    settings: IdentitySettings,
) -> Callable[[Pod, Mapping[str, str] | None], Any]:
    return lambda pod, namespace: fn(pod, namespace, settings)


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
    common: dict[str, Any] = {
        "settings": settings,
        "view": view,
        "recorder": recorder,
        "verifier": verifier,
    }
    identity: Identity
    if settings.provider is ProviderName.AWS:
        resolver: Resolver[Any] = Resolver(
            view,
            assign=_assigner(assign.aws, settings),
            wait=settings.address_wait,
            recorder=recorder,
            verifier=verifier,
        )
        sts: StsSource | None = None
        if aws_fetch is None:
            sts = StsSource(
                region=settings.sts_region,
                endpoint_url=settings.sts_endpoint,
                duration=settings.session_duration,
                metadata_endpoint=upstream_url,
                session=aws_session,
            )
            await sts.open()
            aws_fetch = sts.assume
        aws_cache: CredentialCache[assign.AwsRole, AwsCredentials] = CredentialCache(
            fetch=aws_fetch,
            expiry=lambda c: c.expiration,
            min_validity=settings.min_validity,
            refresh_before=settings.refresh_before,
            clock=clock,
            source="sts",
        )
        table = handlers.AwsHandlers(
            resolver=resolver,
            cache=aws_cache,
            container_secret=settings.container_token_secret,
            recorder=recorder,
        ).table()
        identity = Identity(
            handlers=table,
            rules=handlers.rules(
                settings.provider, container_endpoint=settings.container_token_secret is not None
            ),
            resolver=resolver,
            cache=aws_cache,
            key_of=lambda a: a,
            source=sts,
            **common,
        )
    elif settings.provider is ProviderName.GCE:
        resolver = Resolver(
            view,
            assign=_assigner(assign.gcp, settings),
            wait=settings.address_wait,
            recorder=recorder,
            verifier=verifier,
        )
        iam = IamCredentialsSource(
            upstream=upstream_url,
            iam_endpoint=settings.gcp_iam_endpoint,
            lifetime=settings.gcp_lifetime,
        )
        gcp_cache: CredentialCache[GcpKey, AccessToken] = CredentialCache(
            fetch=iam.token,
            expiry=lambda t: t.expiry,
            min_validity=settings.min_validity,
            refresh_before=max(settings.gcp_lifetime / 2, settings.min_validity + 300),
            clock=clock,
            source="iamcredentials",
        )
        scopes = tuple(sorted(settings.gcp_scopes))
        table = handlers.GceHandlers(
            resolver=resolver, cache=gcp_cache, scopes=scopes, clock=clock
        ).table()
        identity = Identity(
            handlers=table,
            rules=handlers.rules(settings.provider, container_endpoint=False),
            resolver=resolver,
            cache=gcp_cache,
            key_of=lambda a: GcpKey(a.email, scopes),
            source=iam,
            **common,
        )
    else:
        resolver = Resolver(
            view,
            assign=_assigner(assign.azure, settings),
            wait=settings.address_wait,
            recorder=recorder,
            verifier=verifier,
        )
        identity = Identity(
            handlers=handlers.AzureHandlers(resolver=resolver).table(),
            rules=handlers.rules(settings.provider, container_endpoint=False),
            resolver=resolver,
            cache=None,
            key_of=lambda a: a,
            source=None,
            **common,
        )
    for pod in view.pods():  # pods already known get their prefetch too
        identity._consider(pod)
    if maintenance:
        identity.start_maintenance()
    return identity
