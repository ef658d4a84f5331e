"""Read Kubernetes objects from files, folders and stdin, remembering where each came from.

Multi-document YAML, JSON (an object or an array), and `List` kinds (`v1/List`,
`PodList`, ...) are flattened into single objects, each with its file and the
line it starts on — so every finding, and every SARIF result, can point at it.
Unreadable input raises InputError with the file and line, never a traceback.

YAML is read as kubectl reads it (kubeyaml): what `check` judges is what
`kubectl apply` would send, and a document kubectl and other readers could
disagree on is refused. JSON is held to the same standard: duplicate keys,
NaN, numbers outside int64 and nesting past nesting.MAX_DEPTH are refused, and an
integral number is an integer (`1.0` is sent as 1).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from podwarden.api import nesting
from podwarden.audit import kubeyaml, yamlscalars
from podwarden.audit.yamlnodes import Node

MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")
STDIN = "-"


class InputError(Exception):
    """An input that cannot be read or parsed; the message starts with `file:line:`."""


@dataclass(frozen=True)
class SourcedObject:
    """One Kubernetes object and where it was read."""

    file: str
    line: int
    obj: Mapping[str, Any]


def expand(paths: list[str]) -> list[str]:
    """Files in order: a folder contributes its manifests (recursively, sorted)."""
    found: list[str] = []
    for raw in paths:
        if raw == STDIN:
            found.append(raw)
            continue
        path = Path(raw)
        if path.is_dir():
            found.extend(
                str(p)
                for p in sorted(path.rglob("*"))
                if p.is_file() and p.suffix in MANIFEST_SUFFIXES
            )
        elif path.exists():
            found.append(raw)
        else:
            raise InputError(f"{raw}:0: no such file or directory")
    return found


def read_all(paths: list[str]) -> Iterator[SourcedObject]:
    """Every object in every path, in order."""
    for name in expand(paths):
        yield from read_text(name, _read(name))


def _read(name: str) -> str:
    try:
        if name == STDIN:
            return sys.stdin.read()
        return Path(name).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{name}:0: cannot read: {exc}") from None


def read_text(name: str, text: str) -> Iterator[SourcedObject]:
    """Objects in one document stream (JSON when it starts with `{` or `[`, else YAML)."""
    if name.endswith(".json") or text.lstrip().startswith(("{", "[")):
        yield from _flatten(name, 1, _json(name, text))
        return
    try:
        for document in kubeyaml.documents(text):
            yield from _flatten(name, document.line, document.value, document.node)
    except kubeyaml.Refused as exc:
        raise InputError(f"{name}:{exc.line}: {exc}") from None


class _JsonRefusal(ValueError):
    """Raised from the decoder hooks; the message is the reason."""


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for key, value in pairs:
        if key in found:
            raise _JsonRefusal(f"key {key!r} written twice (readers keep the first or the last)")
        found[key] = value
    return found


def _constant(word: str) -> Any:
    raise _JsonRefusal(f"{word} is not JSON (kubectl refuses it)")


def _json(name: str, text: str) -> Any:
    try:
        value = nesting.loads(text, object_pairs_hook=_pairs, parse_constant=_constant)
        return _canonical(value)
    except json.JSONDecodeError as exc:
        raise InputError(f"{name}:{exc.lineno}: invalid JSON: {exc.msg}") from None
    except (_JsonRefusal, nesting.TooDeep) as exc:
        raise InputError(f"{name}:1: refused JSON: {exc}") from None
    except yamlscalars.KubectlError as exc:
        raise InputError(f"{name}:1: refused JSON: kubectl refuses it: {exc}") from None
    except yamlscalars.OutOfRange as exc:
        raise InputError(f"{name}:1: refused JSON: {exc} (kubectl would send a float)") from None


def _canonical(value: Any) -> Any:
    """Numbers as kubectl sends them; strings must be valid Unicode (no lone surrogates)."""
    if isinstance(value, dict):
        return {_text(k): _canonical(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_canonical(item) for item in value]
    if isinstance(value, str):
        return _text(value)
    return yamlscalars.json_number(value)


def _text(value: str) -> str:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise _JsonRefusal(f"a string holds an unpaired surrogate: {value[:40]!r}") from None
    return value


def _flatten(name: str, line: int, data: Any, node: Any = None) -> Iterator[SourcedObject]:
    if isinstance(data, list):
        for item in data:
            yield from _flatten(name, line, item)
        return
    if not isinstance(data, Mapping):
        raise InputError(f"{name}:{line}: expected a Kubernetes object, got {type(data).__name__}")
    kind = data.get("kind")
    if isinstance(kind, str) and kind.endswith("List") and isinstance(data.get("items"), list):
        lines = _item_lines(node) if node is not None else []
        for index, item in enumerate(data["items"]):
            item_line = lines[index] if index < len(lines) else line
            yield from _flatten(name, item_line, item)
        return
    yield SourcedObject(name, line, data)


def _item_lines(node: Any) -> list[int]:
    """Start lines of the `items` entries of a List document's node."""
    while isinstance(node, Node) and node.kind == "alias":
        node = node.target
    if not isinstance(node, Node) or node.kind != "mapping":
        return []
    for key, value in node.pairs:
        if key.kind == "scalar" and key.text == "items" and value.kind == "sequence":
            return [child.line for child in value.items]
    return []
