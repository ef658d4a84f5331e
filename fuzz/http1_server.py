"""Fuzz target: raw bytes on a TCP connection to live metadata proxies (http1 + firewall).

The firewall target judges parsed requests; this one attacks the layer in front
of it, where smuggling and desync live: the bytes go, unparsed, to a real
proxy per provider, served by `http1` on loopback in a background event loop,
in front of a fake metadata service that answers every secret path with a
marker. Half of the inputs are well-formed requests built around a secret path
and then spliced with framing tricks (duplicate lengths, chunked bodies,
folded headers, bare LF, pipelined follow-ups); half are free-form bytes.

Findings (each raises, so libFuzzer saves the input):
- `Bypass`: the fake upstream was asked for a secret path, or the marker
  reached the client;
- `Escaped`: an exception escaped to the event loop (a protocol callback raised);
- `Hang`: the connection neither answered nor ended within `DEADLINE` seconds
  after the client finished sending (half-close);
- `BadAnswer`: something other than an HTTP/1.1 status line came back.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from aiohttp import web

from fuzz.oracle import filtered_read, reads_as_secret
from fuzz.target import GOOD_HEADERS, MUTATIONS, SEEDS
from podwarden import logs
from podwarden.metadata import proxy
from podwarden.metadata.model import ProviderName
from podwarden.metadata.settings import ProxySettings

MARKER = b"FUZZ-SECRET-7f3a"
DEADLINE = 3.0  # seconds after the half-close for the proxy to answer or close
HEADER_TIMEOUT = 0.5  # the proxies cut slow requests off fast, so no input waits long
SPLICES = (
    b"Content-Length: 0\r\n",
    b"Content-Length: 5\r\n",
    b"Transfer-Encoding: chunked\r\n",
    b"Transfer-Encoding: identity\r\n",
    b"Transfer-Encoding: gzip, chunked\r\n",
    b" folded\r\n",
    b"\tfolded\r\n",
    b"\n",
    b"\r",
    b"\x00",
    b"Connection: close\r\n",
    b"Connection: Upgrade\r\nUpgrade: h2c\r\n",
    b"Expect: 100-continue\r\n",
    b"Host: other\r\n",
    b"X-Forwarded-For: 10.9.9.9\r\n",
    b"0\r\n\r\n",
    b"ffffffffffffffff\r\n",
    b" HTTP/1.1\r\n",
    b"\r\n\r\nGET /computeMetadata/v1/instance/attributes/kube-env HTTP/1.1\r\n",
    b"\r\n\r\nGET /latest/meta-data/iam/info HTTP/1.1\r\n",
    b"\r\n\r\nGET /metadata/identity/oauth2/token?api-version=2018-02-01 HTTP/1.1\r\n",
)


class Bypass(AssertionError):
    """A secret path reached the upstream, or a secret answer reached the client."""


class Escaped(AssertionError):
    """An exception escaped into the event loop instead of becoming an answer."""


class Hang(AssertionError):
    """The connection neither answered nor closed in time."""


class BadAnswer(AssertionError):
    """The proxy wrote something that is not an HTTP/1.1 response."""


class Lab:
    """A fake metadata service and one proxy per provider, on a loop in a daemon thread.

    `policy_files` replaces a provider's strict preset (tests use it to prove a
    permissive proxy IS caught); the fuzz run uses the presets.
    """

    def __init__(self, *, policy_files: Mapping[ProviderName, Path] | None = None) -> None:
        self._policy_files = dict(policy_files or {})
        self.loop = asyncio.new_event_loop()
        self.loop.set_exception_handler(self._record)
        self.escaped: list[str] = []
        self.secret_hits: list[str] = []
        self.ports: dict[ProviderName, int] = {}
        self._proxies: list[proxy.RunningProxy] = []
        self._runners: list[web.ServerRunner] = []
        ready = threading.Event()
        threading.Thread(target=self._run, args=(ready,), daemon=True).start()
        if not ready.wait(30):
            raise RuntimeError("the fuzz lab did not start within 30 s")

    def _record(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        self.escaped.append(f"{context.get('message')}: {context.get('exception')!r}")

    def _run(self, ready: threading.Event) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_until_complete(self._start())
        ready.set()
        self.loop.run_forever()

    async def _start(self) -> None:
        for provider in ProviderName:
            runner = web.ServerRunner(web.Server(self._upstream(provider)), access_log=None)
            await runner.setup()
            self._runners.append(runner)
            site = web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            upstream_port = int(runner.addresses[0][1])
            running = await proxy.start(
                ProxySettings(
                    provider=provider,
                    upstream_url=f"http://127.0.0.1:{upstream_port}",
                    policy_file=self._policy_files.get(provider),
                    header_timeout=HEADER_TIMEOUT,
                    idle_timeout=DEADLINE,
                )
            )
            self._proxies.append(running)
            self.ports[provider] = running.port

    def close(self) -> None:
        """Stop the proxies and the fake upstreams, then the loop (its thread ends)."""
        done = asyncio.run_coroutine_threadsafe(self._stop(), self.loop)
        done.result(timeout=30)
        self.loop.call_soon_threadsafe(self.loop.stop)

    async def _stop(self) -> None:
        for running in self._proxies:
            await running.stop(drain_timeout=1.0)
        for runner in self._runners:
            await runner.cleanup()

    def _upstream(self, provider: ProviderName) -> Any:
        async def handle(request: web.BaseRequest) -> web.Response:
            if request.method == "PUT" and request.raw_path == "/latest/api/token":
                return web.Response(text="upstream-token")  # the proxy's own IMDSv2 session
            if filtered_read(provider, request.raw_path):  # the proxy must filter this
                document = {"kube-env": MARKER.decode(), "cluster-name": "c"}
                listing = f"kube-env\ncluster-name\n{MARKER.decode()}\n"
                recursive = "recursive" in request.query_string.lower()
                return web.Response(text=json.dumps(document) if recursive else listing)
            if reads_as_secret(provider, request.raw_path):
                self.secret_hits.append(f"{provider.value}: {request.method} {request.raw_path}")
                return web.Response(body=MARKER)
            return web.Response(body=b"ok", headers={"Metadata-Flavor": "Google"})

        return handle


_lab: Lab | None = None


def lab() -> Lab:
    """The running lab with the strict presets, started on first use (once per process)."""
    global _lab
    if _lab is None:
        logs.configure(level="error")  # one access line per input would drown libFuzzer's output
        _lab = Lab()
    return _lab


def build_bytes(data: bytes) -> tuple[ProviderName, bytes]:
    """Decode fuzz bytes into a provider and what to send on the connection."""
    import atheris

    fdp = atheris.FuzzedDataProvider(data)
    provider = list(ProviderName)[fdp.ConsumeIntInRange(0, 2)]
    if not fdp.ConsumeBool():
        return provider, fdp.ConsumeBytes(fdp.ConsumeIntInRange(0, 600))
    seeds = SEEDS[provider]
    target = seeds[fdp.ConsumeIntInRange(0, len(seeds) - 1)]
    for _ in range(fdp.ConsumeIntInRange(0, 2)):
        position = fdp.ConsumeIntInRange(0, len(target))
        insert = MUTATIONS[fdp.ConsumeIntInRange(0, len(MUTATIONS) - 1)]
        target = target[:position] + insert + target[position:]
    method = ("GET", "HEAD", "PUT", "POST")[fdp.ConsumeIntInRange(0, 3)]
    version = (
        ("1.1", "1.0", "0.9", "2.0")[fdp.ConsumeIntInRange(0, 3)] if fdp.ConsumeBool() else "1.1"
    )
    lines = [f"{method} {target} HTTP/{version}", "Host: 169.254.169.254"]
    lines += [f"{name}: {value}" for name, value in GOOD_HEADERS[provider]]
    message = ("\r\n".join(lines) + "\r\n\r\n").encode()
    for _ in range(fdp.ConsumeIntInRange(0, 3)):
        splice = SPLICES[fdp.ConsumeIntInRange(0, len(SPLICES) - 1)]
        position = fdp.ConsumeIntInRange(0, len(message))
        message = message[:position] + splice + message[position:]
    return provider, message + fdp.ConsumeBytes(fdp.ConsumeIntInRange(0, 40))


def exchange(port: int, payload: bytes) -> bytes:
    """Send `payload`, half-close, read until the proxy closes; raise Hang past DEADLINE."""
    received = bytearray()
    with socket.create_connection(("127.0.0.1", port), timeout=DEADLINE) as connection:
        try:
            connection.sendall(payload)
            connection.shutdown(socket.SHUT_WR)
        except OSError:
            pass  # the proxy refused and closed early: what it answered is still readable
        try:
            while chunk := connection.recv(65536):
                received += chunk
        except TimeoutError:
            raise Hang(
                f"no answer and no close within {DEADLINE} s for {payload[:200]!r}"
            ) from None
        except ConnectionResetError:
            pass  # closed with our unread bytes pending: an end, not a hang
    return bytes(received)


def check(provider: ProviderName, payload: bytes, *, running: Lab | None = None) -> None:
    """One exchange with the provider's proxy, then every finding is checked."""
    running = running or lab()
    answer = exchange(running.ports[provider], payload)
    if running.escaped:
        raise Escaped(f"{running.escaped[0]} after {payload[:200]!r}")
    if running.secret_hits:
        raise Bypass(f"upstream asked for {running.secret_hits[0]} by {payload[:200]!r}")
    if MARKER in answer:
        raise Bypass(f"secret answer sent to the client for {payload[:200]!r}")
    if answer and not answer.startswith(b"HTTP/1.1 "):
        raise BadAnswer(f"{answer[:80]!r} for {payload[:200]!r}")


def one_input(data: bytes) -> None:
    """libFuzzer entry point."""
    provider, payload = build_bytes(data)
    check(provider, payload)
