"""The metadata proxy's HTTP server: raw request in, firewall decision, answer out.

aiohttp's low-level `web.Server` is used instead of an Application because the
firewall must see the request-target exactly as sent: no router, no path
normalisation; `raw_path` and `raw_headers` go to the pure core untouched.
All decisions are made by `firewall.evaluate` (pure); this module only does
the I/O around it: IMDSv2 session tokens, answer handlers, the cache and the
upstream, logging and metrics. Whatever cannot be decided is answered with an
error status, never forwarded.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field

from aiohttp import web
from aiohttp.hdrs import CONTENT_TYPE
from multidict import CIMultiDict

from podwarden import logs
from podwarden.metadata import firewall
from podwarden.metadata.cache import BoundedMemo, TtlCache
from podwarden.metadata.metrics import ProxyMetrics, build_app
from podwarden.metadata.model import (
    Action,
    CanonicalRequest,
    Decision,
    ProviderName,
    RawRequest,
)
from podwarden.metadata.settings import ProxySettings
from podwarden.metadata.tokens import (
    BAD_REQUEST_BODY,
    HTML,
    TOKEN_HEADER,
    TTL_HEADER,
    UNAUTHORIZED_BODY,
    TokenCheck,
    TokenStore,
    parse_ttl,
)
from podwarden.metadata.upstream import Upstream, UpstreamError, UpstreamResponse

IdentityHandler = Callable[[CanonicalRequest], Awaitable[Decision]]
"""Serves an ANSWER decision: returns a Decision whose ALLOW forwards its
`upstream_target` (e.g. Azure with the pod's client_id) and whose other actions
are answered with its status/body/content_type/response_headers."""
IdentityHandlers = Mapping[str, IdentityHandler]

TEXT = "text/plain; charset=utf-8"
_json_str: Callable[[str], str] = json.encoder.encode_basestring_ascii  # type: ignore[attr-defined]
_MEMO_MAX_REQUEST = 2048  # characters: keeps the verdict memo's memory small
_AWS_TOKEN_HANDLER = "aws.token"
_READ_METHODS = frozenset({"GET", "HEAD"})


@dataclass(frozen=True, slots=True)
class Reply:
    """What the client gets, before the provider's always-present headers.

    The wire headers and the log members are built once per Reply and kept:
    cached answers and fixed refusals are the same Reply object request after
    request, so the hot path re-uses them instead of rebuilding them.
    """

    status: int
    body: bytes
    content_type: str = TEXT
    headers: tuple[tuple[str, str], ...] = ()
    decision: str = "deny"
    rule: str = ""
    cache: str = ""
    _wire: list[CIMultiDict[str]] = field(default_factory=list, compare=False, repr=False)
    _log: list[str] = field(default_factory=list, compare=False, repr=False)
    _hit: list[Reply] = field(default_factory=list, compare=False, repr=False)

    def wire_headers(self, always: tuple[tuple[str, str], ...]) -> CIMultiDict[str]:
        """Content-Type, the reply's own headers, then `always` (the same for a proxy's life)."""
        if not self._wire:
            headers: CIMultiDict[str] = CIMultiDict(((CONTENT_TYPE, self.content_type),))
            for name, value in (*self.headers, *always):
                headers[name] = value
            self._wire.append(headers)
        return self._wire[0]

    def log_members(self) -> str:
        """The JSON members decision, rule, status and cache of the access line."""
        if not self._log:
            cache = _json_str(self.cache) if self.cache else "null"
            self._log.append(
                f'"decision": {_json_str(self.decision)}, "rule": {_json_str(self.rule)}, '
                f'"status": {self.status}, "cache": {cache}'
            )
        return self._log[0]

    def as_hit(self) -> Reply:
        """This cached answer, labelled as served from the cache (built once)."""
        if not self._hit:
            self._hit.append(dataclasses.replace(self, cache="hit", _wire=[], _log=[], _hit=[]))
        return self._hit[0]


def _text(status: int, message: str, *, rule: str, decision: str = "deny") -> Reply:
    return Reply(status=status, body=(message + "\n").encode(), rule=rule, decision=decision)


def _from_decision(decision: Decision) -> Reply:
    return Reply(
        status=decision.status,
        body=decision.body,
        content_type=decision.content_type,
        headers=decision.response_headers,
        decision=decision.action.value,
        rule=decision.rule_id,
    )


@dataclass(frozen=True, slots=True)
class _Plan:
    """Everything about one exact request that does not depend on the client or the clock.

    Remembered per (method, target, raw headers): the firewall's verdict is a
    pure function of them, so a repeat skips decoding, canonicalising and
    judging. `fixed` is the answer for verdicts that are answered as is.
    """

    raw: RawRequest  # client-less
    canonical: CanonicalRequest | None  # client-less
    decision: Decision
    fixed: Reply | None
    path_json: str  # the access line's "path", already JSON-encoded
    session_tokens: tuple[str, ...]  # AWS: X-aws-ec2-metadata-token values as sent
    cache_key: tuple[str, str, tuple[tuple[str, str], ...]] | None


@dataclass
class _Inflight:
    count: int = 0
    idle: asyncio.Event = field(default_factory=asyncio.Event)

    def enter(self) -> None:
        self.count += 1
        self.idle.clear()

    def leave(self) -> None:
        self.count -= 1
        if self.count == 0:
            self.idle.set()


class _Handler:
    """One request, start to finish. Holds no per-request state between calls."""

    def __init__(
        self,
        *,
        settings: ProxySettings,
        fw: firewall.Firewall,
        upstream: Upstream,
        cache: TtlCache[Reply],
        tokens: TokenStore,
        metrics: ProxyMetrics,
        identity: IdentityHandlers,
    ) -> None:
        self._settings = settings
        self._fw = fw
        self._aws = settings.provider is ProviderName.AWS
        self._upstream = upstream
        self._cache = cache
        self._tokens = tokens
        self._metrics = metrics
        self._identity = identity
        self._always = tuple(fw.always_headers)
        # Bound once: a lazy structlog proxy re-binds on every call.
        self._log = logs.get("metadata.proxy").bind()
        self.access = logs.AccessLog("metadata.proxy")
        self._plans: BoundedMemo[_PlanKey, _Plan] = BoundedMemo(
            max_entries=settings.verdict_memo_entries
        )
        self.inflight = _Inflight()
        self.inflight.idle.set()

    async def __call__(self, request: web.BaseRequest) -> web.StreamResponse:
        started = time.perf_counter()
        self.inflight.enter()
        client = request.remote or ""
        plan: _Plan | None = None
        try:
            if request.body_exists:
                planned = await self._plan_with_body(request)
            else:
                key = (request.method, request.raw_path, request.raw_headers)
                planned = self._plans.get(key) or self._plan(key)
            if isinstance(planned, Reply):
                reply = planned
            else:
                plan = planned
                reply = await self._serve(plan, client)
        except Exception as exc:  # a decision that cannot be made is a refusal, never a crash
            self._log.error("request failed", client=client, error=repr(exc), exc_info=exc)
            reply = _INTERNAL_ERROR
        finally:
            self.inflight.leave()
        seconds = time.perf_counter() - started
        response = web.Response(
            status=reply.status, body=reply.body, headers=reply.wire_headers(self._always)
        )
        self._metrics.observe(decision=reply.decision, rule=reply.rule, seconds=seconds)
        if self.access.enabled:
            path = plan.path_json if plan is not None else _log_path(request.raw_path)
            self.access.write(
                f'"client": {_json_str(client)}, "method": {_json_str(request.method)}, '
                f'"path": {path}, {reply.log_members()}, '
                f'"latency_ms": {round(seconds * 1000, 3)!r}'
            )
        return response

    def _plan(self, key: _PlanKey) -> _Plan:
        """Judge a body-less request and remember the plan when the request is small."""
        method, target, raw_headers = key
        headers = tuple((n.decode("latin-1"), v.decode("latin-1")) for n, v in raw_headers)
        plan = self._make_plan(RawRequest(method=method, target=target, headers=headers, client=""))
        size = len(target) + sum(len(n) + len(v) for n, v in raw_headers)
        if size <= _MEMO_MAX_REQUEST:  # unusual requests are judged afresh, not remembered
            self._plans.put(key, plan)
        return plan

    def _make_plan(self, raw: RawRequest) -> _Plan:
        canonical, decision = self._fw.evaluate(raw)
        action = decision.action
        cache_key = None
        if action is Action.ALLOW and decision.cache_ttl > 0 and raw.method == "GET":
            cache_key = (decision.rule_id, decision.upstream_target, decision.forward_headers)
        return _Plan(
            raw=raw,
            canonical=canonical,
            decision=decision,
            fixed=None if action in (Action.ALLOW, Action.ANSWER) else _from_decision(decision),
            path_json=_log_path(canonical.path if canonical is not None else raw.target),
            session_tokens=tuple(v for n, v in raw.headers if n.lower() == TOKEN_HEADER)
            if self._aws
            else (),
            cache_key=cache_key,
        )

    async def _plan_with_body(self, request: web.BaseRequest) -> _Plan | Reply:
        """Requests with a body are rare (the token PUT never has one): read, judge, forget."""
        limit = self._settings.max_body_bytes
        too_big = _text(413, f"request body larger than {limit} bytes", rule="proxy.body")
        length = request.content_length
        if length is not None:
            if length > limit:
                return too_big
            body = await request.content.readexactly(length)
        else:  # chunked: read until the end, refusing as soon as the limit is passed
            chunks: list[bytes] = []
            size = 0
            while chunk := await request.content.readany():
                size += len(chunk)
                if size > limit:
                    return too_big
                chunks.append(chunk)
            body = b"".join(chunks)
        headers = tuple(
            (name.decode("latin-1"), value.decode("latin-1")) for name, value in request.raw_headers
        )
        raw = RawRequest(
            method=request.method, target=request.raw_path, headers=headers, client="", body=body
        )
        return self._make_plan(raw)

    async def _serve(self, plan: _Plan, client: str) -> Reply:
        canonical = plan.canonical
        if canonical is None:
            assert plan.fixed is not None  # a request that is not canonical is always refused
            return plan.fixed
        if self._aws and canonical.method in _READ_METHODS:
            refused = self._check_session_token(plan.session_tokens, client)
            if refused is not None:
                return refused
        decision = plan.decision
        if decision.action is Action.ALLOW:
            return await self._forward(canonical.method, decision, plan.cache_key)
        if decision.action is Action.ANSWER:
            return await self._answer(plan, dataclasses.replace(canonical, client=client))
        assert plan.fixed is not None
        return plan.fixed

    def _check_session_token(self, values: tuple[str, ...], client: str) -> Reply | None:
        """IMDSv2 on reads: a token that is present must be ours, valid and the client's."""
        if not values:
            return _IMDSV2_REQUIRED if self._fw.imdsv2_required else None
        if len(set(values)) != 1:
            return _TOKEN_INVALID
        verdict = self._tokens.check(values[0].strip(), client=client)
        if verdict is not TokenCheck.VALID:
            return _TOKEN_REFUSED[verdict]
        return None

    async def _answer(self, plan: _Plan, canonical: CanonicalRequest) -> Reply:
        decision = plan.decision
        if decision.handler == _AWS_TOKEN_HANDLER and self._aws:
            return self._mint_token(plan.raw, decision, client=canonical.client)
        handler = self._identity.get(decision.handler)
        if handler is None:
            return _text(
                403,
                f"no handler {decision.handler!r} is configured in this proxy",
                rule=decision.rule_id or "proxy.no-handler",
            )
        try:
            answer = await handler(canonical)
        except Exception as exc:
            self._log.error("answer handler failed", handler=decision.handler, error=repr(exc))
            return _text(
                502, "the credential source failed; try again later", rule=decision.rule_id
            )
        if answer.action is Action.ALLOW:
            return await self._forward(canonical.method, answer, None)
        return _from_decision(answer)

    def _mint_token(self, raw: RawRequest, decision: Decision, *, client: str) -> Reply:
        ttl = parse_ttl([v for n, v in raw.headers if n.lower() == TTL_HEADER])
        if ttl is None:
            return Reply(400, BAD_REQUEST_BODY, HTML, rule="aws.token.ttl")
        token = self._tokens.mint(client=client, ttl=ttl)
        return Reply(
            status=200,
            body=token.encode(),
            content_type="text/plain",
            headers=(("X-Aws-Ec2-Metadata-Token-Ttl-Seconds", str(ttl)),),
            decision="answer",
            rule=decision.rule_id,
        )

    async def _forward(
        self,
        method: str,
        decision: Decision,
        cache_key: tuple[str, str, tuple[tuple[str, str], ...]] | None,
    ) -> Reply:
        if cache_key is not None:
            cached = self._cache.peek(cache_key)
            if cached is not None:  # the hot path: no closure, no task, no new objects
                return cached.as_hit()

        async def fetch() -> Reply:
            response = await self._upstream.fetch(
                method=method, target=decision.upstream_target, headers=decision.forward_headers
            )
            return _filtered(response, decision)

        try:
            if cache_key is not None:
                reply, hit = await self._cache.fetch_through(
                    cache_key, ttl=decision.cache_ttl, fetch=fetch, keep=lambda r: r.status == 200
                )
                if hit:
                    return reply.as_hit()
                return dataclasses.replace(reply, cache="miss", _wire=[], _log=[], _hit=[])
            return await fetch()
        except UpstreamError as exc:
            self._metrics.upstream_error(exc.kind)
            return _text(
                502, f"Bad gateway: {exc.message}", rule=decision.rule_id, decision="allow"
            )


