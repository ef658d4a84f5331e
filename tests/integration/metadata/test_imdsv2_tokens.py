"""IMDSv2 session tokens issued by the proxy: binding, expiry, the key file, TTL parsing."""

from __future__ import annotations

import os
import stat

import pytest

from podwarden.config import ConfigError
from podwarden.metadata.imdsv2_tokens import KEY_BYTES, TokenCheck, TokenSigner, node_key, parse_ttl

KEY = b"k" * KEY_BYTES


class Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


def test_token_is_valid_only_for_its_client_and_only_until_expiry():
    clock = Clock()
    signer = TokenSigner(key=KEY, clock=clock)
    token = signer.mint(client="10.0.0.5", ttl=30)
    assert len(token) >= 40
    assert signer.check(token, client="10.0.0.5") is TokenCheck.VALID
    assert signer.check(token, client="10.0.0.6") is TokenCheck.OTHER_CLIENT
    assert signer.check("not-a-token", client="10.0.0.5") is TokenCheck.UNKNOWN
    clock.now += 29.9
    assert signer.check(token, client="10.0.0.5") is TokenCheck.VALID
    clock.now += 0.1
    assert signer.check(token, client="10.0.0.5") is TokenCheck.EXPIRED


def test_tokens_are_unique():
    signer = TokenSigner(key=KEY)
    tokens = {signer.mint(client="c", ttl=60) for _ in range(500)}
    assert len(tokens) == 500


def test_a_token_from_another_key_or_altered_is_unknown():
    token = TokenSigner(key=KEY).mint(client="10.0.0.5", ttl=60)
    assert TokenSigner(key=b"o" * KEY_BYTES).check(token, client="10.0.0.5") is TokenCheck.UNKNOWN
    flipped = token[:-2] + ("A" if token[-2] != "A" else "B") + token[-1]
    assert TokenSigner(key=KEY).check(flipped, client="10.0.0.5") is TokenCheck.UNKNOWN
    for junk in ("", "=" * 10, "é" * 10, "A" * 300, token + "AAAA"):
        assert TokenSigner(key=KEY).check(junk, client="10.0.0.5") is TokenCheck.UNKNOWN


def test_the_key_file_is_created_private_and_read_back(tmp_path):
    path = tmp_path / "token.key"
    first = node_key(path)
    assert len(first) == KEY_BYTES
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert node_key(path) == first  # a restarted proxy reads the same key
    assert node_key(None) != node_key(None)  # without a file: random per process


def test_an_unsafe_or_short_key_file_is_refused(tmp_path):
    loose = tmp_path / "loose.key"
    loose.write_bytes(os.urandom(KEY_BYTES))
    loose.chmod(0o644)
    with pytest.raises(ConfigError, match=r"readable by others \(mode 644\); run chmod 600"):
        node_key(loose)
    short = tmp_path / "short.key"
    short.write_bytes(b"x" * 8)
    short.chmod(0o600)
    with pytest.raises(ConfigError, match="holds 8 bytes; a key needs at least 32"):
        node_key(short)


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
