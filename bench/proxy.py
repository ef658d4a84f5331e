"""bench/proxy: podwarden proxy vs nginx with the Kubernetes metadata-proxy rules (GCE).

Both sit in front of the same emulated GCE metadata service and get the same
load from wrk (C, one thread on its own core when taskset exists): 60 % allowed
static metadata, 20 % denied (recursive listing, X-Forwarded-For), 20 %
credential paths (kube-env, the node service-account token). Each cell runs a
bounded time. 1-vs-1: nginx with one worker and podwarden with one process,
both pinned to the same core as the emulator. N-vs-1: N = the number of cores,
nginx with N workers against podwarden's one process, both unpinned: podwarden
has no multi-process mode (one node's pods ask a few requests a second; one
process serves tens of thousands), and this row shows what that costs against
a peer using every core.
Besides req/s and latency, each cell reports the CPU time per request of the
server and of the emulator behind it: on a shared machine req/s moves with
whatever else runs, CPU per request hardly does. Every answer's status is
counted, so a peer answering errors fast cannot look good.
Everything listens on 127.0.0.1 high ports and is stopped by PID.

Run: `python -m bench proxy` (or `make bench`).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import report
from podwarden.lab.ports import free_port, wait_listening

HERE = Path(__file__).resolve().parent
PODWARDEN = Path(sys.executable).parent / "podwarden"
SECONDS = float(os.environ.get("BENCH_PROXY_SECONDS", "3"))
ROUNDS = int(os.environ.get("BENCH_PROXY_ROUNDS", "3"))
CONNECTIONS = (50, 200)
FLAVOR = {"Metadata-Flavor": "Google"}

# (kind, path, headers): ten requests, cycled in order by every wrk connection.
MIX: list[tuple[str, str, dict[str, str]]] = [
    ("allowed", "/computeMetadata/v1/instance/id", FLAVOR),
    ("allowed", "/computeMetadata/v1/instance/zone", FLAVOR),
    ("allowed", "/computeMetadata/v1/instance/machine-type", FLAVOR),
    ("allowed", "/computeMetadata/v1/project/project-id", FLAVOR),
    ("allowed", "/computeMetadata/v1/instance/hostname", FLAVOR),
    ("allowed", "/computeMetadata/v1/project/numeric-project-id", FLAVOR),
    ("denied", "/computeMetadata/v1/instance/?recursive=true", FLAVOR),
    ("denied", "/computeMetadata/v1/instance/id", {**FLAVOR, "X-Forwarded-For": "10.0.0.9"}),
    ("credential", "/computeMetadata/v1/instance/attributes/kube-env", FLAVOR),
    ("credential", "/computeMetadata/v1/instance/service-accounts/default/token", FLAVOR),
]


def main() -> None:
    if shutil.which("wrk") is None or shutil.which("nginx") is None:
        print("[proxy] skipped: needs wrk and nginx (make setup installs them as root)")
        return
    with tempfile.TemporaryDirectory(prefix="pw-bench-proxy-") as tmp_name:
        tmp = Path(tmp_name)
        tmp.chmod(0o755)
        processes: list[subprocess.Popen[bytes]] = []
        try:
            rows, checks, extra = _run(tmp, processes)
        finally:
            for process in reversed(processes):
                _stop(process)
    print(report.table("Mix replies (status per request, same emulator)", checks))
    print()
    print(report.table(f"bench/proxy: GCE mix 60/20/20, {SECONDS:g} s x {ROUNDS} per cell", rows))
    for line in extra["notes"]:
        print(f"  {line}")
    path = report.save("proxy", rows, extra={"mix": checks, **extra})
    print(f"saved {path}")


def _run(
    tmp: Path, processes: list[subprocess.Popen[bytes]]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], dict[str, Any]]:
    cpus = os.sched_getaffinity(0)
    pin = len(cpus) >= 2 and shutil.which("taskset") is not None
    server_cpu, load_cpu = (sorted(cpus)[0], sorted(cpus)[-1]) if pin else (None, None)

    emulator_port = free_port()
    emulator = _spawn(
        [
            str(PODWARDEN),
            "lab",
            "cloud",
            "--provider",
            "gce",
            "--listen",
            f"127.0.0.1:{emulator_port}",
        ],
        log=tmp / "emulator.log",
        cpu=server_cpu,
    )
    processes.append(emulator)
    wait_listening("127.0.0.1", emulator_port)
    upstream = f"http://127.0.0.1:{emulator_port}"

    podwarden_port = free_port()
    podwarden = _start_podwarden(
        upstream, podwarden_port, log=tmp / "podwarden.log", cpu=server_cpu
    )
    processes.append(podwarden)

    many = max(2, len(cpus))
    nginx_ports, nginx_pids = {}, {}
    for workers in (1, many):
        port = free_port()
        master = _start_nginx(
            tmp / f"nginx{workers}",
            port=port,
            workers=workers,
            upstream_port=emulator_port,
            cpu=server_cpu if workers == 1 else None,
        )
        processes.append(master)
        wait_listening("127.0.0.1", port)
        nginx_ports[workers] = port
        nginx_pids[workers] = [master.pid, *_children(master.pid)]

    checks = []
    for kind, path, headers in MIX:
        checks.append(
            {
                "kind": kind,
                "request": path + (" +XFF" if "X-Forwarded-For" in headers else ""),
                "nginx": _status(nginx_ports[1], path, headers),
                "podwarden": _status(podwarden_port, path, headers),
            }
        )

    script = tmp / "mix.lua"
    script.write_text(_lua_script())
    unpinned_port = free_port()
    unpinned = _start_podwarden(upstream, unpinned_port, log=tmp / "unpinned.log", cpu=None)
    processes.append(unpinned)
    pairs = [
        (
            Cell("nginx (1 worker)", nginx_ports[1], nginx_pids[1], rss=False),
            Cell("podwarden", podwarden_port, [podwarden.pid], rss=True),
        ),
        (
            Cell(f"nginx ({many} workers)", nginx_ports[many], nginx_pids[many], rss=False),
            Cell("podwarden (unpinned)", unpinned_port, [unpinned.pid], rss=True),
        ),
    ]
    rows: list[dict[str, Any]] = []
    for peer, ours in pairs:
        for connections in CONNECTIONS:
            runs: dict[str, list[dict[str, Any]]] = {peer.name: [], ours.name: []}
            for _ in range(ROUNDS):  # alternate, so a burst of outside load hits both
                for cell in (peer, ours):
                    result = _wrk(
                        cell.port,
                        connections=connections,
                        script=script,
                        cpu=load_cpu,
                        server_pids=cell.pids,
                        upstream_pid=emulator.pid,
                    )
                    runs[cell.name].append(result)
            peer_row = _median_row(peer, connections, runs[peer.name])
            our_row = _median_row(ours, connections, runs[ours.name])
            if peer_row["req_s"]:
                our_row["vs_nginx"] = round(our_row["req_s"] / peer_row["req_s"], 2)
            rows += [peer_row, our_row]
    for row in rows:
        row.setdefault("vs_nginx", None)
    idle_cli, idle_own = _idle_rss(upstream, tmp)
    notes = [
        f"cpus: {len(cpus)}; servers pinned to cpu {server_cpu}, wrk to cpu {load_cpu}"
        if pin
        else f"cpus: {len(cpus)}; no pinning",
        f"podwarden peak RSS (VmHWM): {_rss_mib(podwarden.pid, field='VmHWM:')} MiB; idle: "
        f"{idle_cli} MiB via `podwarden proxy` (the CLI loads only the proxy's part), "
        f"{idle_own} MiB with only the proxy's own command module imported",
        "targets: podwarden >= nginx req/s, p99 <= 5 ms at 50 conns, RSS <= 60 MiB",
        "cpu_us_req: the server's CPU per request; upstream_cpu_us_req: the emulator's "
        "(nginx sends it every allowed request, podwarden only cache misses)",
        "nginx forwards the node service-account token (200); podwarden conceals it (403)",
        f"each row: the median (by req/s) of {ROUNDS} alternating runs of {SECONDS:g} s",
        f"N-vs-1 rows: servers unpinned (N = {many}); podwarden is one process "
        "(no --workers: see README, 'One process')",
    ]
    return rows, checks, {"seconds": SECONDS, "rounds": ROUNDS, "notes": notes}


@dataclass(frozen=True)
class Cell:
    """One server under test: its port, the processes whose CPU counts, whether to show RSS."""

    name: str
    port: int
    pids: list[int]
    rss: bool


def _median_row(cell: Cell, connections: int, runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The run with the median req/s, whole (its latencies belong to the same run)."""
    chosen = sorted(runs, key=lambda run: run["req_s"])[len(runs) // 2]
    row = {"server": cell.name, "conns": connections, **chosen}
    row["rss_mib"] = max((_rss_mib(pid) or 0.0) for pid in cell.pids) if cell.rss else None
    row["vs_nginx"] = None
    return row


def _idle_rss(upstream: str, tmp: Path) -> tuple[float | None, float | None]:
    """Idle RSS of a fresh proxy started through the full CLI and through its own module."""
    own = [sys.executable, "-c", "from podwarden.metadata.commands import proxy; proxy()"]
    results = []
    for name, argv in (("cli", [str(PODWARDEN), "proxy"]), ("own", own)):
        port = free_port()
        process = _spawn(
            [*argv, "--provider", "gce", "--upstream", upstream, "--listen", f"127.0.0.1:{port}"],
            log=tmp / f"idle-{name}.log",
            cpu=None,
        )
        try:
            wait_listening("127.0.0.1", port)
            _status(port, "/computeMetadata/v1/instance/id", FLAVOR)
            results.append(_rss_mib(process.pid))
        finally:
            _stop(process)
    return results[0], results[1]


def _start_podwarden(
    upstream: str, port: int, *, log: Path, cpu: int | None
) -> subprocess.Popen[bytes]:
    """`podwarden proxy --provider gce` on 127.0.0.1:`port`, listening when this returns."""
    argv = [str(PODWARDEN), "proxy", "--provider", "gce", "--upstream", upstream]
    process = _spawn([*argv, "--listen", f"127.0.0.1:{port}"], log=log, cpu=cpu)
    wait_listening("127.0.0.1", port)
    return process


def _spawn(argv: list[str], *, log: Path, cpu: int | None) -> subprocess.Popen[bytes]:
    if cpu is not None:
        argv = ["taskset", "-c", str(cpu), *argv]
    with log.open("wb") as out:
        return subprocess.Popen(
            argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        )


def _start_nginx(
    prefix: Path, *, port: int, workers: int, upstream_port: int, cpu: int | None
) -> subprocess.Popen[bytes]:
    prefix.mkdir()
    prefix.chmod(0o755)
    conf = (HERE / "nginx" / "metadata-proxy.conf").read_text()
    for name, value in {
        "PREFIX": str(prefix),
        "WORKERS": str(workers),
        "LISTEN_PORT": str(port),
        "UPSTREAM_PORT": str(upstream_port),
    }.items():
        conf = conf.replace(f"@@{name}@@", value)
    (prefix / "nginx.conf").write_text(conf)
    return _spawn(
        ["nginx", "-p", str(prefix), "-c", str(prefix / "nginx.conf")],
        log=prefix / "stdout.log",
        cpu=cpu,
    )


def _status(port: int, path: str, headers: dict[str, str]) -> int:
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


def _lua_script() -> str:
    """The wrk script: cycle through MIX; count statuses per thread; print one JSON line."""
    # Requests are formatted in init(): before it, wrk has no Host header to add.
    lines = [
        "local threads = {}",
        "function setup(thread) table.insert(threads, thread) end",
        "function init(args)",
        "  i = 0; ok = 0; refused = 0; other = 0",
        "  reqs = {}",
    ]
    for _, path, headers in MIX:
        table = ", ".join(f'["{k}"] = "{v}"' for k, v in headers.items())
        lines.append(f'  reqs[#reqs + 1] = wrk.format("GET", "{path}", {{{table}}})')
    lines += [
        "end",
        "function request()",
        "  i = (i % #reqs) + 1",
        "  return reqs[i]",
        "end",
        "function response(status, headers, body)",
        "  if status == 200 then ok = ok + 1",
        "  elseif status == 403 then refused = refused + 1",
        "  else other = other + 1 end",
        "end",
        "function done(summary, latency, requests)",
        "  local e = summary.errors",
        "  local ok, refused, other = 0, 0, 0",
        "  for _, t in ipairs(threads) do",
        '    ok = ok + t:get("ok"); refused = refused + t:get("refused")',
        '    other = other + t:get("other")',
        "  end",
        '  io.write(string.format("RESULT {\\"requests\\": %d, \\"duration_us\\": %d, '
        '\\"errors\\": %d, \\"p50_us\\": %d, \\"p99_us\\": %d, \\"ok\\": %d, '
        '\\"refused\\": %d, \\"other\\": %d}\\n",',
        "    summary.requests, summary.duration, e.connect + e.read + e.write + e.timeout,",
        "    latency:percentile(50), latency:percentile(99), ok, refused, other))",
        "end",
    ]
    return "\n".join(lines) + "\n"


def _wrk(
    port: int,
    *,
    connections: int,
    script: Path,
    cpu: int | None,
    server_pids: list[int],
    upstream_pid: int,
) -> dict[str, Any]:
    """One cell: a 1 s warm-up, then the measured run. CPU per request is the
    server's (and the upstream emulator's) user+system time over the run divided
    by the requests served: unlike req/s it barely moves when the host is busy."""
    url = f"http://127.0.0.1:{port}"
    warm = ["wrk", "-t1", f"-c{connections}", "-d1s", "-s", str(script), url]
    real = [
        "wrk",
        "-t1",
        f"-c{connections}",
        f"-d{SECONDS:g}s",
        "--timeout",
        "2s",
        "-s",
        str(script),
        url,
    ]
    if cpu is not None:
        warm = ["taskset", "-c", str(cpu), *warm]
        real = ["taskset", "-c", str(cpu), *real]
    subprocess.run(warm, capture_output=True, timeout=30, check=False)
    server_before, upstream_before = _cpu_seconds(server_pids), _cpu_seconds([upstream_pid])
    done = subprocess.run(real, capture_output=True, text=True, timeout=SECONDS + 30, check=False)
    for line in done.stdout.splitlines():
        if line.startswith("RESULT "):
            data = json.loads(line[len("RESULT ") :])
            seconds = data["duration_us"] / 1e6
            served = max(1, data["requests"])
            server_cpu = _cpu_seconds(server_pids) - server_before
            upstream_cpu = _cpu_seconds([upstream_pid]) - upstream_before
            return {
                "req_s": round(data["requests"] / seconds) if seconds else 0,
                "p50_ms": data["p50_us"] / 1000,
                "p99_ms": data["p99_us"] / 1000,
                "errors": data["errors"],
                "200/403/other": f"{data['ok']}/{data['refused']}/{data['other']}",
                "cpu_us_req": round(server_cpu / served * 1e6, 1),
                "upstream_cpu_us_req": round(upstream_cpu / served * 1e6, 1),
            }
    raise RuntimeError(f"wrk gave no result: {done.stdout[-500:]} {done.stderr[-500:]}")


def _cpu_seconds(pids: list[int]) -> float:
    """User + system CPU seconds used so far by `pids` (from /proc/PID/stat)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)
    return total / ticks


def _children(pid: int) -> list[int]:
    """Direct children of `pid` (nginx's workers), found by their parent id."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(entry.name))
    return found


def _rss_mib(pid: int, *, field: str = "VmRSS:") -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        return None
    return None


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=5)


if __name__ == "__main__":
    started = time.monotonic()
    main()
    print(f"took {time.monotonic() - started:.1f} s")
