"""IAM role values as pods and operators write them: a name, a path and a name, or an ARN.

One reading for admission, the namespace rule and the proxy, because a value
two of them read differently is a way around the third. IAM's own rules
(CreateRole API reference): a role name is 1-64 characters of letters, digits
and `+=,.@_-`; a path is `/` or `/`-separated segments between slashes, at
most 512 characters. Path segments here use the name's characters: IAM allows
any printable ASCII in paths, but `*`, `?` or `[` would read as glob syntax in
a namespace's patterns, so podwarden refuses them. Empty segments (`a//b`)
and dot segments (`..`, `.`) are refused: `team-x/../../admin` is no role,
though an STS emulator resolved it to `admin` (issue 9).

A value without `arn:` is relative to `--base-role-arn` (which may itself hold
a path, `arn:aws:iam::123456789012:role/teams/`), with one leading `/` allowed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MAX_NAME = 64
MAX_PATH = 512
NAME_CHARS = re.compile(r"[\w+=,.@-]+", re.ASCII)
_ARN = re.compile(r"arn:(aws[a-z-]*):iam::(\d{12}):role/(.*)", re.DOTALL)
_ACCEPTED = "letters, digits and +=,.@_-"


class RoleValueError(ValueError):
    """A role value that names no IAM role; the message says why and what is accepted."""


@dataclass(frozen=True, slots=True)
class RoleArn:
    """A checked role ARN: `prefix` is `arn:<partition>:iam::<account>:role/`."""

    prefix: str
    path: str  # "" or "seg/seg/" (no leading slash)
    name: str

    @property
    def arn(self) -> str:
        return f"{self.prefix}{self.path}{self.name}"

    @property
    def account(self) -> str:
        return self.prefix.split(":")[4]


def _segments(text: str, *, what: str) -> list[str]:
    """The checked `/`-separated segments of a path and name (no leading slash)."""
    segments = text.split("/")
    for segment in segments:
        if segment == "":
            raise RoleValueError(f"{what} has an empty path segment ('//' or a trailing '/')")
        if segment in (".", ".."):
            raise RoleValueError(f"{what} has a dot segment {segment!r}")
        if not NAME_CHARS.fullmatch(segment):
            bad = next(c for c in segment if not NAME_CHARS.fullmatch(c))
            raise RoleValueError(f"{what} has the character {bad!r}; IAM accepts {_ACCEPTED}")
    if len(segments[-1]) > MAX_NAME:
        raise RoleValueError(f"{what}: a role name has at most {MAX_NAME} characters")
    if len(text) - len(segments[-1]) > MAX_PATH:
        raise RoleValueError(f"{what}: a role path has at most {MAX_PATH} characters")
    return segments


def parse_arn(value: str) -> RoleArn:
    """A full role ARN (`arn:aws:iam::123456789012:role/[path/]name`), checked."""
    found = _ARN.fullmatch(value)
    if found is None:
        raise RoleValueError(
            f"{value!r} is not a role ARN (arn:aws:iam::<12-digit account>:role/[path/]name)"
        )
    partition, account, rest = found.groups()
    segments = _segments(rest, what=f"role {value!r}")
    path = "".join(f"{s}/" for s in segments[:-1])
    return RoleArn(f"arn:{partition}:iam::{account}:role/", path, segments[-1])


def parse_base(value: str) -> str:
    """`--base-role-arn`, checked and ending in `/` (a path after `role/` is allowed)."""
    base = value if value.endswith("/") else value + "/"
    found = _ARN.fullmatch(base)
    if found is None:
        raise RoleValueError(
            f"{value!r} is not a role ARN prefix "
            "(expected arn:aws:iam::<12-digit account>:role/ or .../role/<path>/)"
        )
    if found.group(3):
        _segments(found.group(3)[:-1], what=f"base {value!r}")
    return base


def resolve(value: str, base: str | None) -> RoleArn:
    """The role a pod's value names: an ARN as it is, else a name below `base`."""
    value = value.strip()
    if value.startswith("arn:"):
        return parse_arn(value)
    if base is None:
        raise RoleValueError(f"role {value!r} is not a full role ARN and no base ARN is set")
    return parse_arn(base + relative(value))


def relative(value: str) -> str:
    """A path and name as written below a base (one leading `/` allowed), checked."""
    below = value[1:] if value.startswith("/") else value
    _segments(below, what=f"role {value!r}")
    return below


def relative_to(role: RoleArn, base: str | None) -> str | None:
    """The role's path and name below `base` (what a short value would say), else None."""
    if base is None or not role.arn.startswith(base):
        return None
    return role.arn[len(base) :]
