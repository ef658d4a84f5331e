"""HTTP/1.1 serving for the metadata proxy: httptools parses, this module keeps order.

Why not aiohttp's server: measured on this project's bench machine, aiohttp's
server machinery (a Request object, a StreamResponse, its writer and a task
per connection) costs ~23 µs of CPU per request, while a plain asyncio
protocol on the same uvloop costs ~5 µs. The proxy answers most requests from
memory, so aiohttp's server was most of its CPU. Parsing stays in a well-kept
library (httptools, bindings to llhttp, Node.js's parser, which aiohttp's C
extension uses too); this module does only the connection bookkeeping a server
needs around it: keep-alive, pipelined requests answered in order, limits on
the target, headers and body, 100-continue, back-pressure, idle timeouts and
a drain that lets in-flight requests finish, and the end of a request whose
client has gone: a closed connection cancels the request being served (so a
held upstream request is let go at once), and a client that half-closes while
waiting for a request the owner marks `abandon_on_eof` (a long-poll) is taken
as gone too, as nginx does by default; other requests are still answered
after a half-close.

Hardening a pod-facing port needs (llhttp already refuses Content-Length with
Transfer-Encoding, duplicate lengths, obs-fold, bare CR/LF, bad header names
and NUL): only HTTP/1.0 and 1.1 are served (0.9 and 2.0 are refused with
505); after a 400 the connection closes, since a request the proxy could not
take as canonical may be one whose framing a client and this server read
differently; a request must arrive whole within `header_timeout` (slowloris);
at most `max_connections` connections are served at once, and at most
`max_per_client` from one address (so one pod cannot hold them all); the client is the
TCP peer and nothing else (no PROXY protocol, no forwarding header).

The request-target and header lines reach the handler exactly as sent: no
normalisation happens here, the firewall decides what they mean.
"""

from __future__ import annotations

import asyncio
import http
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from email.utils import formatdate
from typing import cast

import httptools

Answer = tuple[bytes, bytes]
"""(status line and header lines, each ending in CRLF; body). Content-Length,
Date and Connection are added here."""


@dataclass(slots=True)
class Request:
    """One parsed request. `oversize` requests carry no body: answer them with 413."""

    method: str
    target: str
    raw_headers: tuple[tuple[bytes, bytes], ...]
    client: str
    body: bytes = b""
    has_body: bool = False
    oversize: bool = False
    keep_alive: bool = True
    http10: bool = False


Handler = Callable[[Request], "Answer | Awaitable[Answer]"]
"""Returns the answer at once (the hot path) or an awaitable of it."""


@dataclass(frozen=True, slots=True)
class Limits:
    """What one request may carry before it is refused (bytes, counts, seconds)."""

    max_target: int = 8190
    max_header_bytes: int = 65536
    max_headers: int = 128
    max_body: int = 65536
    idle_timeout: float = 75.0
    header_timeout: float = 10.0  # a request (head and body) must arrive whole this fast
    max_connections: int = 4096  # more at once are answered 503 and closed
    max_per_client: int = 256  # connections from one client address at once
    max_queued: int = 16  # pipelined requests waiting per connection before reading pauses


class _Refused(Exception):
    """Raised from a parser callback; the connection answers `status` and closes."""


_CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
_BAD = {
    400: b"HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\n",
    414: b"HTTP/1.1 414 URI Too Long\r\nContent-Type: text/plain; charset=utf-8\r\n",
    431: b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\n",
    503: b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\n",
    505: b"HTTP/1.1 505 HTTP Version Not Supported\r\nContent-Type: text/plain; charset=utf-8\r\n",
}
_BAD_BODY = {
    400: b"malformed HTTP request\n",
    414: b"request-target too long\n",
    431: b"request headers too large\n",
    503: b"too many connections to the metadata proxy\n",
    505: b"only HTTP/1.0 and HTTP/1.1 are served\n",
}
_SERVED_VERSIONS = ("1.1", "1.0")


