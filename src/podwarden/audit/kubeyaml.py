"""Read a YAML manifest stream into the JSON objects kubectl would send, or refuse it.

`podwarden check` is a CI gate: what it judges must be what `kubectl apply` sends.
kubectl splits a stream at `---` lines (apimachinery's YAMLReader), decodes each
part with go-yaml v2 into interface{} and converts that to JSON (sigs.k8s.io/yaml).
This module does the same steps on yamlnodes' tree:

- scalars get kubectl's (YAML 1.1) value, and a scalar a YAML 1.2 reader would read
  differently (`y`, `on`, `017`, `0b1`, `1_000`...) is refused (yamlscalars);
- `<<` merge keys follow go-yaml v2, which applies them in place: a merge written
  after an explicit key overrides it, where the YAML merge-key spec keeps the
  explicit key. Such an override is refused; a merge whose keys are all new, or
  overridden by keys written after it, means the same everywhere and is read;
- a key written twice in one mapping is refused (go-yaml keeps the last silently,
  other readers keep the first or fail), and so is a key that becomes the same
  JSON key as another (`1` and `"1"`: kubectl's choice is random);
- alias expansion is bounded by go-yaml's own rule (decode.go `allowedAliasRatio`):
  once more than 1,000 values have been decoded, at most 99% of them may come
  from aliases (sliding to 10% at 4,000,000), or the document is refused with
  "excessive aliasing", as kubectl refuses it. A 558-byte "billion laughs" file
  is refused after a few thousand values instead of growing to gigabytes;
- tags other than the core ones (!!str, !!int, !!float, !!bool, !!null, !!map,
  !!seq), NaN and infinities, integers outside int64, and float or null keys are
  refused: kubectl fails on some, mangles the others.

Every refusal is a Refused error with the line and the reason. kubectl has no
other size limit than the alias rule; nesting is bounded by nesting.MAX_DEPTH.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from podwarden.api import nesting
from podwarden.audit import yamlnodes, yamlscalars
from podwarden.audit.yamlnodes import Node

MAP_TAG = yamlscalars.TAG_PREFIX + "map"
SEQ_TAG = yamlscalars.TAG_PREFIX + "seq"
ALIAS_RATIO_LOW, ALIAS_RATIO_HIGH = 400_000, 4_000_000


class Refused(ValueError):
    """A document podwarden will not judge; `line` is 1-based in the file."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line = line


@dataclass(frozen=True)
class Document:
    """One decoded document: its first line, kubectl's JSON value and the root node."""

    line: int
    value: Any
    node: Node


def allowed_alias_ratio(decoded: int) -> float:
    """go-yaml v2's allowedAliasRatio: the share of decoded values aliases may supply."""
    if decoded <= ALIAS_RATIO_LOW:
        return 0.99
    if decoded >= ALIAS_RATIO_HIGH:
        return 0.10
    return 0.99 - 0.89 * ((decoded - ALIAS_RATIO_LOW) / (ALIAS_RATIO_HIGH - ALIAS_RATIO_LOW))


def sections(text: str) -> Iterator[tuple[int, str]]:
    """apimachinery's YAMLReader: the stream cut at lines starting with `---` (only a
    comment may follow on that line), CR LF read as LF; each part with the 0-based
    line it starts after."""
    lines = text.removeprefix("\ufeff").split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    start, part = 0, list[str]()
    for number, raw in enumerate(lines):
        line = raw.removesuffix("\r")
        if line.startswith("---"):
            rest = line[3:].strip()
            if rest and not rest.startswith("#"):
                raise Refused(number + 1, f"invalid YAML document separator: {rest}")
            if part:
                yield start, "\n".join(part) + "\n"
            start, part = number + 1, []
            continue
        part.append(line)
    if part:
        yield start, "\n".join(part) + "\n"


