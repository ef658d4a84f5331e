"""Kubernetes label and field selectors: parsed once into immutable values, then matched.

Written by hand because lightkube only *builds* selector strings; the lab API
server and the static cluster file must *evaluate* them, with the same grammar
and the same error wording as the Kubernetes API server (`unable to parse
requirement`, `field label not supported`), so that kubectl and the reflector
see the same answers here as against a real cluster.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

LABEL_OPERATORS = ("=", "==", "!=", "in", "notin", "exists", "!", "gt", "lt")
_KEY = re.compile(
    r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?"
    r"[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$"
)
_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")


class SelectorError(ValueError):
    """A selector string could not be parsed; the message says where and why."""


@dataclass(frozen=True)
class Requirement:
    """One clause of a label selector, e.g. `tier in (web,db)` or `!canary`."""

    key: str
    operator: str
    values: tuple[str, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        """Kubernetes semantics: `!=` and `notin` also match when the key is absent."""
        present = self.key in labels
        value = labels.get(self.key)
        if self.operator in ("=", "==", "in"):
            return present and value in self.values
        if self.operator in ("!=", "notin"):
            return not present or value not in self.values
        if self.operator == "exists":
            return present
        if self.operator == "!":
            return not present
        if not present or value is None:
            return False
        try:
            number = int(value)
        except ValueError:
            return False
        bound = int(self.values[0])
        return number > bound if self.operator == "gt" else number < bound


@dataclass(frozen=True)
class LabelSelector:
    """All requirements must hold (an empty selector matches everything)."""

    requirements: tuple[Requirement, ...] = ()

    def matches(self, labels: Mapping[str, str] | None) -> bool:
        labels = labels or {}
        return all(req.matches(labels) for req in self.requirements)


def _split_clauses(text: str) -> list[str]:
    """Split on commas that are not inside a `( ... )` value set."""
    clauses: list[str] = []
    current: list[str] = []
    depth = 0
    for char in text:
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        if char == "," and depth == 0:
            clauses.append("".join(current))
            current = []
        else:
            current.append(char)
    clauses.append("".join(current))
    return [clause.strip() for clause in clauses]


def _check_key(key: str, clause: str) -> str:
    if not _KEY.match(key) or len(key.rsplit("/", 1)[-1]) > 63:
        raise SelectorError(
            f"unable to parse requirement: {clause!r}: invalid label key {key!r}: "
            "name part must consist of alphanumeric characters, '-', '_' or '.'"
        )
    return key


def _check_value(value: str, clause: str) -> str:
    if len(value) > 63 or not _VALUE.match(value):
        raise SelectorError(
            f"unable to parse requirement: {clause!r}: invalid label value {value!r}: "
            "must be 63 characters or less, alphanumeric, '-', '_' or '.'"
        )
    return value


_SET = re.compile(r"^(?P<key>\S+)\s+(?P<op>in|notin)\s*\((?P<values>[^()]*)\)$")
_BINARY = re.compile(r"^(?P<key>[^=!<>\s]+)\s*(?P<op>==|=|!=|>|<)\s*(?P<value>\S*)$")


def _parse_clause(clause: str) -> Requirement:
    if clause.startswith("!"):
        return Requirement(_check_key(clause[1:].strip(), clause), "!")
    found = _SET.match(clause)
    if found:
        values = tuple(
            _check_value(v.strip(), clause) for v in found["values"].split(",") if v.strip()
        )
        if not values:
            raise SelectorError(f"unable to parse requirement: {clause!r}: empty value set")
        return Requirement(_check_key(found["key"], clause), found["op"], tuple(sorted(values)))
    found = _BINARY.match(clause)
    if found:
        operator = {">": "gt", "<": "lt"}.get(found["op"], found["op"])
        value = found["value"]
        if operator in ("gt", "lt") and not re.fullmatch(r"-?\d+", value):
            raise SelectorError(
                f"unable to parse requirement: {clause!r}: for 'gt', 'lt' operators, "
                "exactly one integer value is required"
            )
        return Requirement(
            _check_key(found["key"], clause), operator, (_check_value(value, clause),)
        )
    if re.fullmatch(r"\S+", clause):
        return Requirement(_check_key(clause, clause), "exists")
    raise SelectorError(
        f"unable to parse requirement: {clause!r}: expected key, !key, key=value, "
        "key!=value, key in (v1,v2) or key notin (v1,v2)"
    )


def parse_labels(text: str | None) -> LabelSelector:
    """Parse a `labelSelector` query value (empty or missing selects everything)."""
    if not text or not text.strip():
        return LabelSelector()
    return LabelSelector(tuple(_parse_clause(clause) for clause in _split_clauses(text)))


@dataclass(frozen=True)
class FieldRequirement:
    """`field=value`, `field==value` or `field!=value` over a documented field path."""

    field: str
    negated: bool
    value: str


@dataclass(frozen=True)
class FieldSelector:
    """Field requirements, all of which must hold."""

    requirements: tuple[FieldRequirement, ...] = ()

    def matches(self, fields: Mapping[str, str]) -> bool:
        """`fields` maps each supported field path to its value ("" when unset)."""
        for req in self.requirements:
            equal = fields.get(req.field, "") == req.value
            if equal == req.negated:
                return False
        return True


def parse_fields(text: str | None, *, supported: frozenset[str]) -> FieldSelector:
    """Parse a `fieldSelector`; a field outside `supported` is an error, as upstream."""
    if not text or not text.strip():
        return FieldSelector()
    requirements = []
    for clause in _split_clauses(text):
        found = re.fullmatch(r"(?P<field>[^=!\s]+)\s*(?P<op>==|=|!=)\s*(?P<value>.*)", clause)
        if not found:
            raise SelectorError(
                f"invalid selector: {clause!r}; expected field=value or field!=value"
            )
        if found["field"] not in supported:
            raise SelectorError(f"field label not supported: {found['field']}")
        requirements.append(
            FieldRequirement(found["field"], found["op"] == "!=", found["value"].strip())
        )
    return FieldSelector(tuple(requirements))
