"""`python -m bench rules`: cost and safety of the interception rules.

Measured in a throw-away pod/node/cloud lab (podwarden.testing.netlab, shared with the
netfilter system tests):
- apply and reconcile time for 1, 10 and 100 interface patterns per backend
  (reconcile = the periodic check when nothing drifted; repair = check plus
  re-apply after the table was flushed by hand);
- exposure window across agent restarts: pod requests that reached the real
  service while the agent was restarted (podwarden, rules kept) versus the
  peer behaviour of kiam / the metadata-proxy script (rules removed on exit,
  re-added on start);
- latency a pod's non-metadata traffic pays for the rules (p50/p99).
Bounded: a few hundred requests and a handful of restarts; needs root.
"""

from __future__ import annotations

import json
import os
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path

from bench import report
from podwarden import logs
from podwarden.api import metadata_addresses
from podwarden.lab import netns
from podwarden.netfilter import backends, reconcile, render
from podwarden.testing import netlab as lab_module

BACKENDS = ["nft", "iptables-legacy", "iptables-nft"]
PATTERNS = [1, 10, 100]
REPEATS = 5
RESTARTS = 5
LATENCY_REQUESTS = 300


def _median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


def _spec(patterns: int) -> render.RuleSpec:
    names = tuple(["cali+"] + [f"veth{i:03d}" for i in range(patterns - 1)])
    return render.RuleSpec(
        provider="aws", pod_interfaces=names, proxy4=render.HostPort(lab_module.NODE_POD_V4, 18190)
    )


def apply_rows(lab: lab_module.Lab) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    runner = lab.node_runner
    for backend_name in BACKENDS:
        backend = backends.select(backend_name, runner=runner)  # type: ignore[arg-type]
        for patterns in PATTERNS:
            installer = reconcile.Installer(backend, render.render(_spec(patterns)), runner)
            applies, installs, checks, repairs = [], [], [], []
            for _ in range(REPEATS):
                started = time.perf_counter()
                backend.apply(installer.ruleset)
                applies.append(time.perf_counter() - started)
                started = time.perf_counter()
                installer.install()  # apply + conntrack flush of the metadata addresses
                installs.append(time.perf_counter() - started)
                started = time.perf_counter()
                installer.reconcile_once()
                checks.append(time.perf_counter() - started)
                lab.flush_by_hand(backend_name)
                started = time.perf_counter()
                repaired = installer.reconcile_once()
                repairs.append(time.perf_counter() - started)
                if not repaired:
                    raise RuntimeError("flush not detected")
            reconcile.uninstall(backend, runner=runner)
            rows.append(
                {
                    "backend": backend_name,
                    "patterns": patterns,
                    "apply_ms": _median_ms(applies),
                    "apply+conntrack_ms": _median_ms(installs),
                    "check_ms": _median_ms(checks),
                    "repair_ms": _median_ms(repairs),
                }
            )
    return rows


def exposure_rows(lab: lab_module.Lab) -> list[dict[str, object]]:
    rows = []
    url = f"http://{metadata_addresses.IMDS_V4}/latest/meta-data/instance-id"
    for mode in ("podwarden (rules kept)", "peer (rules removed on exit)"):
        lab.log.unlink(missing_ok=True)
        lab.podwarden(*lab_module.rules_apply_args(fail_closed_only=True))
        stop_file = Path(tempfile.mkdtemp()) / "stop"
        client = lab.spawn(
            lab.pod, lab.helper("client", "loop", url, "120", str(stop_file)), wait_line=None
        )
        started = time.monotonic()
        for _ in range(RESTARTS):
            agent = lab.spawn(
                lab.node,
                lab_module.agent_argv(
                    listen=f"{lab_module.NODE_POD_V4}:18191",
                    health_listen="127.0.0.1:18192",
                    log_level="error",
                ),
                wait_line=None,
            )
            lab.wait_ready("127.0.0.1:18192", timeout=20)
            time.sleep(0.2)
            lab_module.stop(agent, sig=signal.SIGTERM)
            if mode.startswith("peer"):
                lab.podwarden("rules", "remove")  # what kiam / the metadata-proxy script do
                time.sleep(0.3)  # a replacement is scheduled (the agent's own start follows)
        elapsed = time.monotonic() - started
        stop_file.touch()
        counts = json.loads(client.stdout.readline() if client.stdout else "{}")
        windows = lab.pod_leak_windows()
        rows.append(
            {
                "mode": mode,
                "restarts": RESTARTS,
                "seconds": round(elapsed, 1),
                "pod_requests": sum(counts.values()),
                "reached_upstream": len(lab.pod_leaks()),
                "exposure_ms_total": round(sum(windows) * 1000, 1),
                "exposure_ms_per_restart": round(sum(windows) * 1000 / RESTARTS, 1),
            }
        )
        lab.podwarden("rules", "remove")
        os.unlink(stop_file)
    return rows


def latency_rows(lab: lab_module.Lab) -> list[dict[str, object]]:
    rows = []
    url = f"http://{lab_module.CLOUD_V4}/not-metadata"
    lab.spawn(lab.node, lab.helper("fakeproxy", f"{lab_module.NODE_POD_V4}:18193"))
    for label in ("no rules", "nft rules", "iptables-legacy rules"):
        if label != "no rules":
            backend = label.split()[0]
            proxy = f"{lab_module.NODE_POD_V4}:18193"
            lab.podwarden(*lab_module.rules_apply_args(backend=backend, proxy=proxy))
        samples = json.loads(
            lab.run_in(lab.pod, lab.helper("client", "latency", url, str(LATENCY_REQUESTS))).stdout
        )
        rows.append(
            {
                "pod traffic to a non-metadata address": label,
                "p50_ms": samples[len(samples) // 2],
                "p99_ms": samples[int(len(samples) * 0.99) - 1],
            }
        )
        if label != "no rules":
            lab.podwarden("rules", "remove")
    return rows


def main() -> None:
    if not netns.available():
        print("[rules] skipped: needs root and iproute2", file=sys.stderr)
        return
    logs.configure(level="error")
    with tempfile.TemporaryDirectory() as tmp:
        lab = lab_module.build(Path(tmp))
        try:
            applied = apply_rows(lab)
            exposure = exposure_rows(lab)
            latency = latency_rows(lab)
        finally:
            lab.close()
    print(
        report.table(
            "rules: apply / periodic check (no drift) / repair after a flush, ms (median of 5)",
            applied,
        )
    )
    print()
    print(
        report.table(f"rules: exposure across {RESTARTS} agent restarts under pod load", exposure)
    )
    print()
    print(report.table("rules: latency of pod traffic that is not metadata", latency))
    path = report.save("rules", applied, extra={"exposure": exposure, "latency": latency})
    print(f"\nsaved {path}")


if __name__ == "__main__":
    main()
