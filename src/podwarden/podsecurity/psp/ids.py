"""User and group ID strategies: runAsUser, runAsGroup, supplementalGroups, fsGroup.

Each strategy does two things, as PSP's did: *generate* a value when the pod left
the field unset (MustRunAs picks the first range's minimum; the others generate
nothing) and *validate* the value that ends up effective. The wording of every
message is Kubernetes' own.
"""

from __future__ import annotations

from collections.abc import Sequence

from podwarden.podsecurity.psp.fielderr import (
    FieldError,
    GoSlice,
    go_ranges,
    invalid,
    required,
)
from podwarden.podsecurity.psp.model import GroupStrategy, IDRange, RunAsUserStrategy


def _ranges(ranges: Sequence[IDRange]) -> list[tuple[int, int]]:
    return [(r.min, r.max) for r in ranges]


def _in_ranges(value: int, ranges: Sequence[IDRange]) -> bool:
    return any(r.min <= value <= r.max for r in ranges)


def generate_user(strategy: RunAsUserStrategy) -> int | None:
    """The UID to default an unset runAsUser to (MustRunAs only)."""
    if strategy.rule == "MustRunAs":
        return strategy.ranges[0].min
    return None


def validate_user(
    strategy: RunAsUserStrategy,
    sc_path: str,
    *,
    run_as_non_root: bool | None,
    run_as_user: int | None,
) -> list[FieldError]:
    """Validate a container's effective runAsUser / runAsNonRoot."""
    if strategy.rule == "MustRunAs":
        if run_as_user is None:
            return [required(f"{sc_path}.runAsUser")]
        if not _in_ranges(run_as_user, strategy.ranges):
            detail = f"must be in the ranges: {go_ranges(_ranges(strategy.ranges))}"
            return [invalid(f"{sc_path}.runAsUser", run_as_user, detail)]
        return []
    if strategy.rule == "MustRunAsNonRoot":
        if run_as_non_root is None and run_as_user is None:
            return [required(f"{sc_path}.runAsNonRoot", "must be true")]
        if run_as_non_root is False:
            return [invalid(f"{sc_path}.runAsNonRoot", False, "must be true")]
        if run_as_user == 0:
            return [invalid(f"{sc_path}.runAsUser", 0, "running with the root UID is forbidden")]
        return []
    return []


def generate_groups(strategy: GroupStrategy | None) -> list[int] | None:
    """Supplemental groups to default to when none are set (MustRunAs only)."""
    if strategy is not None and strategy.rule == "MustRunAs":
        return [strategy.ranges[0].min]
    return None


def generate_single(strategy: GroupStrategy | None) -> int | None:
    """fsGroup / runAsGroup to default to when unset (MustRunAs only)."""
    if strategy is not None and strategy.rule == "MustRunAs":
        return strategy.ranges[0].min
    return None


def validate_groups(
    strategy: GroupStrategy | None, path: str, groups: Sequence[int] | None
) -> list[FieldError]:
    """Validate groups against MustRunAs (non-empty, in ranges) or MayRunAs (in ranges)."""
    if strategy is None or strategy.rule == "RunAsAny":
        return []
    errors: list[FieldError] = []
    value = GoSlice("int64", list(groups) if groups else None)
    if strategy.rule == "MustRunAs" and not groups:
        errors.append(
            invalid(path, value, "unable to validate empty groups against required ranges")
        )
    for group in groups or ():
        if not _in_ranges(group, strategy.ranges):
            detail = f"group {group} must be in the ranges: {go_ranges(_ranges(strategy.ranges))}"
            errors.append(invalid(path, value, detail))
    return errors
