"""The proxy's only network I/O towards the metadata service.

One aiohttp ClientSession with a pooled keep-alive connector serves every
ordinary forwarded request; GCE long-polls (wait_for_change, held upstream for
minutes) go through a second session with its own pool, so however many a pod
sends they never take a connection ordinary requests need (see `longpoll.py`).
A caller that is cancelled (its client left) closes its upstream connection,
which ends the upstream's wait too. Callers hand over the target and headers the policy
rebuilt (never raw client bytes); nothing here adds X-Forwarded-For or any
header of its own except, for AWS, the proxy's OWN IMDSv2 session token, which
it obtains with a PUT and renews before it expires. A client's token is never
forwarded. Every network failure becomes `UpstreamError` with a short text
the proxy can show to the client as a 502.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass

import aiohttp
import yarl

from podwarden.metadata.imdsv2_tokens import MAX_TTL, TOKEN_HEADER
from podwarden.metadata.model import ProviderName
from podwarden.metadata.settings import ProxySettings

# Headers of an upstream answer that reach the client; everything else is dropped.
PASSED_RESPONSE_HEADERS = ("content-type", "etag", "last-modified", "location")
_TOKEN_RENEW_MARGIN = 60.0
_TOKEN_RETRY_AFTER = 30.0


class UpstreamError(Exception):
    """The metadata service could not be reached or did not answer in time."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind  # metrics label: connect, timeout, protocol
        self.message = message


@dataclass(frozen=True, slots=True)
class UpstreamResponse:
    """An upstream answer, fully read."""

    status: int
    body: bytes
    headers: tuple[tuple[str, str], ...]


class Upstream:
    """A keep-alive pool to one metadata service. Use `open()` then `close()`."""

    def __init__(
        self, settings: ProxySettings, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._base = settings.upstream_base
        self._provider = settings.provider
        self._timeout = aiohttp.ClientTimeout(
            total=None,
            connect=settings.upstream_connect_timeout,
            sock_read=settings.upstream_timeout,
        )
        self._long_poll_timeout = aiohttp.ClientTimeout(
            total=None,
            connect=settings.upstream_connect_timeout,
            sock_read=settings.long_poll_timeout,
        )
        self._pool_size = settings.upstream_pool_size
        self._long_poll_pool_size = settings.long_poll_pool_size
        self._clock = clock
        self._session: aiohttp.ClientSession | None = None
        self._long_poll_session: aiohttp.ClientSession | None = None
        self._token: str | None = None
        self._token_renew_at = 0.0
        self._token_lock = asyncio.Lock()

    async def open(self) -> None:
        self._session = self._pool(self._pool_size, self._timeout)
        self._long_poll_session = self._pool(self._long_poll_pool_size, self._long_poll_timeout)

    @staticmethod
    def _pool(size: int, timeout: aiohttp.ClientTimeout) -> aiohttp.ClientSession:
        connector = aiohttp.TCPConnector(limit=size, keepalive_timeout=30.0, use_dns_cache=True)
        return aiohttp.ClientSession(
            connector=connector,
            timeout=timeout,
            auto_decompress=False,
            skip_auto_headers=("User-Agent", "Accept", "Accept-Encoding"),
            trust_env=False,  # never route metadata traffic through an HTTP_PROXY
        )

    async def close(self) -> None:
        for session in (self._session, self._long_poll_session):
            if session is not None:
                await session.close()
        self._session = self._long_poll_session = None

    async def fetch(
        self,
        *,
        method: str,
        target: str,
        headers: tuple[tuple[str, str], ...],
        long_poll: bool = False,
    ) -> UpstreamResponse:
        """Send one rebuilt request and read the whole answer (`long_poll`: its own pool)."""
        sent = list(headers)
        if self._provider is ProviderName.AWS:
            token = await self._aws_token()
            if token is not None:
                sent.append(("X-aws-ec2-metadata-token", token))
        response = await self._send(method, target, sent, long_poll=long_poll)
        if response.status == 401 and self._provider is ProviderName.AWS and self._token:
            # The upstream forgot our token (restart, clock jump): renew once and retry.
            self._token_renew_at = 0.0
            token = await self._aws_token()
            sent = [h for h in sent if h[0].lower() != TOKEN_HEADER]
            if token is not None:
                sent.append(("X-aws-ec2-metadata-token", token))
            response = await self._send(method, target, sent, long_poll=False)
        return response

    async def _send(
        self, method: str, target: str, headers: list[tuple[str, str]], *, long_poll: bool
    ) -> UpstreamResponse:
        session = self._long_poll_session if long_poll else self._session
        if session is None:
            raise UpstreamError("closed", "the upstream connection pool is closed")
        try:
            async with session.request(
                method,
                # `target` was encoded by the policy; send it byte for byte.
                yarl.URL(self._base + target, encoded=True),
                headers=headers,
                allow_redirects=False,
            ) as response:
                body = await response.read()
                kept = tuple(
                    (name, response.headers[name])
                    for name in PASSED_RESPONSE_HEADERS
                    if name in response.headers
                )
                return UpstreamResponse(status=response.status, body=body, headers=kept)
        except TimeoutError:
            raise UpstreamError("timeout", "the metadata service did not answer in time") from None
        except aiohttp.ClientConnectionError as exc:
            kind = "connect" if isinstance(exc, aiohttp.ClientConnectorError) else "protocol"
            raise UpstreamError(kind, f"the metadata service is unreachable ({kind})") from None
        except aiohttp.ClientError:
            raise UpstreamError("protocol", "the metadata service sent an invalid answer") from None

    async def _aws_token(self) -> str | None:
        """The proxy's own upstream session token, renewed ahead of expiry.

        An upstream that refuses tokens (IMDSv1 only) gets token-less requests;
        the PUT is retried later. Concurrent callers share one PUT.
        """
        if self._clock() < self._token_renew_at:
            return self._token
        async with self._token_lock:
            if self._clock() < self._token_renew_at:
                return self._token
            try:
                response = await self._send(
                    "PUT",
                    "/latest/api/token",
                    [("X-aws-ec2-metadata-token-ttl-seconds", str(MAX_TTL))],
                    long_poll=False,
                )
            except UpstreamError:
                self._token, self._token_renew_at = None, 0.0
                raise
            if response.status == 200 and response.body.strip():
                self._token = response.body.decode("ascii", "replace").strip()
                self._token_renew_at = self._clock() + MAX_TTL - _TOKEN_RENEW_MARGIN
            else:
                self._token = None
                self._token_renew_at = self._clock() + _TOKEN_RETRY_AFTER
            return self._token