_PlanKey = tuple[str, str, tuple[tuple[bytes, bytes], ...]]
_INTERNAL_ERROR = _text(500, "internal error in the metadata proxy", rule="proxy.error")
_IMDSV2_REQUIRED = Reply(401, UNAUTHORIZED_BODY, HTML, rule="aws.imdsv2.required")
_TOKEN_REFUSED = {
    check: Reply(401, UNAUTHORIZED_BODY, HTML, rule=f"aws.imdsv2.token-{check.value}")
    for check in TokenCheck
}
_TOKEN_INVALID = Reply(401, UNAUTHORIZED_BODY, HTML, rule="aws.imdsv2.token-invalid")


def _log_path(path: str) -> str:
    return _json_str(path if len(path) <= 512 else path[:512] + "...")


def _filtered(response: UpstreamResponse, decision: Decision) -> Reply:
    """The upstream answer as the client may see it (transformed when the policy says so)."""
    headers = dict(response.headers)
    content_type = headers.pop("content-type", "text/plain")
    body = response.body
    if decision.transform is not None and response.status == 200:
        try:
            body = decision.transform(body)
        except Exception:
            # Could not strip what must be stripped: refuse rather than leak.
            return _text(
                502,
                "Bad gateway: the metadata answer could not be filtered",
                rule=decision.rule_id,
                decision="allow",
            )
    passed = tuple((n.title() if n != "etag" else "ETag", v) for n, v in headers.items())
    return Reply(
        response.status, body, content_type, passed, decision="allow", rule=decision.rule_id
    )