def documents(text: str) -> Iterator[Document]:
    """kubectl's JSON value for every non-empty document of a YAML stream."""
    for offset, part in sections(text):
        try:
            roots = list(yamlnodes.documents(part, offset=offset))
        except yamlnodes.NodeError as exc:
            raise Refused(exc.line, str(exc)) from None
        if not roots:
            continue
        if len(roots) > 1:
            raise Refused(
                roots[1].line,
                "a second document after `...` in the same `---` section: "
                "kubectl reads only the first; separate documents with `---`",
            )
        try:
            value = _Decoder().document(roots[0])
        except RecursionError:  # a backstop: the depth checks above come first
            raise Refused(roots[0].line, "nested too deeply to read") from None
        if value is not None:
            yield Document(roots[0].line, value, roots[0])


def _where(path: list[str | int]) -> str:
    """The JSON path being decoded, shortened in the middle when it is long."""
    if len(path) > 12:
        return f"{_where(path[:4])}…{_where(path[-4:])}"
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out or "the document"


def _unread_tag(tag: str) -> str:
    short = "!!" + tag.removeprefix(yamlscalars.TAG_PREFIX) if tag.startswith("tag:") else tag
    return (
        f"tag {short} is not read by podwarden (kubectl ignores some tags and fails on "
        "others); remove it"
    )


