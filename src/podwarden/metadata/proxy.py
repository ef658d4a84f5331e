"""The metadata proxy: raw request in, firewall decision, answer out.

`http1` serves the connections (httptools parses; the request-target and
header lines arrive exactly as sent, no router, no normalisation). All
decisions are made by `firewall.evaluate` (pure); this module only does the
I/O around it: IMDSv2 session tokens, answer handlers, the cache and the
upstream, logging and metrics. Whatever cannot be decided is answered with an
error status, never forwarded.

GCE long-polls (wait_for_change) are budgeted apart from every other request
(`longpoll.py`): per client, in total, and on their own upstream pool; a
client that leaves cancels its request, upstream included (`http1.py`).

The hot path is synchronous: a request seen before (same method, target and
header lines) finds its plan in a memo, and a fixed refusal or a cached
answer goes out without a task, an await or a new object. Only cache misses,
uncached forwards and identity handlers take the async path.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from podwarden import logs
from podwarden.metadata import firewall, http1, imdsv2_tokens
from podwarden.metadata import metrics as proxy_metrics
from podwarden.metadata.cache import BoundedMemo, TtlCache
from podwarden.metadata.imdsv2_tokens import (
    BAD_REQUEST_BODY,
    HTML,
    TOKEN_HEADER,
    TTL_HEADER,
    UNAUTHORIZED_BODY,
    TokenCheck,
    TokenSigner,
    parse_ttl,
)
from podwarden.metadata.longpoll import LongPollBudget
from podwarden.metadata.metrics import ProxyMetrics
from podwarden.metadata.model import (
    CanonicalRequest,
    Decision,
    Forward,
    Handle,
    Outcome,
    ProviderName,
    RawRequest,
    Respond,
    Settled,
)
from podwarden.metadata.replies import Reply, access_members, from_decision, json_str, text
from podwarden.metadata.settings import ProxySettings
from podwarden.metadata.upstream import Upstream, UpstreamError, UpstreamResponse

if TYPE_CHECKING:
    from aiohttp import web

IdentityHandler = Callable[[CanonicalRequest], Awaitable[Settled]]
"""Serves a `Handle` decision: a `Forward` goes upstream (e.g. Azure with the
pod's client_id), a `Respond` is answered as it is and counted as its outcome."""
IdentityHandlers = Mapping[str, IdentityHandler]

_MEMO_MAX_REQUEST = 2048  # bytes of target + headers: keeps the plan memo's memory small
_AWS_TOKEN_HANDLER = "aws.token"
_READ_METHODS = frozenset({"GET", "HEAD"})
_PlanKey = tuple[str, str, tuple[tuple[bytes, bytes], ...]]
_CacheKey = tuple[str, str, tuple[tuple[str, str], ...]]

_INTERNAL_ERROR = text(500, "internal error in the metadata proxy", rule="proxy.error")
_IMDSV2_REQUIRED = Reply(401, UNAUTHORIZED_BODY, HTML, rule="aws.imdsv2.required")
_TOKEN_INVALID = Reply(401, UNAUTHORIZED_BODY, HTML, rule="aws.imdsv2.token-invalid")
_CLIENT_GONE = Reply(499, b"", rule="proxy.client-gone")  # logged only: nobody reads it
_TOKEN_REFUSED = {
    check: Reply(401, UNAUTHORIZED_BODY, HTML, rule=f"aws.imdsv2.token-{check.value}")
    for check in TokenCheck
}


@dataclass(frozen=True, slots=True)
class _Plan:
    """Everything about one exact request that depends neither on the client nor the clock.

    Remembered per (method, target, header lines): the firewall's verdict is a
    pure function of them, so a repeat skips decoding, canonicalising and
    judging. `fixed` is the answer of verdicts that are answered as they are.
    """

    raw: RawRequest  # client-less
    canonical: CanonicalRequest | None  # client-less
    decision: Decision
    fixed: Reply | None
    path_json: str  # the access line's "path", JSON-encoded
    session_tokens: tuple[str, ...]  # AWS: X-aws-ec2-metadata-token values as sent
    cache_key: _CacheKey | None


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
        tokens: TokenSigner,
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
        limit = settings.max_body_bytes
        self._too_big = text(413, f"request body larger than {limit} bytes", rule="proxy.body")
        self._http_refusals: dict[int, Reply] = {}  # by status: what http1 refused unparsed
        self.inflight = _Inflight()
        self.inflight.idle.set()
        self.long_polls = LongPollBudget(
            per_client=settings.long_polls_per_client, total=settings.long_poll_pool_size
        )
        self._long_poll_requests: set[int] = set()  # id() of requests held as long-polls
        self._long_poll_refused = {
            "client": text(
                429,
                "too many wait_for_change requests held by this client "
                f"(at most {settings.long_polls_per_client} at once)",
                rule="proxy.long-poll.client",
            ),
            "total": text(
                503,
                "too many wait_for_change requests held on this node "
                f"(at most {settings.long_poll_pool_size} at once); try again later",
                rule="proxy.long-poll.total",
            ),
        }

    def __call__(self, request: http1.Request) -> http1.Answer | Awaitable[http1.Answer]:
        started = time.perf_counter()
        plan: _Plan | None = None
        try:
            if request.oversize:
                reply = self._too_big
            else:
                if request.has_body:
                    plan = self._plan_for(_raw(request))  # rare: judged afresh, not remembered
                else:
                    key = (request.method, request.target, request.raw_headers)
                    plan = self._plans.get(key) or self._plan(key)
                served = self._serve_now(plan, request.client)
                if served is None:
                    return self._serve_later(request, plan, started)
                reply = served
        except Exception as exc:  # a decision that cannot be made is a refusal, never a crash
            self._log.error("request failed", client=request.client, error=repr(exc))
            reply = _INTERNAL_ERROR
        return self._finish(request, plan, reply, started)

    def _finish(
        self, request: http1.Request, plan: _Plan | None, reply: Reply, started: float
    ) -> http1.Answer:
        seconds = time.perf_counter() - started
        self._metrics.observe(decision=reply.decision, rule=reply.rule, seconds=seconds)
        if self.access.enabled:
            path = plan.path_json if plan is not None else _log_path(request.target)
            self.access.write(
                access_members(
                    client=request.client,
                    method=request.method,
                    path_json=path,
                    reply=reply,
                    seconds=seconds,
                )
            )
        return reply.wire(self._always)

    def refused(self, client: str, status: int) -> None:
        """A request the HTTP layer refused before it could be parsed: count and log it."""
        reply = self._http_refusals.get(status)
        if reply is None:
            reply = self._http_refusals[status] = Reply(status, b"", rule=f"http.{status}")
        self._metrics.observe(decision=reply.decision, rule=reply.rule, seconds=0.0)
        if self.access.enabled:
            self.access.write(
                access_members(
                    client=client, method=None, path_json="null", reply=reply, seconds=0.0
                )
            )

    def abandons(self, request: http1.Request) -> bool:
        """Whether `request` is a long-poll: dropped when its client half-closes.

        The remembered plan says so even before the request reached its budget check
        (a request and its FIN may arrive together).
        """
        if id(request) in self._long_poll_requests:
            return True
        plan = self._plans.get((request.method, request.target, request.raw_headers))
        return plan is not None and isinstance(plan.decision, Forward) and plan.decision.long_poll

    def refusal_headers(self) -> bytes:
        """The provider's always-present headers as header lines (e.g. Metadata-Flavor)."""
        return b"".join(
            f"{name}: {value}\r\n".encode("latin-1")
            for name, value in self._always
            if "\r" not in name + value and "\n" not in name + value
        )

    def _plan(self, key: _PlanKey) -> _Plan:
        """Judge a body-less request; remember the plan when the request is small."""
        method, target, raw_headers = key
        headers = tuple((n.decode("latin-1"), v.decode("latin-1")) for n, v in raw_headers)
        plan = self._plan_for(RawRequest(method=method, target=target, headers=headers, client=""))
        if len(target) + sum(len(n) + len(v) for n, v in raw_headers) <= _MEMO_MAX_REQUEST:
            self._plans.put(key, plan)
        return plan

    def _plan_for(self, raw: RawRequest) -> _Plan:
        canonical, decision = self._fw.evaluate(raw)
        cache_key = None
        if isinstance(decision, Forward) and decision.cache_ttl > 0 and raw.method == "GET":
            cache_key = (decision.rule_id, decision.upstream_target, decision.forward_headers)
        tokens = tuple(v for n, v in raw.headers if n.lower() == TOKEN_HEADER) if self._aws else ()
        return _Plan(
            raw=raw,
            canonical=canonical,
            decision=decision,
            fixed=from_decision(decision) if isinstance(decision, Respond) else None,
            path_json=_log_path(canonical.path if canonical is not None else raw.target),
            session_tokens=tokens,
            cache_key=cache_key,
        )

    def _serve_now(self, plan: _Plan, client: str) -> Reply | None:
        """The answer when it needs no I/O; None when the async path must serve it."""
        canonical = plan.canonical
        if canonical is None:
            return plan.fixed  # not canonical: always refused
        if self._aws and canonical.method in _READ_METHODS:
            refused = self._check_session_token(plan.session_tokens, client)
            if refused is not None:
                return refused
        decision = plan.decision
        if isinstance(decision, Forward):
            if plan.cache_key is not None:
                cached = self._cache.peek(plan.cache_key)
                if cached is not None:
                    return cached.labelled("hit")
            return None
        if isinstance(decision, Handle):
            if decision.handler == _AWS_TOKEN_HANDLER and self._aws:
                return self._mint_token(plan.raw, decision, client=client)
            return None
        return plan.fixed

    async def _serve_later(
        self, request: http1.Request, plan: _Plan, started: float
    ) -> http1.Answer:
        self.inflight.enter()
        try:
            decision = plan.decision
            assert plan.canonical is not None  # _serve_now answered the rest
            if isinstance(decision, Forward) and decision.long_poll:
                reply = await self._long_poll(request, plan.canonical.method, decision)
            elif isinstance(decision, Forward):
                reply = await self._forward(plan.canonical.method, decision, plan.cache_key)
            elif isinstance(decision, Handle):
                canonical = dataclasses.replace(plan.canonical, client=request.client)
                reply = await self._answer(canonical, decision)
            else:  # _serve_now answers every Respond
                reply = from_decision(decision)
        except asyncio.CancelledError:  # the client left: log it, answer nobody
            self._finish(request, plan, _CLIENT_GONE, started)
            raise
        except Exception as exc:
            self._log.error("request failed", client=request.client, error=repr(exc))
            reply = _INTERNAL_ERROR
        finally:
            self.inflight.leave()
        return self._finish(request, plan, reply, started)

    async def _long_poll(self, request: http1.Request, method: str, decision: Forward) -> Reply:
        """A wait_for_change request, within the client's and the node's long-poll budget."""
        refused = self.long_polls.acquire(request.client)
        if refused is not None:
            return self._long_poll_refused[refused]
        self._long_poll_requests.add(id(request))
        try:
            return await self._forward(method, decision, None)
        finally:
            self._long_poll_requests.discard(id(request))
            self.long_polls.release(request.client)

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

    async def _answer(self, canonical: CanonicalRequest, decision: Handle) -> Reply:
        handler = self._identity.get(decision.handler)
        if handler is None:
            return text(
                403,
                f"no handler {decision.handler!r} is configured in this proxy",
                rule=decision.rule_id or "proxy.no-handler",
            )
        try:
            answer = await handler(canonical)
        except Exception as exc:
            self._log.error("answer handler failed", handler=decision.handler, error=repr(exc))
            return text(502, "the credential source failed; try again later", rule=decision.rule_id)
        if isinstance(answer, Forward):
            return await self._forward(canonical.method, answer, None)
        return from_decision(answer)

    def _mint_token(self, raw: RawRequest, decision: Handle, *, client: str) -> Reply:
        ttl = parse_ttl([v for n, v in raw.headers if n.lower() == TTL_HEADER])
        if ttl is None:
            return Reply(400, BAD_REQUEST_BODY, HTML, rule="aws.token.ttl")
        token = self._tokens.mint(client=client, ttl=ttl)
        return Reply(
            status=200,
            body=token.encode(),
            content_type="text/plain",
            headers=(("X-Aws-Ec2-Metadata-Token-Ttl-Seconds", str(ttl)),),
            decision=Outcome.ANSWER,
            rule=decision.rule_id,
        )

    async def _forward(self, method: str, decision: Forward, cache_key: _CacheKey | None) -> Reply:
        async def fetch() -> Reply:
            response = await self._upstream.fetch(
                method=method,
                target=decision.upstream_target,
                headers=decision.forward_headers,
                long_poll=decision.long_poll,
            )
            return _filtered(response, decision)

        try:
            if cache_key is not None:
                reply, hit = await self._cache.fetch_through(
                    cache_key, ttl=decision.cache_ttl, fetch=fetch, keep=lambda r: r.status == 200
                )
                return reply.labelled("hit" if hit else "miss")
            return await fetch()
        except UpstreamError as exc:
            self._metrics.upstream_error(exc.kind)
            return text(
                502, f"Bad gateway: {exc.message}", rule=decision.rule_id, decision=Outcome.ALLOW
            )


def _raw(request: http1.Request) -> RawRequest:
    headers = tuple((n.decode("latin-1"), v.decode("latin-1")) for n, v in request.raw_headers)
    return RawRequest(
        method=request.method, target=request.target, headers=headers, client="", body=request.body
    )


def _log_path(path: str) -> str:
    return json_str(path if len(path) <= 512 else path[:512] + "...")


def _filtered(response: UpstreamResponse, decision: Forward) -> Reply:
    """The upstream answer as the client may see it (transformed when the policy says so)."""
    headers = dict(response.headers)
    content_type = headers.pop("content-type", "text/plain")
    body = response.body
    if decision.transform is not None and response.status == 200:
        try:
            body = decision.transform(body)
        except Exception:
            # Could not strip what must be stripped: refuse rather than leak.
            return text(
                502,
                "Bad gateway: the metadata answer could not be filtered",
                rule=decision.rule_id,
                decision=Outcome.ALLOW,
            )
    passed = tuple((n.title() if n != "etag" else "ETag", v) for n, v in headers.items())
    return Reply(
        response.status, body, content_type, passed, decision=Outcome.ALLOW, rule=decision.rule_id
    )


class RunningProxy:
    """A started proxy. `port` is the bound listen port; `stop()` drains and closes."""

    def __init__(
        self,
        *,
        settings: ProxySettings,
        handler: _Handler,
        server: http1.Server,
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
        self._metrics_runner = metrics_runner
        self._upstream = upstream
        self.draining = False
        self._stopped = False

    @property
    def inflight(self) -> int:
        return self._handler.inflight.count

    @property
    def long_polls_held(self) -> int:
        """wait_for_change requests being held upstream for clients right now."""
        return self._handler.long_polls.in_use

    async def stop(self, drain_timeout: float | None = None) -> None:
        """Stop accepting, let in-flight requests finish (bounded), then close everything."""
        if self._stopped:
            return
        self._stopped = True
        self.draining = True
        timeout = self.settings.drain_timeout if drain_timeout is None else drain_timeout
        self._server.pre_shutdown()  # keep-alive connections close after their current request
        try:
            await asyncio.wait_for(self._handler.inflight.idle.wait(), timeout)
        except TimeoutError:
            logs.get("metadata.proxy").warning(
                "drain timed out", inflight=self._handler.inflight.count, timeout=timeout
            )
        await asyncio.sleep(0)  # let the last answers be written
        await self._server.close()
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

    `identity` maps handler names (e.g. "aws.credentials") to the pod
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
        tokens=TokenSigner(key=imdsv2_tokens.node_key(settings.token_key_file)),
        metrics=metrics,
        identity=dict(identity or {}),
    )
    await upstream.open()
    metrics_runner: web.AppRunner | None = None
    metrics_port: int | None = None
    proxy: RunningProxy | None = None

    def ready() -> bool:
        return proxy is not None and not proxy.draining

    server = http1.Server(
        handler,
        refusal_headers=handler.refusal_headers(),
        on_refused=handler.refused,
        abandon_on_eof=handler.abandons,
        limits=http1.Limits(
            max_body=settings.max_body_bytes,
            idle_timeout=settings.idle_timeout,
            header_timeout=settings.header_timeout,
            max_connections=settings.max_connections,
            max_per_client=settings.max_connections_per_client,
        ),
    )
    try:
        # Metrics first: once the proxy port answers, /readyz answers too.
        if settings.metrics_host is not None:
            metrics_runner, metrics_port = await proxy_metrics.serve(
                metrics, host=settings.metrics_host, port=settings.metrics_port, ready=ready
            )
        port = await server.start(
            settings.listen_host,
            settings.listen_port,
            backlog=1024,
        )
    except OSError:
        await server.close()
        if metrics_runner is not None:
            await metrics_runner.cleanup()
        await upstream.close()
        raise
    proxy = RunningProxy(
        settings=settings,
        handler=handler,
        server=server,
        metrics_runner=metrics_runner,
        upstream=upstream,
        port=port,
        metrics_port=metrics_port,
    )
    return proxy
