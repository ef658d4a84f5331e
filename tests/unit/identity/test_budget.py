"""The per-pod bound on GCE scope sets and IAM calls (issue 9, finding 8)."""

from __future__ import annotations

from podwarden.metadata.identity.budget import REFUSALS, TokenBudget


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_calls_per_window_are_bounded_and_cached_answers_are_free():
    clock = Clock()
    budget = TokenBudget(max_scope_sets=8, max_calls=3, window=60, clock=clock)
    scopes = ("s",)
    assert [budget.admit("pod-a", scopes, cached=False) for _ in range(4)] == [
        None,
        None,
        None,
        "rate",
    ]
    assert budget.admit("pod-a", scopes, cached=True) is None  # no IAM call: never refused
    assert budget.admit("pod-b", scopes, cached=False) is None  # another pod, its own budget
    clock.now += 60
    assert budget.admit("pod-a", scopes, cached=False) is None  # the window moved on


def test_new_scope_sets_beyond_the_bound_are_refused_known_ones_and_the_default_are_not():
    clock = Clock()
    budget = TokenBudget(max_scope_sets=2, max_calls=100, scope_set_ttl=600, clock=clock)
    before = REFUSALS.labels("scope-sets")._value.get()
    assert budget.admit("p", ("a",), cached=False) is None
    assert budget.admit("p", ("b",), cached=False) is None
    assert budget.admit("p", ("c",), cached=False) == "scope-sets"
    assert budget.admit("p", ("a",), cached=False) is None
    assert budget.admit("p", ("default",), cached=False, default=True) is None
    assert budget.refused["scope-sets"] == 1
    assert REFUSALS.labels("scope-sets")._value.get() - before == 1
    clock.now += 601  # sets unused for the TTL no longer count
    assert budget.admit("p", ("c",), cached=False) is None


def test_what_is_remembered_is_bounded():
    budget = TokenBudget(max_scope_sets=1, max_calls=1, max_pods=2)
    for pod in ("p1", "p2", "p3"):
        assert budget.admit(pod, ("a",), cached=False) is None
    assert budget.admit("p1", ("b",), cached=False) is None  # p1 was forgotten first