class _Decoder:
    """go-yaml v2's decoder into interface{} (decode.go), with its counters."""

    def __init__(self) -> None:
        self.decoded = 0
        self.from_aliases = 0
        self.aliases: list[Node] = []  # the aliases being expanded, outermost first
        self.path: list[str | int] = []
        self.key_type: type = str
        self.merges: list[int] = []  # lines of the `<<` keys being applied

    def refuse(self, node: Node, reason: str) -> Refused:
        return Refused(node.line, f"{_where(self.path)}: {reason}")

    def count(self, node: Node) -> None:
        """One unmarshal call, and go-yaml's "excessive aliasing" check."""
        self.decoded += 1
        if self.aliases:
            self.from_aliases += 1
        if (
            self.from_aliases > 100
            and self.decoded > 1000
            and self.from_aliases / self.decoded > allowed_alias_ratio(self.decoded)
        ):
            outer = self.aliases[0] if self.aliases else node
            raise Refused(
                outer.line,
                f"document contains excessive aliasing, expanding *{outer.anchor} "
                f"(kubectl refuses it: more than {allowed_alias_ratio(self.decoded):.0%} of "
                f"{self.decoded} decoded values come from aliases)",
            )

    def document(self, root: Node) -> Any:
        self.count(root)  # go-yaml counts the document node itself
        return self.value(root)

    def value(self, node: Node) -> Any:
        self.count(node)
        if node.kind == "alias":
            target = self.enter_alias(node)
            try:
                return self.value(target)
            finally:
                self.aliases.pop()
        if len(self.path) + len(self.merges) > nesting.MAX_DEPTH:
            raise self.refuse(
                node, f"nested more than {nesting.MAX_DEPTH} levels deep (aliases expanded)"
            )
        if node.kind == "scalar":
            return self.scalar(node)
        if node.kind == "sequence":
            self.check_tag(node, SEQ_TAG)
            out: list[Any] = []
            for index, item in enumerate(node.items):
                self.path.append(index)
                out.append(self.value(item))
                self.path.pop()
            return out
        self.check_tag(node, MAP_TAG)
        mapping = _Mapping()
        self.fill(node, mapping, {})
        return mapping.values

    def enter_alias(self, node: Node) -> Node:
        """go-yaml's alias(): the anchored node to expand (the caller pops `aliases`
        when done); what it decodes counts as coming from aliases. An alias met again
        inside its own expansion is refused."""
        target = node.target
        if target is None or any(node is open_ for open_ in self.aliases):
            raise self.refuse(node, f"anchor '{node.anchor}' value contains itself")
        self.aliases.append(node)
        return target

    def check_tag(self, node: Node, allowed: str) -> None:
        if node.tag is not None and node.tag != allowed:
            raise self.refuse(node, _unread_tag(node.tag))

    def scalar(self, node: Node) -> Any:
        if node.tag is not None and node.tag not in yamlscalars.SCALAR_TAGS:
            raise self.refuse(node, _unread_tag(node.tag))
        try:
            return yamlscalars.resolve(node.text, tag=node.tag, plain=node.plain)
        except yamlscalars.Ambiguous as exc:
            raise self.refuse(node, f"ambiguous: {exc}") from None
        except yamlscalars.OutOfRange as exc:
            raise self.refuse(node, f"{exc}: kubectl would send an imprecise float") from None
        except yamlscalars.KubectlError as exc:
            raise self.refuse(node, f"kubectl refuses it: {exc}") from None

    def key(self, node: Node) -> str:
        """The JSON key for a key node (sigs.k8s.io/yaml: true, 17 and strings); its
        YAML type is left in `key_type`."""
        value = self.value(node)
        self.key_type = type(value)
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, int):
            return str(value)
        if isinstance(value, str):
            return value
        kind = "null" if value is None else type(value).__name__
        raise self.refuse(node, f"a {kind} mapping key is not read by podwarden")

    def fill(self, node: Node, out: _Mapping, protected: Mapping[str, int]) -> None:
        """Decode a mapping into `out`, in go-yaml's order (merges applied in place).

        `protected`: keys (and their lines) written explicitly before the `<<` that led
        here, which this mapping overriding would make go-yaml and the merge-key spec
        disagree."""
        own: dict[str, int] = {}
        merged_at = 0
        for key_node, value_node in node.pairs:
            if key_node.kind == "scalar" and key_node.plain and key_node.text == "<<":
                if merged_at:
                    raise self.refuse(key_node, f"`<<` written twice (first on line {merged_at})")
                merged_at = key_node.line
                self.merges.append(merged_at)
                self.merge(value_node, out, {**protected, **own})
                self.merges.pop()
                continue
            key = self.key(key_node)
            if key in own:
                raise self.refuse(
                    key_node,
                    f"key {key!r} written twice (first on line {own[key]}): kubectl keeps "
                    "the last, other readers the first; write it once",
                )
            if key in protected:
                raise Refused(
                    self.merges[-1],
                    f"{_where(self.path)}: the `<<` merge overrides {key!r} written before it "
                    f"on line {protected[key]}: kubectl (go-yaml) takes the merged value, the "
                    "YAML merge-key spec keeps the explicit one; write the key after the merge",
                )
            if not out.accepts(key, self.key_type):
                raise self.refuse(
                    key_node,
                    f'keys of two YAML types (say 1 and "1") both become the JSON key '
                    f"{key!r}: kubectl keeps one of them at random; write it once",
                )
            own[key] = key_node.line
            self.path.append(key)
            out.values[key] = self.value(value_node)
            self.path.pop()

    def merge(self, node: Node, out: _Mapping, protected: Mapping[str, int]) -> None:
        """go-yaml v2's merge(): a mapping, an alias of one, or a sequence of those
        applied last to first (so the first one listed wins among them)."""
        if len(self.path) + len(self.merges) > nesting.MAX_DEPTH:
            raise self.refuse(
                node, f"merges nested more than {nesting.MAX_DEPTH} levels deep (aliases expanded)"
            )
        if node.kind == "sequence":
            self.check_tag(node, SEQ_TAG)
            candidates = list(reversed(node.items))
        else:
            candidates = [node]
        for candidate in candidates:
            target = candidate.target if candidate.kind == "alias" else candidate
            if target is None or target.kind != "mapping":
                raise self.refuse(
                    candidate, "kubectl refuses it: map merge requires map or sequence of maps"
                )
            self.count(candidate)
            if candidate.kind != "alias":
                self.check_tag(candidate, MAP_TAG)
                self.fill(candidate, out, protected)
                continue
            self.enter_alias(candidate)
            try:
                self.count(target)  # go-yaml unmarshals the anchored mapping: one more value
                self.check_tag(target, MAP_TAG)
                self.fill(target, out, protected)
            finally:
                self.aliases.pop()


class _Mapping:
    """A mapping being decoded, with the YAML type of each key's source: go-yaml keeps
    `1` and `"1"` apart and sigs.k8s.io/yaml then writes both as the JSON key "1" in
    random order, so a JSON key reached from two key types is refused."""

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}
        self.key_types: dict[str, type] = {}

    def accepts(self, key: str, key_type: type) -> bool:
        """Record the key's YAML type; False when the same JSON key came from another."""
        return self.key_types.setdefault(key, key_type) is key_type
