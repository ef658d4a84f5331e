"""IMDSv2 session tokens that the proxy itself issues to clients.

The proxy answers `PUT /latest/api/token` instead of the upstream: a token
minted upstream would be valid for every pod on the node, whereas a token
minted here is bound to the address that asked for it and dies with its TTL.
The store is bounded, so a client looping on PUT cannot grow memory, and each
client holds at most `per_client` tokens, so one pod minting in a loop only
evicts its own older tokens, never another pod's. When the whole store is full,
expired tokens go first, then the oldest.
"""

from __future__ import annotations

import collections
import enum
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

TOKEN_HEADER = "x-aws-ec2-metadata-token"
TTL_HEADER = "x-aws-ec2-metadata-token-ttl-seconds"
MIN_TTL = 1
MAX_TTL = 21600

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


class TokenCheck(enum.StrEnum):
    """Outcome of presenting a token on a GET."""

    VALID = "valid"
    UNKNOWN = "unknown"
    EXPIRED = "expired"
    OTHER_CLIENT = "other-client"


@dataclass(frozen=True, slots=True)
class _Grant:
    client: str
    expires_at: float


class TokenStore:
    """Random tokens bound to a client address and an expiry, at most `capacity` of them."""

    def __init__(
        self,
        *,
        capacity: int,
        per_client: int = 64,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if capacity < 1 or per_client < 1:
            raise ValueError(f"capacity and per_client must be >= 1, got {capacity}, {per_client}")
        self._capacity = capacity
        self._per_client = per_client
        self._clock = clock
        self._grants: dict[str, _Grant] = {}
        self._by_client: dict[str, collections.deque[str]] = {}

    def __len__(self) -> int:
        return len(self._grants)

    def mint(self, *, client: str, ttl: int) -> str:
        """A fresh token for `client`, valid for `ttl` seconds."""
        owned = self._by_client.setdefault(client, collections.deque())
        while len(owned) >= self._per_client:
            self._grants.pop(owned.popleft(), None)
        if len(self._grants) >= self._capacity:
            self._make_room()
            owned = self._by_client.setdefault(client, collections.deque())
        token = secrets.token_urlsafe(42)
        self._grants[token] = _Grant(client=client, expires_at=self._clock() + ttl)
        owned.append(token)
        return token

    def check(self, token: str, *, client: str) -> TokenCheck:
        """Whether `token` may be used by `client` right now."""
        grant = self._grants.get(token)
        if grant is None:
            return TokenCheck.UNKNOWN
        if self._clock() >= grant.expires_at:
            del self._grants[token]
            return TokenCheck.EXPIRED
        if not secrets.compare_digest(grant.client, client):
            return TokenCheck.OTHER_CLIENT
        return TokenCheck.VALID

    def _make_room(self) -> None:
        now = self._clock()
        for token in [t for t, g in self._grants.items() if g.expires_at <= now]:
            del self._grants[token]
        while len(self._grants) >= self._capacity:
            del self._grants[next(iter(self._grants))]  # dicts keep insertion order: oldest first
        self._by_client = {}
        for token, grant in self._grants.items():
            self._by_client.setdefault(grant.client, collections.deque()).append(token)


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
