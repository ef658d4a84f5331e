"""Ordered rules over canonical requests: first match wins, no match is a deny.

Rules are parsed once (presets in the provider modules, files in `policy_files.py`)
into immutable values; `Policy.decide` is a pure function of the request, so
the proxy, the fuzz target and the benchmark all run the same decision.

Paths are globs over the request's `tree_path` (for AWS the path below the
version segment, for Azure the lower-cased path): `*` matches within one
segment, `**` any number of segments, and a trailing `/` is optional unless
the pattern ends with one. Rules that refuse (deny, conceal) also match
case-insensitively, so `Kube-Env` is as concealed as `kube-env` even where the
upstream is case-sensitive today: a refusal can only get wider, never an allow.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from podwarden.metadata.model import (
    CanonicalRequest,
    Decision,
    Forward,
    Handle,
    Respond,
    ResponseTransform,
)

ANY_VALUE = "*"  # a query/header condition satisfied by any present value


class RuleAction(enum.StrEnum):
    """What a matching rule does; `conceal` is a deny in the provider's conceal wording."""

    ALLOW = "allow"
    DENY = "deny"
    CONCEAL = "conceal"
    ANSWER = "answer"


class PatternError(ValueError):
    """A path glob that cannot be used; the message says why."""


def glob_source(pattern: str) -> str:
    """The unanchored regular expression for a path glob."""
    if not pattern.startswith("/"):
        raise PatternError(f"path pattern {pattern!r} must start with '/'")
    if "//" in pattern:
        raise PatternError(f"path pattern {pattern!r} has an empty segment ('//')")
    parts: list[str] = []
    index = 0
    while index < len(pattern):
        if pattern.startswith("/**", index):
            if pattern[index + 3 : index + 4] not in ("", "/"):
                raise PatternError(f"'**' must be a whole segment in {pattern!r}")
            parts.append("(?:/[^/\\x00]+)*")
            index += 3
        elif pattern[index] == "*":
            if pattern.startswith("**", index):
                raise PatternError(f"'**' must be a whole segment in {pattern!r}")
            parts.append("[^/\\x00]*")
            index += 1
        else:
            parts.append(re.escape(pattern[index]))
            index += 1
    body = "".join(parts)
    return body if pattern.endswith("/") else body + "/?"


def compile_glob(pattern: str, *, ignore_case: bool) -> re.Pattern[str]:
    """Turn a path glob into an anchored regular expression."""
    return re.compile(f"^{glob_source(pattern)}$", re.IGNORECASE if ignore_case else 0)


@dataclass(frozen=True)
class Rule:
    """One parsed rule. `query`/`headers` map a key to a value, `*` or None (absent)."""

    id: str
    action: RuleAction
    path: str
    methods: frozenset[str] = frozenset({"GET", "HEAD"})
    query: Mapping[str, str | None] = field(default_factory=dict)
    headers: Mapping[str, str | None] = field(default_factory=dict)
    status: int = 0  # deny: 0 means the provider's usual not-found status
    message: str = ""  # deny: "" means the provider's usual wording
    cache_ttl: float = 0.0
    handler: str = ""
    transform: ResponseTransform | None = field(default=None, compare=False)
    match_full_path: bool = False  # match `path` instead of `tree_path` (AWS root listing)
    _regex: re.Pattern[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_regex", compile_glob(self.path, ignore_case=self.refuses))

    @property
    def refuses(self) -> bool:
        """Deny and conceal rules match case-insensitively (see module docstring)."""
        return self.action in (RuleAction.DENY, RuleAction.CONCEAL)

    @property
    def conditional(self) -> bool:
        """True when the rule also looks at query or headers."""
        return bool(self.query or self.headers)

    def matches(self, req: CanonicalRequest) -> bool:
        """True when method, path, query and header conditions all hold."""
        if req.method not in self.methods:
            return False
        if not self.conditions_hold(req):
            return False
        return bool(self._regex.match(req.path if self.match_full_path else req.tree_path))

    def conditions_hold(self, req: CanonicalRequest) -> bool:
        """The query and header conditions alone."""
        for key, want in self.query.items():
            if not _condition(req.query_value(key), want):
                return False
        return all(_condition(req.headers.get(k), want) for k, want in self.headers.items())

    def scan_source(self) -> str:
        """This rule as one alternative of `Policy`'s combined scan (see `_subject`)."""
        methods = "|".join(sorted(self.methods))
        path = glob_source(self.path)
        if self.match_full_path:
            source = f"(?:{methods}) [^\\x00]*\\x00{path}$"
        else:
            source = f"(?:{methods}) {path}\\x00"
        return f"(?i:{source})" if self.refuses else source


def _condition(have: str | None, want: str | None) -> bool:
    if want is None:
        return have is None
    if want == ANY_VALUE:
        return have is not None
    return have == want


@dataclass(frozen=True)
class Responses:
    """How a provider words and shapes its answers; supplied by the provider module."""

    not_found: Callable[[], Respond]
    deny: Callable[[Rule], Respond]  # rule.status 0 / rule.message "" mean "usual"
    conceal: Callable[[str], Respond]  # (rule id)
    allow: Callable[[CanonicalRequest, Rule], Forward]


def _subject(req: CanonicalRequest) -> str:
    """`METHOD tree_path NUL path`: one string every rule's scan alternative can match.

    NUL never occurs in a canonical path (refused by `request.py`), so it
    separates the two spellings unambiguously.
    """
    return f"{req.method} {req.tree_path}\x00{req.path}"


@dataclass(frozen=True)
class Policy:
    """An ordered rule list and the provider's wording; decide() does no I/O.

    The rules without query/header conditions are compiled into one
    alternation (Python's `re` tries alternatives in order, so the first group
    that matches is the first such rule whose method and path match): a
    decision costs one regex match, not a Python loop over every rule. The few
    conditional rules ordered before that match are then checked one by one.
    """

    rules: tuple[Rule, ...]
    responses: Responses
    _scan: re.Pattern[str] = field(init=False, repr=False, compare=False)
    _scan_index: tuple[int, ...] = field(init=False, repr=False, compare=False)
    _conditional: tuple[int, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        plain = tuple(i for i, rule in enumerate(self.rules) if not rule.conditional)
        source = "|".join(f"({self.rules[i].scan_source()})" for i in plain)
        object.__setattr__(self, "_scan", re.compile(source or "(?!)"))
        object.__setattr__(self, "_scan_index", plain)
        conditional = tuple(i for i, rule in enumerate(self.rules) if rule.conditional)
        object.__setattr__(self, "_conditional", conditional)

    def decide(self, req: CanonicalRequest) -> Decision:
        """The first matching rule's decision; the provider's not-found when none match."""
        found = self._scan.match(_subject(req))
        first = len(self.rules)
        if found is not None and found.lastindex is not None:
            first = self._scan_index[found.lastindex - 1]
        for index in self._conditional:
            if index > first:
                break
            if self.rules[index].matches(req):
                return self._apply(self.rules[index], req)
        if first < len(self.rules):
            return self._apply(self.rules[first], req)
        return self.responses.not_found()

    def _apply(self, rule: Rule, req: CanonicalRequest) -> Decision:
        if rule.action is RuleAction.ALLOW:
            return self.responses.allow(req, rule)
        if rule.action is RuleAction.CONCEAL:
            return self.responses.conceal(rule.id)
        if rule.action is RuleAction.ANSWER:
            return Handle(rule_id=rule.id, handler=rule.handler)
        return self.responses.deny(rule)
