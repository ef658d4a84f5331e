"""JSON Patch (RFC 6902) from an original pod to its mutated copy.

Written by hand because the diff needed is small and exact: objects are compared
key by key (add / remove / replace), lists of equal length element by element,
and a list whose length changed is replaced whole — the patch is always correct
and stays readable in an AdmissionReview response, which a minimal-edit list
diff (move/copy operations) would not be.
"""

from __future__ import annotations

from typing import Any


def pointer_token(key: str | int) -> str:
    """One RFC 6901 reference token (`~` -> `~0`, `/` -> `~1`)."""
    return str(key).replace("~", "~0").replace("/", "~1")


def diff(original: Any, mutated: Any, path: str = "") -> list[dict[str, Any]]:
    """Operations that turn `original` into `mutated`."""
    if isinstance(original, dict) and isinstance(mutated, dict):
        ops: list[dict[str, Any]] = []
        for key in original:
            if key not in mutated:
                ops.append({"op": "remove", "path": f"{path}/{pointer_token(key)}"})
        for key, value in mutated.items():
            child = f"{path}/{pointer_token(key)}"
            if key not in original:
                ops.append({"op": "add", "path": child, "value": value})
            else:
                ops.extend(diff(original[key], value, child))
        return ops
    if isinstance(original, list) and isinstance(mutated, list) and len(original) == len(mutated):
        ops = []
        for index, (before, after) in enumerate(zip(original, mutated, strict=True)):
            ops.extend(diff(before, after, f"{path}/{index}"))
        return ops
    if type(original) is type(mutated) and original == mutated:
        return []
    return [{"op": "replace", "path": path, "value": mutated}]


def apply(document: Any, ops: list[dict[str, Any]]) -> Any:
    """Apply add/remove/replace operations (enough to check `diff` round-trips)."""
    import copy

    result = copy.deepcopy(document)
    for op in ops:
        tokens = [t.replace("~1", "/").replace("~0", "~") for t in op["path"].split("/")[1:]]
        if not tokens:
            result = copy.deepcopy(op["value"])
            continue
        parent = result
        for token in tokens[:-1]:
            parent = parent[int(token)] if isinstance(parent, list) else parent[token]
        last: Any = (
            int(tokens[-1]) if isinstance(parent, list) and tokens[-1] != "-" else tokens[-1]
        )
        if op["op"] == "remove":
            del parent[last]
        elif op["op"] == "add" and isinstance(parent, list):
            parent.insert(len(parent) if last == "-" else last, copy.deepcopy(op["value"]))
        else:
            parent[last] = copy.deepcopy(op["value"])
    return result
