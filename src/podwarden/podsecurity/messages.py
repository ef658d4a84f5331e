"""Wording helpers shared by the checks, so every message reads exactly like PSA's.

PSA builds its details with Go's fmt: `joinQuote` ("a", "b"), `pluralize`, and `%q`
for single values. These reproduce them for the strings pods contain.
"""

from __future__ import annotations

import json
from collections.abc import Iterable


def pluralize(singular: str, plural: str, count: int) -> str:
    """`singular` when count is one, else `plural` (zero is plural, as in Go)."""
    return singular if count == 1 else plural


def go_quote(value: str) -> str:
    """A Go `%q` of a string: double quotes, backslash escapes, non-ASCII kept."""
    return json.dumps(value, ensure_ascii=False)


def join_quote(items: Iterable[str]) -> str:
    """PSA's joinQuote: each item in double quotes, joined by `, `; empty for none."""
    listed = list(items)
    if not listed:
        return ""
    return '"' + '", "'.join(listed) + '"'


def go_quote_list(items: Iterable[str]) -> str:
    """A Go `%q` of a []string: `["a" "b"]`."""
    return "[" + " ".join(go_quote(item) for item in items) + "]"


def containers_phrase(names: list[str]) -> str:
    """`container "a"` or `containers "a", "b"`."""
    return f"{pluralize('container', 'containers', len(names))} {join_quote(names)}"


def aggregate_detail(pairs: Iterable[tuple[str, str]]) -> str:
    """PSA's ForbiddenDetail: `reason (detail), reason, reason (detail)`."""
    parts = []
    for reason, detail in pairs:
        parts.append(f"{reason} ({detail})" if detail else reason)
    return ", ".join(parts)
