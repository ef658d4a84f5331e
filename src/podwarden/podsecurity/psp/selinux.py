"""SELinux strategy: MustRunAs (exact user/role/type, MCS-aware level) or RunAsAny.

Levels compare as PSP compared them: `s0:c1,c0` equals `s0:c0,c1` (same
sensitivity, same category set), everything else must match exactly.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from podwarden.podsecurity.psp.fielderr import FieldError, invalid, required
from podwarden.podsecurity.psp.model import SELinuxStrategy


def generate(strategy: SELinuxStrategy) -> dict[str, str] | None:
    """The seLinuxOptions to default to (MustRunAs: the policy's, non-empty keys only)."""
    if strategy.rule != "MustRunAs" or strategy.se_linux_options is None:
        return None
    return {k: v for k, v in strategy.se_linux_options.model_dump().items() if v}


def _equal_levels(expected: str, actual: str) -> bool:
    if expected == actual:
        return True
    want = expected.split(":", 1)
    got = actual.split(":", 1)
    if len(want) != 2 or len(got) != 2:
        return False
    return want[0] == got[0] and sorted(want[1].split(",")) == sorted(got[1].split(","))


def validate(
    strategy: SELinuxStrategy, path: str, options: Mapping[str, Any] | None
) -> list[FieldError]:
    """Validate the effective seLinuxOptions at `path`."""
    if strategy.rule != "MustRunAs" or strategy.se_linux_options is None:
        return []
    if options is None:
        return [required(path)]
    want = strategy.se_linux_options
    errors: list[FieldError] = []
    level = str(options.get("level") or "")
    if not _equal_levels(want.level, level):
        errors.append(invalid(f"{path}.level", level, f"must be {want.level}"))
    for key in ("role", "type", "user"):
        got = str(options.get(key) or "")
        expected = getattr(want, key)
        if got != expected:
            errors.append(invalid(f"{path}.{key}", got, f"must be {expected}"))
    return errors
