"""Client address → pod → assignment, with the races kube2iam and kiam got wrong closed.

- Only the TCP peer address identifies a pod: no header (X-Forwarded-For or
  any other) is ever read here.
- An address of the node itself (a host-network caller) has no identity, at
  once (`local`).
- An address no pod owns waits a bounded time for the cluster view (a new
  pod's first request can beat the watch event), then gets nothing.
- An address two live pods claim (reused before the old pod's deletion
  reached us) gets nothing.
- After a slow step (a credential fetch) `confirm` checks that the address
  still belongs to the same pod with the same assignment, so a pod deleted
  or de-annotated meanwhile is not answered with what it no longer has.
- With an API (not the cluster file), `fetch_verified` confirms the view's
  answer with a consistent read before credentials go out (`verify`), so a
  watch that lags a whole delete-and-recreate cycle cannot hand a new pod the
  old pod's credentials.
"""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Generic, TypeVar

from podwarden import logs
from podwarden.kube import store
from podwarden.kube.objects import Pod
from podwarden.metadata.identity import local
from podwarden.metadata.identity.assign import Refusal
from podwarden.metadata.identity.events import Recorder
from podwarden.metadata.identity.verify import Verifier

A = TypeVar("A")
C = TypeVar("C")
MEMO_ENTRIES = 20_000
_log = logs.get("metadata.identity.resolver")


@functools.lru_cache(maxsize=65536)
def peer_address(client: str) -> str | None:
    """The canonical address of a TCP peer (IPv4-mapped IPv6 unmapped, zone dropped)."""
    try:
        address = ipaddress.ip_address(client.split("%", 1)[0].strip())
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return str(address.ipv4_mapped)
    return str(address)


@dataclass(frozen=True, slots=True)
class Resolved(Generic[A]):
    """Who asked (`pod`, None when unknown or ambiguous) and what it may have."""

    pod: Pod | None
    assignment: A | None


class Resolver(Generic[A]):
    """Answers "which identity does this client have?" from a `ClusterView`."""

    def __init__(
        self,
        view: store.ClusterView,
        *,
        assign: Callable[[Pod, Mapping[str, str] | None], A | Refusal | None],
        wait: float,
        recorder: Recorder,
        verifier: Verifier | None = None,
    ) -> None:
        self._view = view
        self._verifier = verifier
        self._assign = assign
        self._wait = wait
        self._recorder = recorder
        # (pod, namespace) objects → answer. The view replaces objects on every
        # change, so identity of both objects is a complete key; the entry holds
        # them, so their ids cannot be reused while it lives.
        self._memo: dict[tuple[int, int], tuple[object, object, A | Refusal | None]] = {}

    def assignment_of(self, pod: Pod) -> A | Refusal | None:
        namespace = self._view.namespace(pod.namespace)
        key = (id(pod), id(namespace))
        found = self._memo.get(key)
        if found is not None and found[0] is pod and found[1] is namespace:
            return found[2]
        answer = self._assign(pod, None if namespace is None else namespace.annotations)
        if len(self._memo) >= MEMO_ENTRIES:
            self._memo.clear()
        self._memo[key] = (pod, namespace, answer)
        return answer

    async def resolve(self, client: str) -> Resolved[A]:
        """The pod behind `client` and its assignment (refusals are reported, then None)."""
        address = peer_address(client)
        if address is None:
            return Resolved(None, None)
        if self._view.pod_by_ip(address).kind == "none" and local.is_local(address):
            return Resolved(None, None)  # the node itself or a host-network pod: no identity
        lookup = await self._view.wait_for_ip(address, self._wait)
        if lookup.kind == "ambiguous":
            _log.warning(
                "address claimed by several pods; no identity",
                address=address,
                pods=[p.key for p in lookup.candidates],
            )
            return Resolved(None, None)
        if lookup.pod is None:
            return Resolved(None, None)
        pod = lookup.pod
        found = self.assignment_of(pod)
        if isinstance(found, Refusal):
            if found.report:
                self._recorder.refused(pod, reason=found.reason, message=found.message)
            return Resolved(pod, None)
        return Resolved(pod, found)

    def confirm(self, client: str, resolved: Resolved[A]) -> bool:
        """True when `client` is still exactly that pod with that assignment."""
        address = peer_address(client)
        if address is None or resolved.pod is None or resolved.assignment is None:
            return False
        lookup = self._view.pod_by_ip(address)
        pod = lookup.pod
        if lookup.kind != "one" or pod is None:
            return False
        same_pod = pod.uid == resolved.pod.uid and pod.key == resolved.pod.key
        return same_pod and self.assignment_of(pod) == resolved.assignment

    async def verified(self, client: str, resolved: Resolved[A]) -> Resolved[A]:
        """`resolved` as a consistent read of the API confirms it (unchanged without an API).

        The API may show another pod on the address (the view is behind): then,
        once the view has caught up, that pod and its own assignment.
        """
        if self._verifier is None or resolved.pod is None:
            return resolved
        address = peer_address(client)
        if address is None:
            return Resolved(None, None)
        pod = await self._verifier.check(address, resolved.pod)
        if pod is None:
            return Resolved(None, None)
        if pod.uid == resolved.pod.uid:
            return resolved
        found = self.assignment_of(pod)
        return Resolved(pod, None if isinstance(found, Refusal) else found)

    async def fetch_verified(
        self,
        client: str,
        resolved: Resolved[A],
        fetch: Callable[[A], Awaitable[C]],
        *,
        accept: Callable[[Resolved[A]], bool],
    ) -> tuple[Resolved[A], C] | None:
        """Credentials for the pod that really is `client` now, or None (refuse).

        Fetches for the view's answer first (normally a cache hit), then
        verifies (so the consistent read is as close to the answer as it can
        be); when the API says the address is another pod, that pod's own
        assignment is used if `accept` agrees (it asked for what that pod has).
        Fetch errors propagate to the caller.
        """
        first = resolved.assignment
        if first is None:
            return None
        credentials = await fetch(first)
        final = await self.verified(client, resolved)
        if final.assignment is None or not accept(final):
            return None
        if final.assignment != first:
            credentials = await fetch(final.assignment)
        if not self.confirm(client, final):
            return None
        return final, credentials
