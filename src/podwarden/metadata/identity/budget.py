"""How much IAM work one pod may cause: distinct GCE scope sets, and calls per minute.

A GCE token request may name its own `?scopes=`, and every distinct value is
its own cache key, so its own generateAccessToken call made with the node's
credentials: 100 spellings from one pod were 100 IAM calls (issue 9). So, per
pod:

- at most `max_scope_sets` distinct scope sets in use besides the proxy's
  default one (a set unused for `scope_set_ttl` seconds no longer counts); a
  set the pod already uses, and the default, always work, a new one beyond the
  bound is refused;
- at most `max_calls` IAM calls started on its behalf in any `window` seconds;
  an answer the cache already holds costs no call and is never refused.

Refusals are answered 429 and counted in
`podwarden_identity_token_refusals_total{reason="scope-sets"|"rate"}`. What is
remembered is bounded too (`max_pods`, least recently seen forgotten first).
"""

from __future__ import annotations

import collections
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from prometheus_client import Counter

Refusal = Literal["scope-sets", "rate"]
REFUSALS = Counter(
    "podwarden_identity_token_refusals_total",
    "GCE token requests refused to bound the IAM calls one pod causes, by reason",
    ["reason"],
)


@dataclass
class _Pod:
    scope_sets: dict[tuple[str, ...], float] = field(default_factory=dict)  # set -> last use
    calls: collections.deque[float] = field(default_factory=collections.deque)


class TokenBudget:
    """Admits or refuses one pod's token request before it may reach IAM."""

    def __init__(
        self,
        *,
        max_scope_sets: int = 8,
        max_calls: int = 12,
        window: float = 60.0,
        scope_set_ttl: float = 3600.0,
        max_pods: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_scope_sets < 1 or max_calls < 1:
            raise ValueError("budgets must be >= 1")
        self._max_scope_sets = max_scope_sets
        self._max_calls = max_calls
        self._window = window
        self._ttl = scope_set_ttl
        self._max_pods = max_pods
        self._clock = clock
        self._pods: collections.OrderedDict[str, _Pod] = collections.OrderedDict()
        self.refused: collections.Counter[str] = collections.Counter()

    def admit(
        self, pod: str, scopes: tuple[str, ...], *, cached: bool, default: bool = False
    ) -> Refusal | None:
        """None to go ahead (a call is charged unless `cached`), else why not.

        `default`: the proxy's own scopes, which every pod may use (not counted as a set).
        """
        now = self._clock()
        state = self._pods.pop(pod, None) or _Pod()
        self._pods[pod] = state  # most recently seen last
        while len(self._pods) > self._max_pods:
            self._pods.popitem(last=False)
        for stale in [s for s, used in state.scope_sets.items() if now - used > self._ttl]:
            del state.scope_sets[stale]
        known = default or scopes in state.scope_sets
        if not known and len(state.scope_sets) >= self._max_scope_sets:
            return self._refuse("scope-sets")
        if not cached:
            while state.calls and now - state.calls[0] >= self._window:
                state.calls.popleft()
            if len(state.calls) >= self._max_calls:
                return self._refuse("rate")
            state.calls.append(now)
        if not default:
            state.scope_sets[scopes] = now
        return None

    def _refuse(self, reason: Refusal) -> Refusal:
        self.refused[reason] += 1
        REFUSALS.labels(reason).inc()
        return reason
