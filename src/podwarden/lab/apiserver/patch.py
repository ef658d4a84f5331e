"""The three PATCH formats: JSON merge patch, strategic merge patch, JSON patch.

Written by hand because no maintained Python library applies Kubernetes
*strategic* merge patches, and it is what `kubectl apply` (client-side) sends
for built-in types. The strategic rules implemented are the ones kubectl
emits: maps merge recursively and `null` deletes; lists of objects merge by
their patch merge key (containers by `name`, ports by `containerPort`, ...);
other lists are replaced; the directives `$patch` (replace / delete / merge),
`$retainKeys`, `$setElementOrder/<field>` and `$deleteFromPrimitiveList/<field>`
are honoured. RFC 7386 and RFC 6902 are implemented beside it for symmetry.
"""

from __future__ import annotations

import copy
from typing import Any

from podwarden.lab.apiserver import errors

MERGE_PATCH = "application/merge-patch+json"
STRATEGIC_MERGE_PATCH = "application/strategic-merge-patch+json"
JSON_PATCH = "application/json-patch+json"
APPLY_PATCH = "application/apply-patch+yaml"

# field name -> merge key, from the patchMergeKey tags of the core API types
MERGE_KEYS = {
    "containers": "name",
    "initContainers": "name",
    "ephemeralContainers": "name",
    "volumes": "name",
    "env": "name",
    "ports": "containerPort",
    "volumeMounts": "mountPath",
    "volumeDevices": "devicePath",
    "imagePullSecrets": "name",
    "hostAliases": "ip",
    "ownerReferences": "uid",
    "conditions": "type",
    "topologySpreadConstraints": "topologyKey",
    "resourceClaims": "name",
    "podIPs": "ip",
    "hostIPs": "ip",
    "addresses": "type",
}
PRIMITIVE_MERGE_LISTS = frozenset({"finalizers"})
_DELETE = object()


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386: maps merge recursively, null deletes, anything else replaces."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def _merge_list(field: str, original: list[Any], patch: list[Any]) -> list[Any]:
    if any(isinstance(item, dict) and item.get("$patch") == "replace" for item in patch):
        return [item for item in patch if not (isinstance(item, dict) and "$patch" in item)]
    key = MERGE_KEYS.get(field)
    if field in PRIMITIVE_MERGE_LISTS:
        return original + [item for item in patch if item not in original]
    if key is None or not all(isinstance(item, dict) for item in patch):
        return copy.deepcopy(patch)
    result = [copy.deepcopy(item) for item in original]
    for item in patch:
        position = next(
            (
                i
                for i, old in enumerate(result)
                if isinstance(old, dict) and old.get(key) == item.get(key)
            ),
            None,
        )
        if item.get("$patch") == "delete":
            if position is not None:
                del result[position]
            continue
        if position is None:
            result.append(strategic_merge({}, item))
        else:
            result[position] = strategic_merge(result[position], item)
    return result


