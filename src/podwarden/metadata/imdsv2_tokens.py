"""IMDSv2 session tokens that the proxy itself issues to clients.

The proxy answers `PUT /latest/api/token` instead of the upstream: a token
minted upstream would be valid for every pod on the node, whereas a token
minted here is bound to the address that asked for it and dies with its TTL.

Why stateless: a token carries its own grant (expiry and client address) and
an HMAC over it made with the node's key, so checking one needs no memory.
Nothing grows however fast a pod mints, no pod's minting can evict another's
tokens, and with a key file (`--token-key-file`, created 0600 on first use) a
token minted before a restart of the proxy is still good after it, as IMDS's
own tokens outlive a restart of the metadata service. Expiry is wall-clock
time for the same reason. Without a key file the key is random per process.
"""

from __future__ import annotations

import base64
import binascii
import enum
import hashlib
import hmac
import os
import secrets
import struct
import time
from collections.abc import Callable
from pathlib import Path

from podwarden.config import ConfigError

TOKEN_HEADER = "x-aws-ec2-metadata-token"
TTL_HEADER = "x-aws-ec2-metadata-token-ttl-seconds"
MIN_TTL = 1
MAX_TTL = 21600
KEY_BYTES = 32
MAX_TOKEN_CHARS = 256  # longer values are not ours: refused before any decoding

# IMDS answers token failures with a small HTML page; SDKs look only at the status.
UNAUTHORIZED_BODY = (
    b'<?xml version="1.0" encoding="iso-8859-1"?>\n'
    b'<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Transitional//EN"\n'
    b'\t"http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd">\n'
    b'<html xmlns="http://www.w3.org/1999/xhtml" xml:lang="en" lang="en">\n'
    b" <head>\n  <title>401 - Unauthorized</title>\n </head>\n"
    b" <body>\n  <h1>401 - Unauthorized</h1>\n </body>\n</html>\n"
)
BAD_REQUEST_BODY = UNAUTHORIZED_BODY.replace(b"401 - Unauthorized", b"400 - Bad Request")
HTML = "text/html"

_MAC_BYTES = 18
_NONCE_BYTES = 8
_HEAD = struct.Struct(">Q")  # expiry, milliseconds since the epoch
_DOMAIN = b"podwarden imdsv2 token v1\x00"


class TokenCheck(enum.StrEnum):
    """Outcome of presenting a token on a GET."""

    VALID = "valid"
    UNKNOWN = "unknown"
    EXPIRED = "expired"
    OTHER_CLIENT = "other-client"


class TokenSigner:
    """Mints and checks tokens `mac(key, expiry | nonce | client) | expiry | nonce | client`."""

    def __init__(self, *, key: bytes, clock: Callable[[], float] = time.time) -> None:
        if len(key) < KEY_BYTES:
            raise ValueError(f"the token key must have at least {KEY_BYTES} bytes")
        self._key = key
        self._clock = clock

    def mint(self, *, client: str, ttl: int) -> str:
        """A fresh token for `client`, valid for `ttl` seconds."""
        expiry = int((self._clock() + ttl) * 1000)
        payload = _HEAD.pack(expiry) + secrets.token_bytes(_NONCE_BYTES) + client.encode()
        raw = self._mac(payload) + payload
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")

    def check(self, token: str, *, client: str) -> TokenCheck:
        """Whether `token` may be used by `client` right now."""
        if not token or len(token) > MAX_TOKEN_CHARS or not token.isascii():
            return TokenCheck.UNKNOWN
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        except (binascii.Error, ValueError):
            return TokenCheck.UNKNOWN
        mac, payload = raw[:_MAC_BYTES], raw[_MAC_BYTES:]
        if len(payload) < _HEAD.size + _NONCE_BYTES:
            return TokenCheck.UNKNOWN
        if not hmac.compare_digest(mac, self._mac(payload)):
            return TokenCheck.UNKNOWN
        (expiry,) = _HEAD.unpack_from(payload)
        if self._clock() * 1000 >= expiry:
            return TokenCheck.EXPIRED
        owner = payload[_HEAD.size + _NONCE_BYTES :]
        if not hmac.compare_digest(owner, client.encode()):
            return TokenCheck.OTHER_CLIENT
        return TokenCheck.VALID

    def _mac(self, payload: bytes) -> bytes:
        return hmac.new(self._key, _DOMAIN + payload, hashlib.sha256).digest()[:_MAC_BYTES]


def node_key(path: Path | None) -> bytes:
    """The token key: read from `path` (created with a random key, mode 0600, if missing).

    Without a path the key is random and lives as long as the process. A key
    file others may read, or one shorter than KEY_BYTES, is a ConfigError.
    """
    if path is None:
        return secrets.token_bytes(KEY_BYTES)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass
    except OSError as exc:
        raise ConfigError(f"token-key-file: cannot create {path}: {exc.strerror}") from None
    else:
        with os.fdopen(fd, "wb") as out:
            out.write(secrets.token_bytes(KEY_BYTES))
    try:
        mode = path.stat().st_mode
        key = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"token-key-file: cannot read {path}: {exc.strerror}") from None
    if mode & 0o077:
        raise ConfigError(
            f"token-key-file: {path} is readable by others (mode {mode & 0o777:o}); "
            "run chmod 600 on it"
        )
    if len(key) < KEY_BYTES:
        raise ConfigError(
            f"token-key-file: {path} holds {len(key)} bytes; a key needs at least {KEY_BYTES}"
        )
    return key


def parse_ttl(values: list[str]) -> int | None:
    """The requested TTL from the header values, or None when it is missing or invalid.

    IMDS accepts exactly one integer header value in 1..21600.
    """
    if len(values) != 1:
        return None
    text = values[0].strip()
    if not text.isdigit() or len(text) > 6:
        return None
    ttl = int(text)
    return ttl if MIN_TTL <= ttl <= MAX_TTL else None
