"""IMDSv2 session tokens issued by the proxy: binding, expiry, bounds, TTL parsing."""

from __future__ import annotations

import pytest

from podwarden.metadata.tokens import TokenCheck, TokenStore, parse_ttl


class Clock:
    def __init__(self) -> None:
        self.now = 50.0

    def __call__(self) -> float:
        return self.now


def test_token_is_valid_only_for_its_client_and_only_until_expiry():
    clock = Clock()
    store = TokenStore(capacity=10, clock=clock)
    token = store.mint(client="10.0.0.5", ttl=30)
    assert len(token) >= 40
    assert store.check(token, client="10.0.0.5") is TokenCheck.VALID
    assert store.check(token, client="10.0.0.6") is TokenCheck.OTHER_CLIENT
    assert store.check("not-a-token", client="10.0.0.5") is TokenCheck.UNKNOWN
    clock.now += 30
    assert store.check(token, client="10.0.0.5") is TokenCheck.EXPIRED
    assert store.check(token, client="10.0.0.5") is TokenCheck.UNKNOWN


def test_tokens_are_unique():
    store = TokenStore(capacity=1000)
    tokens = {store.mint(client="c", ttl=60) for _ in range(500)}
    assert len(tokens) == 500


def test_store_is_bounded_dropping_expired_then_oldest():
    clock = Clock()
    store = TokenStore(capacity=3, clock=clock)
    short = store.mint(client="c", ttl=1)
    first = store.mint(client="c", ttl=100)
    second = store.mint(client="c", ttl=100)
    clock.now += 2
    third = store.mint(client="c", ttl=100)  # evicts the expired one only
    assert store.check(first, client="c") is TokenCheck.VALID
    assert store.check(short, client="c") is TokenCheck.UNKNOWN
    store.mint(client="c", ttl=100)  # full of live tokens: the oldest goes
    assert len(store) == 3
    assert store.check(first, client="c") is TokenCheck.UNKNOWN
    assert store.check(second, client="c") is TokenCheck.VALID
    assert store.check(third, client="c") is TokenCheck.VALID


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (["1"], 1),
        (["21600"], 21600),
        ([" 300 "], 300),
        (["0"], None),
        (["21601"], None),
        (["-5"], None),
        (["abc"], None),
        (["1.5"], None),
        ([], None),
        (["60", "60"], None),
        (["9999999999"], None),
    ],
)
def test_ttl_header_parsing(values, expected):
    assert parse_ttl(values) == expected


def test_one_client_minting_in_a_loop_evicts_only_its_own_tokens():
    store = TokenStore(capacity=100, per_client=3)
    victim = store.mint(client="10.0.0.7", ttl=600)
    mine = [store.mint(client="10.0.0.66", ttl=600) for _ in range(50)]
    assert store.check(victim, client="10.0.0.7") is TokenCheck.VALID
    assert [store.check(t, client="10.0.0.66") for t in mine[-3:]] == [TokenCheck.VALID] * 3
    assert store.check(mine[0], client="10.0.0.66") is TokenCheck.UNKNOWN
    assert len(store) == 4