def strategic_merge(target: Any, patch: Any) -> Any:
    """Apply a strategic merge patch (see the module docstring for the rules)."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    directive = patch.get("$patch")
    if directive == "delete":
        return _DELETE
    if directive == "replace":
        return {k: copy.deepcopy(v) for k, v in patch.items() if k != "$patch"}
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    retain = patch.get("$retainKeys")
    for key, value in patch.items():
        if key in ("$patch", "$retainKeys") or key.startswith("$setElementOrder/"):
            continue
        if key.startswith("$deleteFromPrimitiveList/"):
            field = key.split("/", 1)[1]
            if isinstance(result.get(field), list):
                result[field] = [v for v in result[field] if v not in (value or [])]
            continue
        if value is None:
            result.pop(key, None)
        elif isinstance(value, dict):
            merged = strategic_merge(result.get(key), value)
            if merged is _DELETE:
                result.pop(key, None)
            else:
                result[key] = merged
        elif isinstance(value, list) and isinstance(result.get(key), list):
            result[key] = _merge_list(key, result[key], value)
        elif isinstance(value, list):
            result[key] = _merge_list(key, [], value)
        else:
            result[key] = copy.deepcopy(value)
    if isinstance(retain, list):
        result = {k: v for k, v in result.items() if k in retain}
    return result


def _pointer(path: str) -> list[str]:
    if path == "":
        return []
    if not path.startswith("/"):
        raise errors.bad_request(f"json patch: path {path!r} must start with '/'")
    return [part.replace("~1", "/").replace("~0", "~") for part in path[1:].split("/")]


def _walk(doc: Any, parts: list[str], path: str) -> Any:
    for part in parts:
        if isinstance(doc, dict) and part in doc:
            doc = doc[part]
        elif isinstance(doc, list) and part.isdigit() and int(part) < len(doc):
            doc = doc[int(part)]
        else:
            raise errors.StatusError(
                422, "Invalid", f"json patch: path {path!r} does not exist in the object"
            )
    return doc


def _add(doc: Any, path: str, value: Any) -> Any:
    parts = _pointer(path)
    if not parts:
        return value
    parent = _walk(doc, parts[:-1], path)
    last = parts[-1]
    if isinstance(parent, list):
        index = len(parent) if last == "-" else int(last) if last.isdigit() else -1
        if not 0 <= index <= len(parent):
            raise errors.StatusError(422, "Invalid", f"json patch: bad array index in {path!r}")
        parent.insert(index, value)
    elif isinstance(parent, dict):
        parent[last] = value
    else:
        raise errors.StatusError(422, "Invalid", f"json patch: {path!r} has no container")
    return doc


def _remove(doc: Any, path: str) -> tuple[Any, Any]:
    parts = _pointer(path)
    parent = _walk(doc, parts[:-1], path)
    _walk(parent, parts[-1:], path)
    last = parts[-1]
    removed = parent.pop(int(last)) if isinstance(parent, list) else parent.pop(last)
    return doc, removed


def json_patch(target: Any, operations: Any) -> Any:
    """RFC 6902 operations: add, remove, replace, move, copy, test."""
    if not isinstance(operations, list):
        raise errors.bad_request("json patch: the body must be a JSON array of operations")
    doc = copy.deepcopy(target)
    for op in operations:
        if not isinstance(op, dict) or "op" not in op or "path" not in op:
            raise errors.bad_request(f"json patch: malformed operation {op!r}")
        name, path = op["op"], str(op["path"])
        if name == "add":
            doc = _add(doc, path, copy.deepcopy(op.get("value")))
        elif name == "remove":
            doc, _ = _remove(doc, path)
        elif name == "replace":
            doc, _ = _remove(doc, path)
            doc = _add(doc, path, copy.deepcopy(op.get("value")))
        elif name in ("move", "copy"):
            source = str(op.get("from", ""))
            if name == "move":
                doc, value = _remove(doc, source)
            else:
                value = copy.deepcopy(_walk(doc, _pointer(source), source))
            doc = _add(doc, path, value)
        elif name == "test":
            if _walk(doc, _pointer(path), path) != op.get("value"):
                raise errors.StatusError(
                    422, "Invalid", f"json patch: test operation failed at {path!r}"
                )
        else:
            raise errors.bad_request(f"json patch: unknown operation {name!r}")
    return doc


def check_media_type(content_type: str) -> None:
    """415 for anything but the three formats (server-side apply is not served)."""
    media = content_type.split(";", 1)[0].strip()
    if media not in (MERGE_PATCH, STRATEGIC_MERGE_PATCH, JSON_PATCH):
        raise errors.unsupported_media_type(content_type)


def apply(content_type: str, target: dict[str, Any], body: Any) -> Any:
    """Dispatch on the request's Content-Type (parameters ignored)."""
    media = content_type.split(";", 1)[0].strip()
    if media == MERGE_PATCH:
        return merge_patch(target, body)
    if media == STRATEGIC_MERGE_PATCH:
        result = strategic_merge(target, body)
        return {} if result is _DELETE else result
    if media == JSON_PATCH:
        return json_patch(target, body)
    raise errors.unsupported_media_type(content_type)