class RunningProxy:
    """A started proxy. `port` is the bound listen port; `stop()` drains and closes."""

    def __init__(
        self,
        *,
        settings: ProxySettings,
        handler: _Handler,
        server: web.Server,
        runner: web.ServerRunner,
        metrics_runner: web.AppRunner | None,
        upstream: Upstream,
        port: int,
        metrics_port: int | None,
    ) -> None:
        self.settings = settings
        self.port = port
        self.metrics_port = metrics_port
        self._handler = handler
        self._server = server
        self._runner = runner
        self._metrics_runner = metrics_runner
        self._upstream = upstream
        self.draining = False
        self._stopped = False

    @property
    def upstream_requests(self) -> int:
        """How many requests went to the metadata service (token PUTs included)."""
        return self._upstream.requests_sent

    @property
    def inflight(self) -> int:
        return self._handler.inflight.count

    async def stop(self, drain_timeout: float | None = None) -> None:
        """Stop accepting, let in-flight requests finish (bounded), then close everything."""
        if self._stopped:
            return
        self._stopped = True
        self.draining = True
        timeout = self.settings.drain_timeout if drain_timeout is None else drain_timeout
        for site in list(self._runner.sites):
            await site.stop()
        self._server.pre_shutdown()  # keep-alive connections close after their current request
        try:
            await asyncio.wait_for(self._handler.inflight.idle.wait(), timeout)
        except TimeoutError:
            logs.get("metadata.proxy").warning(
                "drain timed out", inflight=self._handler.inflight.count, timeout=timeout
            )
        await self._runner.cleanup()
        self._handler.access.flush()
        if self._metrics_runner is not None:
            await self._metrics_runner.cleanup()
        await self._upstream.close()


