"""Resolving `--pod-cgroup` into a match for host-network pod processes.

A hostNetwork pod shares the node's network namespace, so interfaces cannot
tell it from kubelet; its cgroup can. The path is given below the cgroup root
(`kubepods`, `kubepods.slice`) and matched in one of two ways:

- cgroup v2, when the path exists in the v2 hierarchy: nft resolves it
  relative to /sys/fs/cgroup and the iptables cgroup match relative to the v2
  root, so on a hybrid host (v2 mounted at /sys/fs/cgroup/unified) the two
  differ.
- cgroup v1 net_cls otherwise, when that controller is mounted and holds the
  path: the pod cgroup and every descendant are tagged with a classid that
  the rules match. A new child cgroup copies its parent's classid when it is
  created (net/core/netclassid_cgroup.c, `cgrp_css_online`), but writing a
  parent does not reach existing children, so `tag_netcls` walks the whole
  subtree and the reconcile loop repeats it every period. The agent's own
  cgroup is left untagged (classid 0), the v1 form of the v2 exemption.

The directory must exist when the rule is loaded: a missing one (in both
hierarchies) is an error, not a rule that silently matches nothing.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

from podwarden.netfilter.render import CgroupMatch, ClassidMatch

SYSFS_CGROUP = Path("/sys/fs/cgroup")
MOUNTINFO = Path("/proc/self/mountinfo")
PROC_CGROUP = Path("/proc/self/cgroup")
# "PDW" in ASCII; tc would read it as handle 50:4457. Configurable (`netcls_classid`)
# for nodes where another tool already gives net_cls classids a meaning.
DEFAULT_CLASSID = 0x00504457


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


def _parts(path: str) -> list[str]:
    parts = [part for part in path.strip("/").split("/") if part]
    if not parts or any(part in (".", "..") for part in parts):
        raise CgroupError(
            f"pod_cgroup: {path!r} must be a path below the cgroup root (e.g. kubepods)"
        )
    return parts


def resolve(path: str, *, mount: Path | None = None, sysfs: Path = SYSFS_CGROUP) -> CgroupMatch:
    """Turn a path below the v2 root into a match; raises CgroupError if absent."""
    parts = _parts(path)
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


def netcls_mount(mountinfo: Path = MOUNTINFO) -> Path:
    """Where the cgroup v1 hierarchy holding net_cls is mounted (its root, not a subtree).

    A controller belongs to one v1 hierarchy, so every full mount of it shows
    the same tree; one below /sys/fs/cgroup is preferred.
    """
    found: list[Path] = []
    for line in mountinfo.read_text().splitlines():
        left, _, right = line.partition(" - ")
        fields, kind = left.split(), right.split(" ")
        if len(fields) < 5 or len(kind) < 3 or kind[0] != "cgroup" or fields[3] != "/":
            continue
        if "net_cls" in kind[2].split(","):
            found.append(Path(fields[4]))
    if not found:
        raise CgroupError("pod_cgroup: no cgroup v1 net_cls hierarchy is mounted")
    below = [mount for mount in found if mount == SYSFS_CGROUP or SYSFS_CGROUP in mount.parents]
    return (below or found)[0]


def _exempt_paths(pod: str, exempt: tuple[str, ...], root: Path) -> tuple[str, ...]:
    """Each `exempt_cgroups` entry: a directory strictly below the pod cgroup that exists."""
    found = []
    for entry in exempt:
        try:
            path = "/".join(_parts(entry))
        except CgroupError:
            raise CgroupError(
                f"exempt_cgroups: {entry!r} must be a path below the cgroup root "
                f"(e.g. {pod}/<system pod's cgroup>)"
            ) from None
        if not path.startswith(pod + "/"):
            raise CgroupError(
                f"exempt_cgroups: {entry!r} is not below pod_cgroup {pod!r} "
                "(only subtrees of the pod cgroup can be exempted)"
            )
        if not (root / path).is_dir():
            raise CgroupError(f"exempt_cgroups: {root / path} does not exist (is the path right?)")
        found.append(path)
    return tuple(found)


def pod_match(
    path: str,
    *,
    classid: int = DEFAULT_CLASSID,
    exempt_self: bool = False,
    exempt: tuple[str, ...] = (),
    mountinfo: Path = MOUNTINFO,
    pid: int | None = None,
) -> tuple[CgroupMatch | ClassidMatch, tuple[CgroupMatch, ...]]:
    """The match for `path` and the v2 exemptions: v2 when the path exists there, else
    net_cls when mounted and holding it, else CgroupError (the caller fails closed).

    `exempt` lists subtrees of the pod cgroup whose processes keep the node's access
    (host-network system pods such as aws-node or a CSI node plugin that need the node
    role): v2 return rules ahead of the pod match, on v1 subtrees left untagged. Each
    must exist when the rules are rendered (a cgroup v2 rule binds to the directory).
    """
    parts = _parts(path)
    pod = "/".join(parts)
    try:
        v2_root: Path | None = v2_mount(mountinfo)
    except CgroupError:
        v2_root = None
    if v2_root is not None and v2_root.joinpath(*parts).is_dir():
        match = resolve(path, mount=v2_root)
        listed = tuple(
            resolve(entry, mount=v2_root) for entry in _exempt_paths(pod, exempt, v2_root)
        )
        own = exemption_for_self(match, mount=v2_root, pid=pid) if exempt_self else ()
        return match, (*own, *[entry for entry in listed if entry not in own])
    try:
        v1_root: Path | None = netcls_mount(mountinfo)
    except CgroupError:
        v1_root = None
    if v1_root is not None and v1_root.joinpath(*parts).is_dir():
        listed_v1 = _exempt_paths(pod, exempt, v1_root)
        own_v1 = netcls_exemption(v1_root, pod, pid=pid) if exempt_self else ()
        untagged = (*own_v1, *[entry for entry in listed_v1 if entry not in own_v1])
        return ClassidMatch(classid, pod, str(v1_root), untagged), ()
    raise CgroupError(
        f"pod_cgroup: {pod!r} does not exist below the cgroup v2 root "
        f"({v2_root or 'none mounted'}) nor below a net_cls hierarchy "
        f"({v1_root or 'none mounted'}), so host-network pods cannot be matched"
    )


def own_netcls_cgroup(proc_cgroup: Path = PROC_CGROUP) -> str:
    """This process's net_cls cgroup (below that hierarchy's root), '' for the root."""
    for line in proc_cgroup.read_text().splitlines():
        _, controllers, path = [*line.split(":", 2), "", ""][:3]
        if "net_cls" in controllers.split(","):
            return path.strip("/")
    return ""


def netcls_exemption(
    root: Path, pod: str, *, pid: int | None = None, proc_cgroup: Path = PROC_CGROUP
) -> tuple[str, ...]:
    """The agent's own net_cls cgroup when it lies below the pod cgroup (to leave untagged).

    Searched like the v2 one when /proc/self/cgroup says `/` (a cgroup namespace).
    The agent directly in the pod cgroup cannot be told from the pods: refused.
    """
    mine = own_netcls_cgroup(proc_cgroup)
    if not (mine and (root / mine).is_dir() and (mine == pod or mine.startswith(pod + "/"))):
        found = find_process_cgroup(root / pod, pid if pid is not None else os.getpid())
        if found is None:
            return ()
        mine = found.relative_to(root).as_posix()
    if mine == pod:
        raise CgroupError(
            f"pod_cgroup: this process runs in the net_cls cgroup {pod!r} itself, so it "
            "cannot be exempted without exempting every pod; run it in a child cgroup"
        )
    return (mine,)


def tag_netcls(match: ClassidMatch, *, limit: int = 100_000) -> int:
    """Write the classid into the pod cgroup and its descendants; returns how many changed.

    The `untagged` subtrees get 0 where they carry our classid (inherited when
    they were created). A cgroup removed during the walk is skipped; any other
    failure is a CgroupError, since an untagged pod would escape the rules.
    """
    root = Path(match.mount)
    top = root / match.path
    if not top.is_dir():
        raise CgroupError(f"net_cls: the pod cgroup {top} no longer exists")
    untagged = {root / path for path in match.untagged}
    changed = 0
    for seen, (directory, subdirs, _) in enumerate(os.walk(top)):
        if seen >= limit:
            raise CgroupError(f"net_cls: more than {limit} cgroups below {top}")
        here = Path(directory)
        if here in untagged:
            subdirs[:] = []
            changed += _clear_subtree(here, match.classid)
            continue
        changed += _set_classid(here, match.classid, unless=None)
    return changed


def _clear_subtree(top: Path, classid: int) -> int:
    changed = 0
    for directory, _, _ in os.walk(top):
        changed += _set_classid(Path(directory), 0, unless=classid)
    return changed


def _set_classid(directory: Path, value: int, *, unless: int | None) -> int:
    """Write `value` when it differs (and, with `unless`, only over that value); 1 if written."""
    path = directory / "net_cls.classid"
    try:
        current = int(path.read_text().strip() or "0")
        if current == value or (unless is not None and current != unless):
            return 0
        path.write_text(f"{value}\n")
    except FileNotFoundError:
        return 0  # the cgroup went away between listing and writing
    except (OSError, ValueError) as exc:
        hint = ""
        if isinstance(exc, OSError) and exc.errno == errno.EROFS:
            hint = (
                " (mount /sys/fs/cgroup writable on cgroup v1 nodes: deploy/agent/daemonset.yaml)"
            )
        raise CgroupError(f"net_cls: cannot set {path} to {value:#x}: {exc}{hint}") from None
    return 1