class Server:
    """Connections of one listening socket; `start`, then `pre_shutdown` and `close`."""

    def __init__(
        self,
        handler: Handler,
        *,
        limits: Limits,
        refusal_headers: bytes = b"",
        on_refused: Callable[[str, int], None] | None = None,
        abandon_on_eof: Callable[[Request], bool] | None = None,
    ) -> None:
        """`refusal_headers` (complete header lines) go on this layer's own refusals too,
        so a provider's always-present headers are on every answer; `on_refused(client,
        status)` lets the owner log and count requests refused before they were parsed;
        `abandon_on_eof(request)` says whether a request still being served is dropped
        when its client half-closes (true for long-polls)."""
        self.handler = handler
        self.limits = limits
        self.refusal_headers = refusal_headers
        self.on_refused = on_refused
        self.abandon_on_eof = abandon_on_eof
        self.draining = False
        self.connections: set[_Connection] = set()
        self.per_client: dict[str, int] = {}
        self._listener: asyncio.Server | None = None
        self._sweeper: asyncio.Task[None] | None = None
        self._date_second = -1
        self._date_line = b""

    async def start(self, host: str, port: int, *, backlog: int) -> int:
        """Listen; returns the bound port (port 0 picks a free one)."""
        loop = asyncio.get_running_loop()
        self._listener = await loop.create_server(
            lambda: _Connection(self), host, port, backlog=backlog
        )
        self._sweeper = loop.create_task(self._sweep())
        return int(self._listener.sockets[0].getsockname()[1])

    def pre_shutdown(self) -> None:
        """Stop accepting; idle keep-alive connections close now, busy ones after their answer."""
        self.draining = True
        if self._listener is not None:
            self._listener.close()
        for connection in list(self.connections):
            connection.close_if_idle()

    async def close(self) -> None:
        """Drop every connection and cancel what is still running."""
        self.pre_shutdown()
        if self._sweeper is not None:
            self._sweeper.cancel()
        for connection in list(self.connections):
            connection.abort()

    def date_line(self) -> bytes:
        now = int(time.time())
        if now != self._date_second:
            self._date_second = now
            self._date_line = f"Date: {formatdate(now, usegmt=True)}\r\n".encode()
        return self._date_line

    async def _sweep(self) -> None:
        """Close connections idle too long, or too slow to send a whole request (slowloris)."""
        timeout = self.limits.idle_timeout
        header_timeout = self.limits.header_timeout
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(min(timeout / 2, header_timeout / 2, 5.0))
            now = loop.time()
            for connection in list(self.connections):
                reading = connection.reading_since
                too_slow = reading is not None and reading < now - header_timeout
                if too_slow or connection.last_active < now - timeout:
                    connection.close_if_idle()


