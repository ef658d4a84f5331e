"""YAML text to a node tree, the way go-yaml v2's parser builds one for kubectl.

Built from libyaml's events (PyYAML's C parser, the same grammar go-yaml v2 ports)
rather than with `yaml.compose`, because PyYAML's composer differs from go-yaml's
where it matters here: it resolves an alias to the very node it names (go-yaml
keeps an alias node, which its alias-expansion bound counts), it refuses an anchor
defined twice (go-yaml lets the later one win, as YAML allows), and it recurses once
per nesting level in C, so a deeply nested document could exhaust the stack. This
composer keeps alias nodes, follows go-yaml on anchors (registered when a
collection starts, so an alias inside its own anchor is a cycle the decoder
reports), works with an explicit stack and refuses nesting past nesting.MAX_DEPTH.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

import yaml

from podwarden.api import nesting

Kind = Literal["scalar", "mapping", "sequence", "alias"]


class NodeError(ValueError):
    """The text is not YAML podwarden reads; `line` is 1-based in the file."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line = line


@dataclass(eq=False, slots=True)
class Node:
    """One node. `text` and `plain` for scalars; `pairs` for mappings; `items` for
    sequences; `target` (and `anchor`, its name) for aliases. `line` is 1-based."""

    kind: Kind
    line: int
    tag: str | None = None
    text: str = ""
    plain: bool = False
    pairs: list[tuple[Node, Node]] = field(default_factory=list)
    items: list[Node] = field(default_factory=list)
    target: Node | None = None
    anchor: str = ""


@dataclass(eq=False, slots=True)
class _Open:
    node: Node
    key: Node | None = None


def _line(event: Any, offset: int) -> int:
    return offset + (event.start_mark.line if event.start_mark is not None else 0) + 1


def documents(text: str, *, offset: int = 0) -> Iterator[Node]:
    """The root node of each document in `text`; `offset` is added to every line.

    Raises NodeError for a syntax error, an unknown alias or nesting that is too deep."""
    anchors: dict[str, Node] = {}
    stack: list[_Open] = []
    root: Node | None = None
    try:
        for event in yaml.parse(text, Loader=yaml.CSafeLoader):
            line = _line(event, offset)
            if isinstance(event, yaml.DocumentStartEvent):
                anchors, root = {}, None
                continue
            if isinstance(event, yaml.DocumentEndEvent):
                if root is not None:
                    yield root
                continue
            if isinstance(event, yaml.MappingEndEvent | yaml.SequenceEndEvent):
                stack.pop()
                continue
            if not isinstance(event, yaml.NodeEvent):
                continue
            node = _node(event, line, anchors)
            if isinstance(event, yaml.CollectionStartEvent) and len(stack) >= nesting.MAX_DEPTH:
                raise NodeError(
                    line, f"nested more than {nesting.MAX_DEPTH} levels deep (the limit)"
                )
            if stack:
                _attach(stack[-1], node)
            else:
                root = node
            if isinstance(event, yaml.CollectionStartEvent):
                stack.append(_Open(node))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = offset + (mark.line + 1 if mark is not None else 1)
        raise NodeError(where, f"invalid YAML: {exc.problem or exc}") from None
    except yaml.YAMLError as exc:
        raise NodeError(offset + 1, f"invalid YAML: {exc}") from None


def _node(event: Any, line: int, anchors: dict[str, Node]) -> Node:
    if isinstance(event, yaml.AliasEvent):
        name = str(event.anchor)
        target = anchors.get(name)
        if target is None:
            raise NodeError(line, f"unknown anchor '{name}' referenced")
        return Node("alias", line, target=target, anchor=name)
    if isinstance(event, yaml.ScalarEvent):
        plain = bool(event.implicit[0]) and event.tag is None
        node = Node("scalar", line, tag=event.tag, text=event.value, plain=plain)
    elif isinstance(event, yaml.MappingStartEvent):
        node = Node("mapping", line, tag=event.tag)
    else:
        node = Node("sequence", line, tag=event.tag)
    if event.anchor is not None:
        anchors[event.anchor] = node
    return node


def _attach(parent: _Open, node: Node) -> None:
    if parent.node.kind == "sequence":
        parent.node.items.append(node)
    elif parent.key is None:
        parent.key = node
    else:
        parent.node.pairs.append((parent.key, node))
        parent.key = None
