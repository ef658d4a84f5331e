"""The shape of one cloud's pod identity, and the layer every cloud is wired into.

Each cloud is one module under `providers/` exposing an `IdentityProvider`:
how a pod's annotations name an identity (`assign`), the rules that route
the cloud's identity paths to handlers (`rules`), its credential source and
how its credentials age (`open_source`), the cache key an assignment is
fetched under (`cache_key`) and the handlers that answer (`handlers`). The
same way metadata/providers/ gives the firewall one `Profile` per cloud.

`build` wires any provider identically (a resolver over the cluster view, a
credential cache over the source, the handlers over both) into a `Layer`.
Inside, types stay exact: assignment A, cache key K, credential V. What the
service and the proxy see (`Wired`) needs none of them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Hashable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Generic, Protocol, TypeVar

from podwarden.kube import store
from podwarden.kube.objects import Pod
from podwarden.metadata.identity.assign import Refusal
from podwarden.metadata.identity.cache import CredentialCache
from podwarden.metadata.identity.events import Recorder
from podwarden.metadata.identity.resolver import Resolver
from podwarden.metadata.identity.settings import IdentitySettings
from podwarden.metadata.identity.verify import Verifier
from podwarden.metadata.model import CanonicalRequest, Settled
from podwarden.metadata.policy import Rule

if TYPE_CHECKING:
    from aiobotocore.session import AioSession

    from podwarden.metadata.identity.assign import AwsRole
    from podwarden.metadata.identity.sts import AwsCredentials

A = TypeVar("A", bound=Hashable)  # what a pod may have: a role, an account, a client ID
K = TypeVar("K", bound=Hashable)  # what credentials are cached under
V = TypeVar("V")  # the credentials a source returns

Handler = Callable[[CanonicalRequest], Awaitable[Settled]]
Clock = Callable[[], float]


@dataclass(frozen=True)
class Context:
    """What a provider may use to build its parts.

    `aws_session` and `aws_fetch` are `service.start`'s AWS-only hooks (the
    churn test and the benchmark shape what STS returns); other clouds ignore them.
    """

    settings: IdentitySettings
    view: store.ClusterView
    upstream_url: str
    recorder: Recorder
    verifier: Verifier | None
    clock: Clock
    aws_session: AioSession | None = None
    aws_fetch: Callable[[AwsRole], Awaitable[AwsCredentials]] | None = None


class Counted(Protocol):
    """A credential source as tests and the benchmark see it: how often it was asked."""

    @property
    def calls(self) -> int: ...


class Idle(Protocol):
    """A credential cache as tests and the benchmark see it."""

    async def idle(self) -> None: ...


@dataclass(frozen=True)
class Source(Generic[K, V]):
    """A credential source and how its credentials age; `name` labels its metrics."""

    name: str  # the `source` label of podwarden_identity_fetch_* ("sts", "iamcredentials")
    fetch: Callable[[K], Awaitable[V]]
    expiry: Callable[[V], float]
    refresh_before: float  # seconds before expiry a used credential is refreshed
    origin: Counted | None = None  # the client object behind `fetch`, when there is one
    close: Callable[[], Awaitable[None]] | None = None


@dataclass(frozen=True)
class Parts(Generic[A, K, V]):
    """What a provider's handlers are built over."""

    context: Context
    resolver: Resolver[A]
    cache: CredentialCache[K, V] | None


class IdentityProvider(Protocol[A, K, V]):
    """One cloud's pod identity."""

    def assign(
        self, pod: Pod, namespace: Mapping[str, str] | None, settings: IdentitySettings
    ) -> A | Refusal | None:
        """The identity `pod` may have (from its annotations), why not, or None (none asked)."""
        ...

    def rules(self, settings: IdentitySettings) -> tuple[Rule, ...]:
        """ANSWER rules routing this cloud's identity paths, placed before every other rule."""
        ...

    async def open_source(self, context: Context) -> Source[K, V] | None:
        """The opened credential source; None when the upstream mints credentials itself."""
        ...

    def cache_key(self, assignment: A, settings: IdentitySettings) -> K:
        """What `assignment`'s credentials are cached (and prefetched) under."""
        ...

    def handlers(self, parts: Parts[A, K, V]) -> dict[str, Handler]:
        """Handler name (as the rules say) -> handler."""
        ...


class Wired(Protocol):
    """A built provider, as the service sees it (no type parameters)."""

    @property
    def handlers(self) -> Mapping[str, Handler]: ...
    @property
    def rules(self) -> tuple[Rule, ...]: ...
    @property
    def cache(self) -> Idle | None: ...
    @property
    def source(self) -> Counted | None: ...
    def consider(self, pod: Pod) -> None: ...
    def maintain(self) -> int: ...
    async def close(self) -> None: ...


class Layer(Generic[A, K, V]):
    """One provider wired: resolver, cache over the source, handlers."""

    def __init__(
        self,
        provider: IdentityProvider[A, K, V],
        context: Context,
        source: Source[K, V] | None,
    ) -> None:
        settings = context.settings
        self._provider = provider
        self._context = context
        self._source = source
        self.resolver: Resolver[A] = Resolver(
            context.view,
            assign=lambda pod, namespace: provider.assign(pod, namespace, settings),
            wait=settings.address_wait,
            recorder=context.recorder,
            verifier=context.verifier,
        )
        self._cache: CredentialCache[K, V] | None = None
        if source is not None:
            self._cache = CredentialCache(
                fetch=source.fetch,
                expiry=source.expiry,
                min_validity=settings.min_validity,
                refresh_before=source.refresh_before,
                clock=context.clock,
                source=source.name,
            )
        self._handlers = provider.handlers(Parts(context, self.resolver, self._cache))
        self._rules = provider.rules(settings)

    @property
    def handlers(self) -> Mapping[str, Handler]:
        return self._handlers

    @property
    def rules(self) -> tuple[Rule, ...]:
        return self._rules

    @property
    def cache(self) -> CredentialCache[K, V] | None:
        return self._cache

    @property
    def source(self) -> Counted | None:
        return None if self._source is None else self._source.origin

    def keys_in_use(self) -> set[K]:
        """Cache keys of every live pod that may have an identity now."""
        found: set[K] = set()
        for pod in self._context.view.pods():
            if pod.owns_its_ips:
                assigned = self.resolver.assignment_of(pod)
                if assigned is not None and not isinstance(assigned, Refusal):
                    found.add(self._provider.cache_key(assigned, self._context.settings))
        return found

    def consider(self, pod: Pod) -> None:
        """A pod appeared or changed: report a refusal, or prefetch its credentials."""
        if not pod.owns_its_ips:
            return
        assigned = self.resolver.assignment_of(pod)
        settings = self._context.settings
        if isinstance(assigned, Refusal):
            if assigned.report:
                self._context.recorder.refused(
                    pod, reason=assigned.reason, message=assigned.message
                )
        elif assigned is not None and self._cache is not None and settings.prefetch:
            self._cache.prefetch(self._provider.cache_key(assigned, settings))

    def maintain(self) -> int:
        """Forget unused credentials and refresh used ones that are due; returns refreshes."""
        if self._cache is None:
            return 0
        keys = self.keys_in_use()
        self._cache.retain(keys)
        return self._cache.refresh_due(keys)

    async def close(self) -> None:
        if self._cache is not None:
            await self._cache.close()
        if self._source is not None and self._source.close is not None:
            await self._source.close()


async def build(provider: IdentityProvider[A, K, V], context: Context) -> Layer[A, K, V]:
    """Open `provider`'s source and wire it."""
    return Layer(provider, context, await provider.open_source(context))
