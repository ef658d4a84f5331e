"""What the proxy answers, built once and re-used on the hot path.

A `Reply` is immutable, and the common ones are the same object request after
request: a fixed refusal is remembered with the request's plan, a cached
metadata answer lives in the cache. So the bytes that go on the wire (status
line and headers) and the access log's members are serialised the first time
a Reply is sent and kept on it.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from dataclasses import dataclass, field

from podwarden.metadata import http1
from podwarden.metadata.model import Outcome, Respond

TEXT = "text/plain; charset=utf-8"
json_str: Callable[[str], str] = json.encoder.encode_basestring_ascii  # type: ignore[attr-defined]
"""A str as a JSON string literal, quotes included (the C encoder json.dumps uses)."""


@dataclass(frozen=True, slots=True)
class Reply:
    """What the client gets, before the provider's always-present headers."""

    status: int
    body: bytes
    content_type: str = TEXT
    headers: tuple[tuple[str, str], ...] = ()
    decision: Outcome = Outcome.DENY
    rule: str = ""
    cache: str = ""
    # Memoised serialisations (one slot each; filled on first use, never changed).
    _head: list[bytes] = field(default_factory=list, compare=False, repr=False)
    _log: list[str] = field(default_factory=list, compare=False, repr=False)
    _hit: list[Reply] = field(default_factory=list, compare=False, repr=False)

    def wire(self, always: tuple[tuple[str, str], ...]) -> http1.Answer:
        """(status line + Content-Type + own headers + `always`, body).

        `always` must be the same for every call (a proxy's provider headers).
        A header value with CR or LF is dropped: it cannot be sent safely.
        """
        if not self._head:
            lines = [http1.status_line(self.status)]
            for name, value in (("Content-Type", self.content_type), *self.headers, *always):
                if "\r" in value or "\n" in value or "\r" in name or "\n" in name:
                    continue
                lines.append(f"{name}: {value}\r\n".encode("latin-1", "replace"))
            self._head.append(b"".join(lines))
        return self._head[0], self.body

    def log_members(self) -> str:
        """The access line's decision, rule, status and cache members, as JSON."""
        if not self._log:
            cache = json_str(self.cache) if self.cache else "null"
            self._log.append(
                f'"decision": {json_str(self.decision)}, "rule": {json_str(self.rule)}, '
                f'"status": {self.status}, "cache": {cache}'
            )
        return self._log[0]

    def labelled(self, cache: str) -> Reply:
        """This answer with its cache label ("hit" is built once and kept)."""
        if cache != "hit":
            return dataclasses.replace(self, cache=cache, _head=[], _log=[], _hit=[])
        if not self._hit:
            self._hit.append(dataclasses.replace(self, cache="hit", _head=[], _log=[], _hit=[]))
        return self._hit[0]


def access_members(
    *, client: str, method: str | None, path_json: str, reply: Reply, seconds: float
) -> str:
    """One access line's own members (`AccessLog.write` adds the common ones).

    `path_json` is the path already JSON-encoded (remembered with the request's
    plan); `method` None is a request the HTTP layer refused before parsing it.
    """
    method_json = "null" if method is None else json_str(method)
    return (
        f'"client": {json_str(client)}, "method": {method_json}, "path": {path_json}, '
        f'{reply.log_members()}, "latency_ms": {round(seconds * 1000, 3)!r}'
    )


def text(status: int, message: str, *, rule: str, decision: Outcome = Outcome.DENY) -> Reply:
    """A plain-text answer (message and a newline)."""
    return Reply(status=status, body=(message + "\n").encode(), rule=rule, decision=decision)


def from_decision(decision: Respond) -> Reply:
    """The answer a `Respond` decision carries, counted as its outcome."""
    return Reply(
        status=decision.status,
        body=decision.body,
        content_type=decision.content_type,
        headers=decision.response_headers,
        decision=decision.outcome,
        rule=decision.rule_id,
    )
