"""The check registry: validates the check list once, then answers "which checks
apply at this level and version" with a single lookup.

Rules (PSA's validateChecks): ids are unique; levels are baseline or restricted;
every check has versions in strictly increasing order and none is `latest`; only
restricted checks override, and only baseline checks are overridden. Versions are
then inflated: each implementation covers every minor from its minimum until the
next entry, so there are no gaps. Results come out in PSA's order — baseline ids
sorted, then restricted ids sorted — which makes the aggregate message identical.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from podwarden.podsecurity.checks.model import Check, CheckFn, VersionedCheck
from podwarden.podsecurity.levels import Level, LevelVersion, Version


class RegistryError(ValueError):
    """The check list breaks a registry rule; the message names the check."""


@dataclass(frozen=True, slots=True)
class BoundCheck:
    """One check implementation chosen for a level and version."""

    id: str
    check_pod: CheckFn


def validate(checks: Iterable[Check]) -> None:
    """Raise RegistryError unless the check list satisfies every registry rule."""
    levels: dict[str, Level] = {}
    listed = list(checks)
    for check in listed:
        if check.id in levels:
            raise RegistryError(f"multiple checks registered for id {check.id!r}")
        levels[check.id] = check.level
        if check.level not in (Level.BASELINE, Level.RESTRICTED):
            raise RegistryError(f"check {check.id}: invalid level {check.level!r}")
        if not check.versions:
            raise RegistryError(f"check {check.id}: no versions")
        previous: Version | None = None
        for entry in check.versions:
            if entry.minimum.latest:
                raise RegistryError(f"check {check.id}: a minimum version cannot be 'latest'")
            if previous is not None and not previous.older(entry.minimum):
                raise RegistryError(
                    f"check {check.id}: versions must be strictly increasing "
                    f"({previous} then {entry.minimum})"
                )
            previous = entry.minimum
    for check in listed:
        for entry in check.versions:
            if entry.overrides and check.level is not Level.RESTRICTED:
                raise RegistryError(f"check {check.id}: only restricted checks may override")
            for target in entry.overrides:
                if levels.get(target) is not Level.BASELINE:
                    raise RegistryError(
                        f"check {check.id}: overrides {target!r}, which is not a baseline check"
                    )


class Registry:
    """Checks inflated per version: `for_level(lv)` is a dictionary lookup."""

    def __init__(self, checks: Iterable[Check]) -> None:
        listed = list(checks)
        validate(listed)
        self.max_minor = max(c.versions[-1].minimum.minor for c in listed)
        self.checks = {c.id: c for c in listed}
        order = sorted(c.id for c in listed if c.level is Level.BASELINE) + sorted(
            c.id for c in listed if c.level is Level.RESTRICTED
        )
        self._table: dict[tuple[Level, int], tuple[BoundCheck, ...]] = {}
        for minor in range(self.max_minor + 1):
            chosen = {c.id: entry for c in listed if (entry := _entry_at(c, minor)) is not None}
            baseline = {i: e for i, e in chosen.items() if self.checks[i].level is Level.BASELINE}
            overridden = {t for i, e in chosen.items() for t in e.overrides}
            restricted = {i: e for i, e in chosen.items() if i not in overridden}
            for level, entries in ((Level.BASELINE, baseline), (Level.RESTRICTED, restricted)):
                self._table[(level, minor)] = tuple(
                    BoundCheck(i, entries[i].check_pod) for i in order if i in entries
                )

    def effective_minor(self, version: Version) -> int:
        """The minor whose rules apply: `latest` and future versions mean the newest."""
        if version.latest or version.minor > self.max_minor:
            return self.max_minor
        return version.minor

    def for_level(self, lv: LevelVersion) -> tuple[BoundCheck, ...]:
        """The checks to run, in PSA's order; none for privileged."""
        if lv.level is Level.PRIVILEGED:
            return ()
        return self._table[(lv.level, self.effective_minor(lv.version))]


def _entry_at(check: Check, minor: int) -> VersionedCheck | None:
    found = None
    for entry in check.versions:
        if entry.minimum.minor <= minor:
            found = entry
    return found
