"""The proxy's access line: built by hand (the product) against `json.dumps` (the peer).

Issue 11 asked for a real JSON encoder in place of the hand-built line unless
it is measurably slower. This measures both on the same records, in the same
process and run: the product's `replies.access_members` + `AccessLog.line`
(the exact code the proxy runs per request), and `json.dumps` of the same
dict, as a plain structlog-free encoder would write it. The two lines are
checked equal before timing (tests/unit/metadata/test_access_line.py checks
it too), so only the cost differs. Bounded: RECORDS x REPEATS calls each.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable

from bench import report
from podwarden import logs
from podwarden.metadata.model import Outcome
from podwarden.metadata.replies import Reply, access_members, json_str

RECORDS = 100_000
REPEATS = 5
CLIENT, METHOD, PATH = "10.0.0.5", "GET", "/computeMetadata/v1/instance/id"
SECONDS = 0.000123


def _best_ns(build: Callable[[], str]) -> float:
    """Nanoseconds per record: the best of REPEATS loops of RECORDS calls."""
    best = float("inf")
    for _ in range(REPEATS):
        start = time.perf_counter_ns()
        for _ in range(RECORDS):
            build()
        best = min(best, (time.perf_counter_ns() - start) / RECORDS)
    return best


def main() -> None:
    reply = Reply(200, b"4520031799277581759", decision=Outcome.ALLOW, rule="gce.id", cache="hit")
    log = logs.AccessLog("metadata.proxy")
    path_json = json_str(PATH)  # remembered with the request's plan in the proxy

    def hand_built() -> str:
        members = access_members(
            client=CLIENT, method=METHOD, path_json=path_json, reply=reply, seconds=SECONDS
        )
        return log.line(members)

    def encoder() -> str:
        record = {
            "client": CLIENT,
            "method": METHOD,
            "path": PATH,
            "decision": reply.decision.value,
            "rule": reply.rule,
            "status": reply.status,
            "cache": reply.cache or None,
            "latency_ms": round(SECONDS * 1000, 3),
            "event": "request",
            "component": "metadata.proxy",
            "level": "info",
            "timestamp": log._timestamp(),
        }
        return json.dumps(record) + "\n"

    first, second = hand_built(), encoder()
    if json.loads(first) | {"timestamp": ""} != json.loads(second) | {"timestamp": ""}:
        raise SystemExit(f"the two lines differ:\n{first}{second}")
    hand_ns, dumps_ns = _best_ns(hand_built), _best_ns(encoder)
    rows = [
        {
            "builder": "hand-built (podwarden)",
            "ns_per_record": round(hand_ns),
            "vs_hand_built": 1.0,
        },
        {
            "builder": "json.dumps of the same dict",
            "ns_per_record": round(dumps_ns),
            "vs_hand_built": round(dumps_ns / hand_ns, 2),
        },
    ]
    print(report.table(f"access_log: one access line, best of {REPEATS} x {RECORDS:,}", rows))
    extra = dumps_ns - hand_ns
    print(f"  json.dumps costs {extra:.0f} ns more per record ({dumps_ns / hand_ns:.2f}x)")
    report.save("access_log", rows)


if __name__ == "__main__":
    main()