async def start(
    settings: ProxySettings,
    *,
    identity: IdentityHandlers | None = None,
    fw: firewall.Firewall | None = None,
) -> RunningProxy:
    """Build the firewall (ConfigError on a bad policy), open the pool, listen.

    `identity` maps ANSWER handler names (e.g. "aws.credentials") to the pod
    identity work's handlers; `fw` lets a caller pass an already-built firewall.
    """
    if fw is None:
        fw = firewall.build(settings.provider, policy_file=settings.policy_file)
    upstream = Upstream(settings)
    cache: TtlCache[Reply] = TtlCache(max_entries=settings.cache_max_entries)
    metrics = ProxyMetrics(provider=settings.provider.value, cache=cache)
    handler = _Handler(
        settings=settings,
        fw=fw,
        upstream=upstream,
        cache=cache,
        tokens=TokenStore(capacity=settings.token_capacity),
        metrics=metrics,
        identity=dict(identity or {}),
    )
    await upstream.open()
    server = web.Server(handler, access_log=None, logger=_quiet_http_logger())
    runner = web.ServerRunner(server, shutdown_timeout=0.5)
    await runner.setup()
    site = web.TCPSite(runner, settings.listen_host, settings.listen_port, backlog=1024)
    try:
        await site.start()
    except OSError:
        await runner.cleanup()
        await upstream.close()
        raise
    port = _bound_port(runner)
    metrics_runner: web.AppRunner | None = None
    metrics_port: int | None = None
    proxy: RunningProxy | None = None

    def ready() -> bool:
        return proxy is not None and not proxy.draining

    if settings.metrics_host is not None:
        metrics_runner = web.AppRunner(build_app(metrics, ready=ready), access_log=None)
        await metrics_runner.setup()
        metrics_site = web.TCPSite(metrics_runner, settings.metrics_host, settings.metrics_port)
        await metrics_site.start()
        metrics_port = _bound_port(metrics_runner)
    proxy = RunningProxy(
        settings=settings,
        handler=handler,
        server=server,
        runner=runner,
        metrics_runner=metrics_runner,
        upstream=upstream,
        port=port,
        metrics_port=metrics_port,
    )
    return proxy


def _quiet_http_logger() -> logging.Logger:
    """aiohttp answers unparseable requests with 400 itself and logs a traceback for each;
    a pod sending garbage must not flood the node's logs with multi-line tracebacks."""
    logger = logging.getLogger("podwarden.metadata.proxy.http")
    logger.propagate = False
    logger.setLevel(logging.CRITICAL)
    if not logger.handlers:
        logger.addHandler(logging.NullHandler())
    return logger


def _bound_port(runner: web.BaseRunner) -> int:
    """The port the runner's only site bound (the listen port may be 0 in tests)."""
    for address in runner.addresses:
        return int(address[1])
    raise RuntimeError("the listener has no bound address")
