"""How deeply nested an object podwarden agrees to read, and JSON read within that bound.

One fact shared by everything that reads objects from outside: the webhook (an
AdmissionReview body) and `podwarden check` (manifests, policy files). Python
recurses once per nesting level when it parses, copies or compares an object,
and its default recursion limit is 1,000 frames: a body nested 2,000 levels
deep used to end in RecursionError, an HTTP 500 instead of a 400. A Kubernetes
object the API server has decoded is a typed Go struct, some 20 levels at most
(a CronJob's pod template affinity); custom resource schemas reach 60 or so.
MAX_DEPTH leaves room for those and stays well inside Python's limit even when
a caller recurses three frames per level.
"""

from __future__ import annotations

import json
from typing import Any

MAX_DEPTH = 200
"""Most levels of objects and arrays accepted; `{"a": {}}` is 2 levels deep."""


class TooDeep(ValueError):
    """A value nested deeper than MAX_DEPTH levels (the message says how deep and the limit)."""


def depth(value: Any, *, limit: int = MAX_DEPTH) -> int:
    """Levels of objects and arrays in `value`; stops counting past `limit` + 1.

    Iterative, so measuring a hostile value cannot itself exhaust the stack."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        deepest = max(deepest, level)
        if deepest > limit:
            return deepest
        stack.extend((child, level + 1) for child in children)
    return deepest


def check_depth(value: Any, *, limit: int = MAX_DEPTH) -> None:
    """Raise TooDeep when `value` nests more than `limit` levels."""
    if depth(value, limit=limit) > limit:
        raise TooDeep(f"nested more than {limit} levels deep (the limit is {limit})")


def loads(text: str | bytes, **options: Any) -> Any:
    """json.loads, refusing values nested deeper than MAX_DEPTH with TooDeep.

    Python's own parser gives up (RecursionError) somewhere below 1,000 levels,
    depending on the caller's stack: that is reported as TooDeep as well, so the
    answer never depends on how deep the caller happened to be."""
    try:
        value = json.loads(text, **options)
    except RecursionError:
        raise TooDeep(
            f"nested more than {MAX_DEPTH} levels deep (the limit is {MAX_DEPTH})"
        ) from None
    check_depth(value)
    return value
