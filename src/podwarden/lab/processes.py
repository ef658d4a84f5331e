"""Long-lived lab processes (emulator, proxy): start in a namespace, find, stop.

A process is started detached (own session, stdin closed, output to a log
file) so `podwarden lab up` can return while the lab keeps running. It is
remembered by PID *and* kernel start time, so `lab down` signals only the
exact process it started, never one that later reused the PID.

Readiness is read from /proc/PID/net/tcp{,6} (the sockets of the process's
own network namespace) matched against the process's own file descriptors,
so the parent sees a listener inside a namespace without entering it.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from podwarden.lab import netns
from podwarden.lab.state import ProcessRecord

_TCP_LISTEN = "0A"


class ProcessError(Exception):
    """A lab process did not start or did not become ready; the message says which."""


def start_ticks(pid: int) -> int | None:
    """The kernel start time of `pid` (field 22 of /proc/PID/stat), None if gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: split after it.
    rest = raw[raw.rindex(")") + 2 :].split()
    return int(rest[19])


def _state_letter(pid: int) -> str | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return raw[raw.rindex(")") + 2 :].split()[0]


def is_running(record: ProcessRecord) -> bool:
    """True when the recorded process (same PID, same start time) still runs."""
    if start_ticks(record.pid) != record.start_ticks:
        return False
    return _state_letter(record.pid) not in (None, "Z", "X")


def start(
    *,
    name: str,
    netns_name: str,
    argv: Sequence[str],
    log_dir: Path,
    env: Mapping[str, str | None] | None = None,
    keep_sysfs: bool = False,
) -> ProcessRecord:
    """Start `argv` inside `netns_name`, output appended to `log_dir/<name>.log`.

    `env` is added to this process's environment; a None value removes the
    variable (the lab's node must not inherit the caller's AWS profile).

    `keep_sysfs=True` enters with `nsenter --net` instead of `ip netns exec`,
    which remounts /sys and so hides /sys/fs/cgroup: the agent needs it to
    match the pod cgroup.
    """
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / f"{name}.log"
    full_env = dict(os.environ)
    for key, value in (env or {}).items():
        if value is None:
            full_env.pop(key, None)
        else:
            full_env[key] = value
    with log_path.open("ab") as log:
        wrapped = (
            ["nsenter", f"--net={netns.NETNS_DIR / netns_name}", *argv]
            if keep_sysfs
            else netns.pid_netns_argv(netns_name, argv)
        )
        proc = subprocess.Popen(
            wrapped,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=full_env,
            start_new_session=True,
        )
    ticks = start_ticks(proc.pid)
    if ticks is None:
        code = proc.wait()
        raise ProcessError(f"{name} exited at once with code {code}; see {log_path}")
    # `ip netns exec` and nsenter exec the command in place, so this PID is the command's.
    return ProcessRecord(
        name=name,
        pid=proc.pid,
        start_ticks=ticks,
        netns=netns_name,
        argv=list(argv),
        log=str(log_path),
    )


def listening_ports(pid: int) -> set[int]:
    """TCP ports on which the process `pid` itself holds a listening socket.

    Matches socket inodes of /proc/PID/fd against /proc/PID/net/tcp{,6}, so
    two processes on the same port (the IPv4 and IPv6 proxies) are told apart.
    """
    inodes: set[str] = set()
    try:
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            with contextlib.suppress(OSError):
                target = os.readlink(fd)
                if target.startswith("socket:["):
                    inodes.add(target[len("socket:[") : -1])
    except OSError:
        return set()
    ports: set[int] = set()
    for table in ("tcp", "tcp6"):
        try:
            lines = Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if len(fields) > 9 and fields[3] == _TCP_LISTEN and fields[9] in inodes:
                ports.add(int(fields[1].rsplit(":", 1)[1], 16))
    return ports


def wait_listening(record: ProcessRecord, ports: Sequence[int], *, timeout: float = 15.0) -> None:
    """Block until the process's namespace listens on every port, or raise ProcessError."""
    deadline = time.monotonic() + timeout
    while True:
        if not is_running(record):
            raise ProcessError(f"{record.name} exited before listening; see {record.log}")
        missing = set(ports) - listening_ports(record.pid)
        if not missing:
            return
        if time.monotonic() > deadline:
            raise ProcessError(
                f"{record.name} not listening on port(s) {sorted(missing)} after {timeout}s;"
                f" see {record.log}"
            )
        time.sleep(0.05)


def stop(record: ProcessRecord, *, timeout: float = 5.0) -> None:
    """SIGTERM the recorded process, SIGKILL it after `timeout`; no-op when gone."""
    if not is_running(record):
        _reap(record.pid)
        return
    with contextlib.suppress(ProcessLookupError):
        os.kill(record.pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while is_running(record) and time.monotonic() < deadline:
        _reap(record.pid)
        time.sleep(0.02)
    if is_running(record):
        with contextlib.suppress(ProcessLookupError):
            os.kill(record.pid, signal.SIGKILL)
        while is_running(record):
            _reap(record.pid)
            time.sleep(0.02)
    _reap(record.pid)


def kill(record: ProcessRecord) -> None:
    """SIGKILL the recorded process at once (a crash, as the demo shows); no-op when gone."""
    if is_running(record):
        with contextlib.suppress(ProcessLookupError):
            os.kill(record.pid, signal.SIGKILL)
    while is_running(record):
        _reap(record.pid)
        time.sleep(0.01)
    _reap(record.pid)


def inside_netns(netns_path: Path) -> list[int]:
    """PIDs of every process whose network namespace is the one bound at `netns_path`."""
    try:
        inode = netns_path.stat().st_ino
    except OSError:
        return []
    found: list[int] = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            if os.readlink(entry / "ns" / "net") == f"net:[{inode}]":
                found.append(int(entry.name))
    return sorted(found)


def _reap(pid: int) -> None:
    """Collect the exit status when the process is our own child (else nothing to do)."""
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)
