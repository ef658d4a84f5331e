"""Pod Security Standards levels and policy versions, parsed as PSA parses them.

A level is privileged < baseline < restricted. A version is `v1.<minor>` or
`latest`; any `v1.N` parses (PSA accepts versions newer than it knows and
evaluates them as its newest), which is why the registry, not this module,
caps versions.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

NEWEST_MINOR = 37
"""The newest policy version this engine knows (v1.37); `latest` evaluates as it."""

_VERSION = re.compile(r"^v1\.(0|[1-9][0-9]*)$")


class PolicyValueError(ValueError):
    """A level or version string that PSA would not accept."""


class Level(enum.StrEnum):
    """The three Pod Security Standards levels, least to most restrictive."""

    PRIVILEGED = "privileged"
    BASELINE = "baseline"
    RESTRICTED = "restricted"

    @property
    def rank(self) -> int:
        return _RANK[self]


_RANK = {Level.PRIVILEGED: 0, Level.BASELINE: 1, Level.RESTRICTED: 2}


@dataclass(frozen=True, order=True)
class Version:
    """A policy version: `v1.<minor>`, or `latest` (which sorts after every minor)."""

    minor: int
    latest: bool = False

    def __str__(self) -> str:
        return "latest" if self.latest else f"v1.{self.minor}"

    def older(self, other: Version) -> bool:
        """True when self is strictly older than other (`latest` is newest)."""
        return self._key() < other._key()

    def _key(self) -> tuple[int, int]:
        return (1, 0) if self.latest else (0, self.minor)


LATEST = Version(minor=0, latest=True)


def parse_level(text: str) -> Level:
    """Parse `privileged`, `baseline` or `restricted` (exact, as PSA does)."""
    try:
        return Level(text)
    except ValueError:
        raise PolicyValueError(
            f"invalid level {text!r}: must be one of privileged, baseline, restricted"
        ) from None


def parse_version(text: str) -> Version:
    """Parse `latest` or `v1.<minor>` (no leading zeros, as PSA's regular expression)."""
    if text == "latest":
        return LATEST
    match = _VERSION.match(text)
    if match is None:
        raise PolicyValueError(f"invalid version {text!r}: must be 'latest' or 'v1.<minor>'")
    return Version(minor=int(match.group(1)))


@dataclass(frozen=True)
class LevelVersion:
    """A level at a version, printed as PSA prints it: `restricted:v1.30`."""

    level: Level
    version: Version = LATEST

    def __str__(self) -> str:
        return f"{self.level}:{self.version}"


def level_version(level: str, version: str = "latest") -> LevelVersion:
    """Parse a level and a version into a LevelVersion; raises PolicyValueError."""
    return LevelVersion(level=parse_level(level), version=parse_version(version))
