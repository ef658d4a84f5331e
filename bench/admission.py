"""Admission benchmark, in-process half: Pod Security Standards and PodSecurityPolicy.

Measures `evaluate.evaluate` on a typical restricted pod (admitted) and on a pod
that fails four restricted checks (refused, message built), `psp.engine.admit`
over a set of 10 PodSecurityPolicies (bench/admission_psp.py), per-call latency
percentiles, and `podwarden check`'s pipeline over the whole conformance set.
Peers are published figures, labelled as such: PSA in-tree ~3 µs per pod, and
Kyverno's 17 PSS policies at 100 virtual users (42 ms average, 141 ms max);
the last column compares each measured row with the peer doing the same job
(in-process rows with PSA, webhook rows with Kyverno).

The webhook half (req/s, p50/p99 over TLS) is added by `webhook_rows()`.
Bounded: every loop stops after a fixed time or count.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench import report
from podwarden.podsecurity import evaluate
from podwarden.podsecurity.levels import level_version

CONFORMANCE = (
    Path(__file__).resolve().parents[1].parent / "shared" / "conformance" / "pod-security-standards"
)
SECONDS_PER_CASE = 0.6
PSA_US = 3.0
"""Published: PSA in-tree, per pod (Go, in the API server)."""
KYVERNO_US = 42_000.0
"""Published: Kyverno with its 17 PSS policies at 100 virtual users, average (max 141 ms)."""
MAX_CALLS = 2_000_000

RESTRICTED_POD: dict[str, Any] = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {"name": "web", "namespace": "team", "labels": {"app": "web"}},
    "spec": {
        "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
        "initContainers": [
            {
                "name": "init",
                "image": "busybox",
                "securityContext": {
                    "allowPrivilegeEscalation": False,
                    "capabilities": {"drop": ["ALL"]},
                },
            }
        ],
        "containers": [
            {
                "name": "app",
                "image": "nginx",
                "ports": [{"containerPort": 8080}],
                "readinessProbe": {"httpGet": {"path": "/", "port": 8080}},
                "securityContext": {
                    "allowPrivilegeEscalation": False,
                    "capabilities": {"drop": ["ALL"]},
                },
                "volumeMounts": [{"name": "cache", "mountPath": "/cache"}],
            },
            {
                "name": "sidecar",
                "image": "envoy",
                "securityContext": {
                    "allowPrivilegeEscalation": False,
                    "capabilities": {"drop": ["ALL"], "add": ["NET_BIND_SERVICE"]},
                },
            },
        ],
        "volumes": [
            {"name": "cache", "emptyDir": {}},
            {"name": "cfg", "configMap": {"name": "cfg"}},
        ],
    },
}
FAILING_POD: dict[str, Any] = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {"name": "legacy"},
    "spec": {
        "containers": [{"name": "app", "image": "nginx"}, {"name": "log", "image": "fluentd"}]
    },
}


def _measure(fn: Callable[[], object]) -> dict[str, float]:
    """Call fn repeatedly for SECONDS_PER_CASE (bounded by MAX_CALLS); rate and percentiles."""
    for _ in range(200):
        fn()  # warm caches (registry, branch predictors)
    samples: list[int] = []
    clock = time.perf_counter_ns
    deadline = clock() + int(SECONDS_PER_CASE * 1e9)
    while len(samples) < MAX_CALLS:
        start = clock()
        fn()
        end = clock()
        samples.append(end - start)
        if end > deadline:
            break
    samples.sort()
    total_s = sum(samples) / 1e9
    return {
        "per_s": len(samples) / total_s,
        "mean_us": statistics.fmean(samples) / 1e3,
        "p50_us": samples[len(samples) // 2] / 1e3,
        "p99_us": samples[int(len(samples) * 0.99)] / 1e3,
    }


def pss_rows() -> list[dict[str, Any]]:
    """Measured in-process Pod Security Standards rows (same keys as the peer rows)."""
    restricted = level_version("restricted", "latest")
    baseline = level_version("baseline", "v1.30")
    cases = [
        ("restricted:latest, pod admitted", lambda: evaluate.evaluate(RESTRICTED_POD, restricted)),
        ("baseline:v1.30, pod admitted", lambda: evaluate.evaluate(RESTRICTED_POD, baseline)),
        (
            "restricted:latest, pod refused (4 checks) + message",
            lambda: evaluate.evaluate(FAILING_POD, restricted).message(),
        ),
    ]
    rows = [_row(name, _measure(fn)) for name, fn in cases]
    rows.append(_conformance_row())
    return rows


def psp_rows() -> list[dict[str, Any]]:
    """Measured in-process rows for PSP over a set of 10 policies (bench/admission_psp.py)."""
    from bench import admission_psp

    policies = admission_psp.load()
    admission_psp.check_set(policies)  # the timed calls take the paths the names say
    cases = [
        (
            "PSP set of 10 policies, typical pod admitted by the last (+ patch)",
            lambda: admission_psp.admit(admission_psp.TYPICAL_POD, policies),
        ),
        (
            "PSP set of 10 policies, pod refused by all 10 + message",
            lambda: admission_psp.admit(admission_psp.ATTACKER_POD, policies).message,
        ),
    ]
    return [_row(name, _measure(fn)) for name, fn in cases]


def _row(name: str, m: dict[str, float]) -> dict[str, Any]:
    return {
        "case": name,
        "source": "measured",
        "evals_per_s": round(m["per_s"]),
        "mean_us": m["mean_us"],
        "p50_us": m["p50_us"],
        "p99_us": m["p99_us"],
    }


def _conformance_row() -> dict[str, Any]:
    """`check`'s pipeline (read, parse, judge) over all 4,537 conformance files, in-process."""
    from podwarden.audit import check, inputs

    if not CONFORMANCE.is_dir():
        return {"case": "check over conformance set", "source": "skipped: data not found"}
    start = time.perf_counter()
    objects = list(inputs.read_all([str(CONFORMANCE)]))
    findings = check.judge_all(objects, mode=check.PssMode(level_version("baseline", "latest")))
    elapsed = time.perf_counter() - start
    return {
        "case": f"check over conformance set ({len(findings)} files, parse+judge)",
        "source": "measured",
        "evals_per_s": round(len(findings) / elapsed),
        "mean_us": elapsed / len(findings) * 1e6,
        "p50_us": None,
        "p99_us": None,
    }


