"""The lab's pod cgroup: a real cgroup v2 directory for host-network pod processes.

A hostNetwork pod is a process in the node's network namespace whose cgroup
lies below the kubelet's pod cgroup. The lab makes such a directory,
`<prefix>kubepods` below the cgroup v2 root (found the way the agent finds
it, so the hybrid /sys/fs/cgroup/unified layout works), hands its path to
`podwarden agent --pod-cgroup`, and removes it on `lab down`. The name is
derived from the lab's prefix, so `down` finds it without the state file.
Without a writable cgroup v2 hierarchy the lab runs without it (no
host-network matching) and says so.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

from podwarden.netfilter import cgroup_match


class CgroupUnavailable(Exception):
    """No writable cgroup v2 hierarchy; the message says why."""


def relative_path(prefix: str) -> str:
    """The lab's pod cgroup below the v2 root (what `--pod-cgroup` takes)."""
    return f"{prefix}kubepods"


def directory(prefix: str) -> Path | None:
    """The lab's pod cgroup directory when it exists, else None."""
    try:
        found = cgroup_match.v2_mount() / relative_path(prefix)
    except (cgroup_match.CgroupError, OSError):
        return None
    return found if found.is_dir() else None


def create(prefix: str) -> Path:
    """Make the pod cgroup (idempotent); CgroupUnavailable when cgroup v2 is not writable."""
    try:
        root = cgroup_match.v2_mount()
        made = root / relative_path(prefix)
        made.mkdir(exist_ok=True)
    except (cgroup_match.CgroupError, OSError) as exc:
        raise CgroupUnavailable(f"no writable cgroup v2 hierarchy: {exc}") from exc
    return made


def remove(prefix: str) -> list[str]:
    """Move stragglers back to the root and remove the directory; the problems met."""
    found = directory(prefix)
    if found is None:
        return []
    root = found.parent
    problems: list[str] = []
    with contextlib.suppress(OSError):
        for pid in (found / "cgroup.procs").read_text().split():
            try:
                (root / "cgroup.procs").write_text(pid)
            except OSError as exc:  # gone meanwhile: nothing to move
                if exc.errno != 3:
                    problems.append(f"move pid {pid} out of {found}: {exc}")
    try:
        found.rmdir()
    except OSError as exc:
        problems.append(f"remove cgroup {found}: {exc}")
    return problems