class _Connection(asyncio.Protocol):
    """One client connection: parse, dispatch in order, write answers."""

    def __init__(self, server: Server) -> None:
        self._server = server
        self._limits = server.limits
        self._loop = asyncio.get_event_loop()
        self._parser = httptools.HttpRequestParser(self)
        self._transport: asyncio.Transport | None = None
        self._client = ""
        self._queue: deque[Request] = deque()
        self._task: asyncio.Task[None] | None = None
        self._serving: Request | None = None  # the request `_task` answers
        self._ignore_input = False  # after a refusal or a last request: nothing more is read
        self._failed = 0  # a parse failure to answer once the answers owed before it are out
        self._close_when_done = False
        self._read_paused = False
        self._write_paused = False
        self.last_active = self._loop.time()
        # When the request being read began (None between requests): a request, head
        # and body, that is not whole within `header_timeout` closes the connection.
        self.reading_since: float | None = self.last_active
        self._begin()

    def _begin(self) -> None:
        self._url = b""
        self._headers: list[tuple[bytes, bytes]] = []
        self._header_bytes = 0
        self._body: list[bytes] = []
        self._body_size = 0
        self._has_body = False
        self._discard = False
        self._refusal = 400

    # asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses, only alike.
        self._transport = cast(asyncio.Transport, transport)
        peer = transport.get_extra_info("peername")
        self._client = str(peer[0]) if isinstance(peer, tuple) and peer else ""
        server = self._server
        if (
            len(server.connections) >= self._limits.max_connections
            or server.per_client.get(self._client, 0) >= self._limits.max_per_client
        ):
            self._ignore_input = True
            self._answer_and_close(503)
            return
        server.connections.add(self)
        server.per_client[self._client] = server.per_client.get(self._client, 0) + 1
        if self._server.draining:
            transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        server = self._server
        if self in server.connections:
            server.connections.discard(self)
            left = server.per_client[self._client] - 1
            if left:
                server.per_client[self._client] = left
            else:
                del server.per_client[self._client]
        self._transport = None
        self._queue.clear()
        if self._task is not None:  # nobody is left to answer: let its upstream request go
            self._task.cancel()

    def data_received(self, data: bytes) -> None:
        if self._ignore_input:
            return
        self.last_active = self._loop.time()
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            # llhttp stops after a request asking for an upgrade (already answered as a
            # plain request): no protocol switch here, so the connection ends after it.
            self._ignore_input = True
            self._close_when_done = True
            self._close_if_done()
        except httptools.HttpParserError:
            if not self._ignore_input:  # bytes after a `Connection: close` request are dropped
                self._fail(self._refusal)

    def eof_received(self) -> bool:
        """The client finished sending: answer what is owed, then close (half-close works).

        A request the server marks `abandon_on_eof` (a long-poll) is dropped instead: a
        client that closes its socket sends the same FIN as one that half-closes, and a
        long-poll must not outlive the client that asked for it.
        """
        self._ignore_input = True
        self._close_when_done = True
        abandon = self._server.abandon_on_eof
        serving = self._serving
        if self._task is not None and serving is not None and abandon is not None:
            try:
                dropped = abandon(serving)
            except Exception:  # a predicate that fails keeps the default: answer
                dropped = False
            if dropped:
                self._queue.clear()
                self._task.cancel()
                if self._transport is not None:
                    self._transport.close()
                return True
        self._close_if_done()
        return True  # keep the transport open for the answers still being served

    def pause_writing(self) -> None:
        self._write_paused = True
        self._update_reading()

    def resume_writing(self) -> None:
        self._write_paused = False
        self._update_reading()

    # httptools callbacks

    def on_message_begin(self) -> None:
        self.reading_since = self._loop.time()
        self._begin()

    def on_url(self, url: bytes) -> None:
        self._url += url
        if len(self._url) > self._limits.max_target:
            self._refusal = 414
            raise _Refused

    def on_header(self, name: bytes, value: bytes) -> None:
        self._header_bytes += len(name) + len(value)
        self._headers.append((name, value))
        if (
            self._header_bytes > self._limits.max_header_bytes
            or len(self._headers) > self._limits.max_headers
        ):
            self._refusal = 431
            raise _Refused

    def on_headers_complete(self) -> None:
        if self._parser.get_http_version() not in _SERVED_VERSIONS:
            self._refusal = 505  # HTTP/0.9 has no headers to judge, 2.0 is not spoken here
            raise _Refused
        length = -1
        chunked = expect = False
        for name, value in self._headers:
            lowered = name.lower()
            if lowered == b"content-length":
                length = int(value)  # llhttp has validated it
            elif lowered == b"transfer-encoding":
                chunked = True
            elif lowered == b"expect":
                expect = value.lower() == b"100-continue"
        self._has_body = length > 0 or chunked
        if length > self._limits.max_body:
            self._refuse_body()
        elif expect and self._has_body and self._transport is not None:
            self._transport.write(_CONTINUE)

    def on_body(self, body: bytes) -> None:
        if self._discard:
            return
        self._body_size += len(body)
        if self._body_size > self._limits.max_body:
            self._refuse_body()
            return
        self._body.append(body)

    def on_message_complete(self) -> None:
        self.reading_since = None
        if self._discard or self._ignore_input:  # nothing after a last request is answered
            return
        request = self._request(body=b"".join(self._body))
        if not request.keep_alive:
            self._ignore_input = True
        self._dispatch(request)

    # dispatching, in order

    def _request(self, *, body: bytes, oversize: bool = False) -> Request:
        parser = self._parser
        return Request(
            method=parser.get_method().decode("ascii", "replace"),
            target=self._url.decode("latin-1"),
            raw_headers=tuple(self._headers),
            client=self._client,
            body=body,
            has_body=self._has_body,
            oversize=oversize,
            keep_alive=bool(parser.should_keep_alive()) and not oversize,
            http10=parser.get_http_version() == "1.0",
        )

    def _refuse_body(self) -> None:
        """Answer 413 as soon as the body is known to be too big, then close."""
        self._discard = True
        self._ignore_input = True  # nothing after this request is read
        self._dispatch(self._request(body=b"", oversize=True))

    def _dispatch(self, request: Request) -> None:
        if self._task is not None or self._queue:
            self._queue.append(request)
            self._update_reading()
            return
        self._run(request)

    def _run(self, request: Request) -> None:
        try:
            result = self._server.handler(request)
        except Exception:
            result = _internal_error()
        if type(result) is tuple:
            self._write(request, result)
            return
        self._serving = request
        self._task = self._loop.create_task(self._await(request, result))  # type: ignore[arg-type]

    async def _await(self, request: Request, pending: Awaitable[Answer]) -> None:
        try:
            answer = await pending
        except Exception:
            answer = _internal_error()
        self._task = None
        self._serving = None
        self._write(request, answer)
        while self._queue and self._task is None and self._transport is not None:
            self._run(self._queue.popleft())
        if self._failed and self._task is None and not self._queue:
            self._fail(self._failed)
        self._close_if_done()
        self._update_reading()

    def _write(self, request: Request, answer: Answer) -> None:
        transport = self._transport
        if transport is None or transport.is_closing():
            return
        head, body = answer
        # After a 400 nothing more on this connection is trusted: the refused request may
        # be one whose framing the client (or a proxy before us) reads differently.
        close = not request.keep_alive or self._server.draining or head[9:13] == b"400 "
        if close:
            ending = b"Connection: close\r\n\r\n"
        elif request.http10:
            ending = b"Connection: keep-alive\r\n\r\n"
        else:
            ending = b"\r\n"
        length = b"Content-Length: %d\r\n" % len(body)
        sent_body = b"" if request.method == "HEAD" else body
        transport.write(head + length + self._server.date_line() + ending + sent_body)
        self.last_active = self._loop.time()
        if close:
            self._queue.clear()
            self._ignore_input = True
            transport.close()

    def _fail(self, status: int) -> None:
        """A request that cannot be parsed: answer it after the answers owed before it, close."""
        self._ignore_input = True  # nothing after it is trusted
        transport = self._transport
        if transport is None:
            return
        if self._task is not None or self._queue:
            self._failed = status
            return
        self._answer_and_close(status)

    def _answer_and_close(self, status: int) -> None:
        transport = self._transport
        if transport is None or transport.is_closing():
            return
        body = _BAD_BODY[status]
        server = self._server
        transport.write(
            _BAD[status]
            + server.refusal_headers
            + b"Content-Length: %d\r\n" % len(body)
            + b"Connection: close\r\n\r\n"
            + body
        )
        transport.close()
        if server.on_refused is not None:
            try:
                server.on_refused(self._client, status)
            except Exception:  # accounting must never break the connection handling
                pass

    def _close_if_done(self) -> None:
        done = self._task is None and not self._queue
        if self._close_when_done and done and self._transport is not None:
            self._transport.close()

    def _update_reading(self) -> None:
        transport = self._transport
        if transport is None:
            return
        pause = self._write_paused or len(self._queue) >= self._limits.max_queued
        if pause and not self._read_paused:
            self._read_paused = True
            transport.pause_reading()
        elif not pause and self._read_paused:
            self._read_paused = False
            transport.resume_reading()

    def close_if_idle(self) -> None:
        if self._transport is None:
            return
        if self._task is None and not self._queue:
            self._ignore_input = True
            self._transport.close()

    def abort(self) -> None:
        if self._task is not None:
            self._task.cancel()
        if self._transport is not None:
            self._transport.abort()


def _internal_error() -> Answer:
    body = b"internal error in the metadata proxy\n"
    return (
        b"HTTP/1.1 500 Internal Server Error\r\nContent-Type: text/plain; charset=utf-8\r\n",
        body,
    )


def status_line(status: int) -> bytes:
    """`HTTP/1.1 <status> <reason>` and CRLF."""
    return f"HTTP/1.1 {status} {_REASONS.get(status, 'Unknown')}\r\n".encode()


_REASONS = {int(s): s.phrase for s in http.HTTPStatus}
