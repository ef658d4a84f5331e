"""Resolving `--pod-cgroup` into a match for host-network pod processes.

A hostNetwork pod shares the node's network namespace, so interfaces cannot
tell it from kubelet; its cgroup can. The path is given below the cgroup v2
root (`kubepods`, `kubepods.slice`); nft resolves it relative to
/sys/fs/cgroup and the iptables cgroup match relative to the v2 root, so on a
hybrid host (v2 mounted at /sys/fs/cgroup/unified) the two differ. The
directory must exist when the rule is loaded: a missing one is an error, not
a rule that silently matches nothing.
"""

from __future__ import annotations

import os
from pathlib import Path

from podwarden.netfilter.render import CgroupMatch

SYSFS_CGROUP = Path("/sys/fs/cgroup")


class CgroupError(Exception):
    """The pod cgroup cannot be matched; the message says why."""


def v2_mount(mountinfo: Path = Path("/proc/self/mountinfo")) -> Path:
    """Where the cgroup v2 hierarchy is mounted (unified or hybrid layout)."""
    for line in mountinfo.read_text().splitlines():
        left, _, right = line.partition(" - ")
        if right.split(" ", 1)[0] == "cgroup2":
            mount = Path(left.split()[4])
            if mount == SYSFS_CGROUP or SYSFS_CGROUP in mount.parents:
                return mount
    raise CgroupError(
        "pod_cgroup: no cgroup v2 hierarchy is mounted below /sys/fs/cgroup "
        "(host-network matching needs cgroup v2)"
    )


def resolve(path: str, *, mount: Path | None = None, sysfs: Path = SYSFS_CGROUP) -> CgroupMatch:
    """Turn a path below the v2 root into a match; raises CgroupError if absent."""
    clean = path.strip("/")
    parts = [part for part in clean.split("/") if part]
    if not parts or any(part in (".", "..") for part in parts):
        raise CgroupError(f"pod_cgroup: {path!r} must be a path below the cgroup v2 root")
    root = mount or v2_mount()
    directory = root.joinpath(*parts)
    if not directory.is_dir():
        raise CgroupError(f"pod_cgroup: {directory} does not exist (is the path right?)")
    nft_path = directory.relative_to(sysfs).as_posix()
    return CgroupMatch(path="/".join(parts), level=len(parts), nft_path=nft_path)


def own_cgroup(proc_cgroup: Path = Path("/proc/self/cgroup")) -> str:
    """This process's cgroup v2 path (below the root), '' for the root."""
    for line in proc_cgroup.read_text().splitlines():
        if line.startswith("0::"):
            return line[3:].strip("/")
    return ""


def exemption_for_self(
    pod: CgroupMatch, *, mount: Path | None = None, pid: int | None = None
) -> tuple[CgroupMatch, ...]:
    """The agent's own cgroup when it lies inside the pod cgroup (a DaemonSet pod does).

    Without it the agent's upstream requests would be redirected to itself.
    In a private cgroup namespace /proc/self/cgroup says `/`, so the subtree
    is searched for the directory whose cgroup.procs lists this process
    (needs the host's /sys/fs/cgroup mounted, as the DaemonSet does).
    """
    root = mount or v2_mount()
    mine = own_cgroup()
    if mine and (root / mine).is_dir() and (mine == pod.path or mine.startswith(pod.path + "/")):
        return (resolve(mine, mount=root),)
    found = find_process_cgroup(root / pod.path, pid if pid is not None else os.getpid())
    if found is None:
        return ()
    return (resolve(found.relative_to(root).as_posix(), mount=root),)


def find_process_cgroup(subtree: Path, pid: int, *, limit: int = 100_000) -> Path | None:
    """The directory below `subtree` whose cgroup.procs holds `pid` (bounded walk)."""
    wanted = str(pid)
    for seen, (directory, _, files) in enumerate(os.walk(subtree)):
        if seen >= limit:
            break
        if "cgroup.procs" not in files:
            continue
        try:
            procs = (Path(directory) / "cgroup.procs").read_text().split()
        except OSError:
            continue
        if wanted in procs:
            return Path(directory)
    return None
