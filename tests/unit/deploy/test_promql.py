"""deploytools.promql: what the metric-name check reads out of alert and panel PromQL."""

from __future__ import annotations

import pytest
from deploytools.promql import Selector, reads, template_labels

CASES = [
    ("podwarden_agent_ready == 0", [Selector("podwarden_agent_ready")], set()),
    (
        'sum by (node, rule) (rate(podwarden_requests_total{decision="deny"}[10m])) > 1',
        [Selector("podwarden_requests_total", frozenset({"decision"}))],
        {"node", "rule"},
    ),
    (
        'histogram_quantile(0.99, sum by (le) (rate(x_bucket{kind=~"first|by"}[5m])))',
        [Selector("x_bucket", frozenset({"kind"}))],
        {"le"},
    ),
    ('absent(up{job="a"} == 1)', [Selector("up", frozenset({"job"}))], set()),
    ("a_total / ignoring (x) b_total", [Selector("a_total"), Selector("b_total")], {"x"}),
    ("m - time() < 14 * 86400", [Selector("m")], set()),
    ('sum without (pod) (c{l!="sum(d)"})', [Selector("c", frozenset({"l"}))], {"pod"}),
]


@pytest.mark.parametrize(("expr", "selectors", "grouping"), CASES)
def test_reads_selectors_and_grouping(expr: str, selectors: list[Selector], grouping: set[str]):
    found = reads(expr)
    assert list(found.selectors) == selectors
    assert found.grouping == grouping


def test_template_labels_of_alerts_and_legends():
    text = "{{ $labels.node }} at {{ $value | humanize }}, {{rule}} / {{ backend }}"
    assert template_labels(text) == {"node", "rule", "backend"}
