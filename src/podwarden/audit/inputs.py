"""Read Kubernetes objects from files, folders and stdin, remembering where each came from.

Multi-document YAML, JSON (an object or an array), and `List` kinds (`v1/List`,
`PodList`, ...) are flattened into single objects, each with its file and the
line it starts on — so every finding, and every SARIF result, can point at it.
Unreadable input raises InputError with the file and line, never a traceback.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

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
    loader = yaml.CSafeLoader(text)
    try:
        while True:
            try:
                if not loader.check_node():
                    break
                node = loader.get_node()
                if node is None:
                    break
                data = loader.construct_document(node)
            except yaml.MarkedYAMLError as exc:
                mark = exc.problem_mark or exc.context_mark
                line = mark.line + 1 if mark is not None else 0
                raise InputError(f"{name}:{line}: invalid YAML: {exc.problem or exc}") from None
            except yaml.YAMLError as exc:
                raise InputError(f"{name}:0: invalid YAML: {exc}") from None
            if data is None:
                continue
            yield from _flatten(name, node.start_mark.line + 1, data, node)
    finally:
        loader.dispose()


def _json(name: str, text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"{name}:{exc.lineno}: invalid JSON: {exc.msg}") from None


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
    if not isinstance(node, yaml.MappingNode):
        return []
    for key, value in node.value:
        if getattr(key, "value", None) == "items" and isinstance(value, yaml.SequenceNode):
            return [child.start_mark.line + 1 for child in value.value]
    return []
