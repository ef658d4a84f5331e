"""What an alert or a dashboard panel reads: the metric names and label names in its PromQL
and in its templates, so a test can check them against real /metrics scrapes.

Deliberately small: selectors (`name{label="v"}`), grouping (`by (a, b)`, `without (…)`),
and template references (`{{ $labels.x }}` in alerts, `{{x}}` in Grafana legends). Function
names and keywords are not metrics; string contents and range durations are ignored.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

KEYWORDS = frozenset({
    "by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and", "or",
    "unless", "offset", "inf", "nan",
})  # fmt: skip
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'')
_RANGE = re.compile(r"\[[^\]]*\]")
_GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)")
_NAME = re.compile(r"(?<![\w:.$])([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(\{[^}]*\})?\s*(\()?")
_MATCHER = re.compile(r"([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)")
_ALERT_LABEL = re.compile(r"\$labels\.([a-zA-Z_][a-zA-Z0-9_]*)")
_LEGEND_LABEL = re.compile(r"\{\{\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\}\}")


@dataclass(frozen=True)
class Selector:
    metric: str
    labels: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Reads:
    """The selectors of one expression and the labels it groups by."""

    selectors: tuple[Selector, ...]
    grouping: frozenset[str] = field(default_factory=frozenset)


def reads(expr: str) -> Reads:
    blanked = _STRING.sub('""', expr)
    blanked = _RANGE.sub("", blanked)
    grouping = frozenset(
        label.strip() for group in _GROUPING.findall(blanked) for label in group.split(",")
    ) - {""}
    blanked = _GROUPING.sub(" ", blanked)
    selectors = []
    for name, matchers, call in _NAME.findall(blanked):
        if call or name in KEYWORDS or re.fullmatch(r"[0-9.e+-]+", name):
            continue  # a function, a keyword
        labels = frozenset(_MATCHER.findall(matchers)) if matchers else frozenset()
        selectors.append(Selector(name, labels))
    return Reads(tuple(selectors), grouping)


def template_labels(text: str) -> frozenset[str]:
    """Labels an alert annotation (`$labels.x`) or a Grafana legend (`{{x}}`) names."""
    return frozenset(_ALERT_LABEL.findall(text)) | frozenset(_LEGEND_LABEL.findall(text))
