"""The access line is built by hand for speed; it must be what json.dumps writes, byte for byte."""

from __future__ import annotations

import json

import pytest

from podwarden import logs
from podwarden.metadata.model import Outcome
from podwarden.metadata.replies import Reply, access_members, json_str

CASES = [
    ("10.0.0.5", "GET", "/computeMetadata/v1/instance/id", Outcome.ALLOW, "gce.id", 200, "hit"),
    ("10.0.0.5", "GET", '/a/"quoted"\\\n\u00e9\u2028', Outcome.DENY, "default", 404, ""),
    ("fd00::1", "PUT", "/latest/api/token", Outcome.ANSWER, "aws.token", 200, "miss"),
    ("10.0.0.9", None, None, Outcome.DENY, "http.400", 400, ""),
]


@pytest.mark.parametrize(("client", "method", "path", "outcome", "rule", "status", "cache"), CASES)
def test_the_hand_built_line_is_what_json_dumps_writes(
    client, method, path, outcome, rule, status, cache
):
    reply = Reply(status, b"", decision=outcome, rule=rule, cache=cache)
    log = logs.AccessLog("metadata.proxy")
    line = log.line(
        access_members(
            client=client,
            method=method,
            path_json="null" if path is None else json_str(path),
            reply=reply,
            seconds=0.0012345,
        )
    )
    record = {
        "client": client,
        "method": method,
        "path": path,
        "decision": outcome.value,
        "rule": rule,
        "status": status,
        "cache": cache or None,
        "latency_ms": 1.234,
        "event": "request",
        "component": "metadata.proxy",
        "level": "info",
        "timestamp": json.loads(line)["timestamp"],
    }
    assert line == json.dumps(record) + "\n"
