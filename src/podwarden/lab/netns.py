"""Thin, explicit wrappers over `ip netns` / `ip link` for the lab and system tests.

Written by hand because pyroute2 would be a large dependency for a dozen
commands, and the `ip` tool is what an operator would type to inspect the
result. Every object created through a `Tracker` is removed by `Tracker.close`,
in reverse order, even after a failure, so tests never leave namespaces behind.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

NETNS_DIR = Path("/var/run/netns")


class NetnsError(Exception):
    """An `ip` command failed; the message carries the command and its stderr."""


def available() -> bool:
    """True when this process may create network namespaces (root with iproute2)."""
    return os.geteuid() == 0 and shutil.which("ip") is not None


def run(
    argv: Sequence[str],
    *,
    netns: str | None = None,
    check: bool = True,
    input_text: str | None = None,
    timeout: float = 30.0,
) -> subprocess.CompletedProcess[str]:
    """Run a command, inside `netns` when given, capturing text output."""
    full = ["ip", "netns", "exec", netns, *argv] if netns else list(argv)
    proc = subprocess.run(
        full, capture_output=True, text=True, input=input_text, timeout=timeout, check=False
    )
    if check and proc.returncode != 0:
        raise NetnsError(f"{' '.join(full)} failed ({proc.returncode}): {proc.stderr.strip()}")
    return proc


def exists(name: str) -> bool:
    """Whether a named network namespace exists."""
    return (NETNS_DIR / name).exists()


def ip(*args: str, netns: str | None = None, check: bool = True) -> str:
    """Run `ip ARGS` (in `netns`), returning stdout."""
    return run(["ip", *args], netns=netns, check=check).stdout


def sysctl(key: str, value: str, *, netns: str | None = None) -> None:
    """Set a sysctl, inside a namespace when given (net.* keys are per namespace)."""
    run(["sysctl", "-q", "-w", f"{key}={value}"], netns=netns)


def pid_netns_argv(netns: str, argv: Sequence[str]) -> list[str]:
    """The argv that runs `argv` inside `netns` (for Popen of long-lived processes)."""
    return ["ip", "netns", "exec", netns, *argv]


@dataclass
class Tracker:
    """Records what was created so it can be undone in reverse order."""

    prefix: str
    undo: list[tuple[str, Callable[[], None]]] = field(default_factory=list)

    def add_netns(self, name: str) -> str:
        """Create a namespace with loopback up; remembered for removal."""
        full = f"{self.prefix}{name}"
        if exists(full):
            ip("netns", "del", full, check=False)
        ip("netns", "add", full)
        self.undo.append((f"netns {full}", lambda: delete_netns(full)))
        ip("link", "set", "lo", "up", netns=full)
        return full

    def add_veth(self, left: str, left_ns: str | None, right: str, right_ns: str | None) -> None:
        """Create a veth pair and move each end into its namespace (None = this one)."""
        ip("link", "add", left, "type", "veth", "peer", "name", right)
        self.undo.append((f"link {left}", lambda: _del_link(left, left_ns)))
        if left_ns:
            ip("link", "set", left, "netns", left_ns)
        if right_ns:
            ip("link", "set", right, "netns", right_ns)
        ip("link", "set", left, "up", netns=left_ns)
        ip("link", "set", right, "up", netns=right_ns)

    def on_close(self, what: str, action: Callable[[], None]) -> None:
        """Register any other clean-up step (a process, a file)."""
        self.undo.append((what, action))

    def close(self) -> list[str]:
        """Undo everything, newest first; returns the steps that failed."""
        failures: list[str] = []
        while self.undo:
            what, action = self.undo.pop()
            try:
                action()
            except Exception as exc:  # clean-up must go on whatever failed
                failures.append(f"{what}: {exc}")
        return failures


def delete_netns(name: str) -> None:
    """Delete a namespace if it exists (processes inside keep nothing alive)."""
    if exists(name):
        ip("netns", "del", name, check=False)


def _del_link(name: str, netns: str | None) -> None:
    if netns and not exists(netns):
        return
    ip("link", "del", name, netns=netns, check=False)
