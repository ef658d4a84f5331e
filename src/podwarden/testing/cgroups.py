"""A throw-away cgroup v2 subtree (`pwtest-<random>/kubepods`) for host-network tests."""

from __future__ import annotations

import secrets
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from podwarden.netfilter import cgroup_match


def v2_root_or_reason() -> tuple[Path | None, str]:
    """The writable cgroup v2 mount, or why there is none."""
    kind = subprocess.run(
        ["stat", "-fc", "%T", "/sys/fs/cgroup"], capture_output=True, text=True, check=False
    ).stdout.strip()
    try:
        root = cgroup_match.v2_mount()
    except cgroup_match.CgroupError as exc:
        return None, f"/sys/fs/cgroup is {kind}: {exc}"
    probe = root / f"pwtest-probe-{secrets.token_hex(3)}"
    try:
        probe.mkdir()
        probe.rmdir()
    except OSError as exc:
        return None, f"cgroup v2 at {root} is not writable: {exc}"
    return root, ""


@contextmanager
def pod_cgroup(root: Path) -> Iterator[tuple[str, Path]]:
    """Yield (path below the v2 root, directory); processes must be gone before exit."""
    top = root / f"pwtest-{secrets.token_hex(3)}"
    pods = top / "kubepods"
    pods.mkdir(parents=True)
    try:
        yield pods.relative_to(root).as_posix(), pods
    finally:
        for directory in (pods, top):
            leftover = (
                (directory / "cgroup.procs").read_text().split() if directory.exists() else []
            )
            for pid in leftover:  # move any straggler back to the root before removal
                (root / "cgroup.procs").write_text(pid)
            if directory.exists():
                directory.rmdir()