def peer_rows() -> list[dict[str, Any]]:
    """Published figures (not measured here), for scale."""
    return [
        {
            "case": "peer: PSA in-tree (Go), per pod",
            "source": "published figure",
            "evals_per_s": None,
            "mean_us": PSA_US,
            "p50_us": None,
            "p99_us": None,
        },
        {
            "case": "peer: Kyverno, 17 PSS policies, 100 VUs (webhook)",
            "source": "published figure (avg 42 ms, max 141 ms)",
            "evals_per_s": None,
            "mean_us": KYVERNO_US,
            "p50_us": None,
            "p99_us": None,
        },
    ]


def webhook_rows() -> list[dict[str, Any]]:
    """The webhook half (req/s, p50/p99 over TLS at 50 connections): filled in by the
    webhook part (bench/admission_webhook.py)."""
    from bench import admission_webhook

    return admission_webhook.webhook_rows()


def with_ratios(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Add `vs_published_peer`: in-process rows against PSA in-tree (3 µs per pod),
    webhook rows against Kyverno's published average (42 ms), on our mean (p50
    when wrk gives no mean). The conformance row includes YAML parsing, which
    neither peer figure does, so it gets no ratio."""
    out = []
    for row in rows:
        ours = row.get("mean_us") or row.get("p50_us")
        if row.get("source") != "measured" or not ours or "parse" in str(row["case"]):
            ratio = "(the reference)" if str(row["case"]).startswith("peer") else ""
        elif str(row["case"]).startswith("webhook"):
            ratio = _times(KYVERNO_US / ours, "Kyverno avg 42 ms")
        else:
            ratio = _times(PSA_US / ours, "PSA in-tree 3 µs")
        out.append({**row, "vs_published_peer": ratio})
    return out


def _times(factor: float, peer: str) -> str:
    word, size = ("faster", factor) if factor >= 1 else ("slower", 1 / factor)
    return f"{size:,.1f}x {word} than {peer}" if size < 10 else f"{size:,.0f}x {word} than {peer}"


def main() -> None:
    rows = with_ratios(pss_rows() + psp_rows() + webhook_rows() + peer_rows())
    print(report.table("admission: Pod Security Standards and PodSecurityPolicy", rows))
    for row in rows:
        if row.get("note"):
            print(f"  {row['case']}: {row['note']}")
    print(f"saved {report.save('admission', rows)}")


if __name__ == "__main__":
    main()
