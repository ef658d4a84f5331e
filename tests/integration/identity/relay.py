"""A recording relay in front of moto's STS: what the proxy actually sent, as AWS received it.

STS speaks the query protocol: every input is a form field of the POST body
(`RoleArn`, `ExternalId`, `Tags.member.1.Key`, ...), and the signer's key is
in the Authorization header (`Credential=AKID/date/region/sts/aws4_request`).
The relay forwards the request byte for byte (Host header included, so moto's
signature check still passes) and keeps a parsed copy of each.
"""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import aiohttp
from aiohttp import web

_CREDENTIAL = re.compile(r"Credential=([^/,\s]+)/")
_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length"}


@dataclass(frozen=True)
class Call:
    """One request as STS received it."""

    form: dict[str, str]
    access_key: str | None
    session_token: str | None


@dataclass
class Relay:
    url: str
    calls: list[Call] = field(default_factory=list)

    def actions(self, action: str) -> list[Call]:
        return [c for c in self.calls if c.form.get("Action") == action]


@asynccontextmanager
async def recording_relay(target: str) -> AsyncIterator[Relay]:
    """A relay on 127.0.0.1 forwarding to `target` (moto) and recording every request."""
    relay = Relay(url="")
    session = aiohttp.ClientSession(auto_decompress=False)

    async def forward(request: web.Request) -> web.StreamResponse:
        body = await request.read()
        form = dict(urllib.parse.parse_qsl(body.decode(), keep_blank_values=True))
        found = _CREDENTIAL.search(request.headers.get("Authorization", ""))
        relay.calls.append(
            Call(
                form=form,
                access_key=found.group(1) if found else None,
                session_token=request.headers.get("X-Amz-Security-Token"),
            )
        )
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP}
        async with session.request(
            request.method, target + request.path_qs, data=body, headers=headers
        ) as answer:
            content = await answer.read()
            kept = {k: v for k, v in answer.headers.items() if k.lower() not in _HOP}
            return web.Response(status=answer.status, body=content, headers=kept)

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", forward)
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    try:
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        relay.url = f"http://127.0.0.1:{port}"
        yield relay
    finally:
        await runner.cleanup()
        await session.close()
