"""Label and field selectors: the grammar and semantics of the Kubernetes API server."""

from __future__ import annotations

import pytest

from podwarden.kube import selectors

LABELS = {"app": "web", "tier": "front", "version": "3"}


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        ("", True),
        ("app=web", True),
        ("app==web", True),
        ("app=db", False),
        ("app!=db", True),
        ("missing!=x", True),  # != matches an absent key
        ("app in (web,db)", True),
        ("app in (db, cache)", False),
        ("app notin (db,cache)", True),
        ("missing notin (a)", True),
        ("app", True),
        ("missing", False),
        ("!missing", True),
        ("!app", False),
        ("app=web,tier=front", True),
        ("app=web,tier=back", False),
        ("app in (web,db),!canary", True),
        ("version>2", True),
        ("version<3", False),
        (" app = web , tier in ( front ) ", True),
    ],
)
def test_label_selector_matches_like_kubernetes(selector: str, expected: bool) -> None:
    assert selectors.parse_labels(selector).matches(LABELS) is expected


def test_empty_labels_and_none_are_the_same() -> None:
    assert selectors.parse_labels("!x").matches(None)
    assert not selectors.parse_labels("x").matches({})


@pytest.mark.parametrize(
    ("selector", "message"),
    [
        ("app in ()", "empty value set"),
        ("-bad=x", "invalid label key"),
        ("app=not valid!", "unable to parse requirement"),
        ("version>x", "exactly one integer value"),
    ],
)
def test_bad_label_selectors_are_refused_with_the_reason(selector: str, message: str) -> None:
    with pytest.raises(selectors.SelectorError, match=message):
        selectors.parse_labels(selector)


POD_FIELDS = frozenset({"spec.nodeName", "status.podIP", "metadata.name", "metadata.namespace"})


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        ("spec.nodeName=node-a", True),
        ("spec.nodeName==node-a", True),
        ("spec.nodeName!=node-a", False),
        ("spec.nodeName=node-b", False),
        ("status.podIP=10.0.0.7,metadata.namespace=default", True),
        ("metadata.name=other", False),
        ("status.podIP=", False),
    ],
)
def test_field_selector(selector: str, expected: bool) -> None:
    values = {
        "spec.nodeName": "node-a",
        "status.podIP": "10.0.0.7",
        "metadata.name": "web",
        "metadata.namespace": "default",
    }
    parsed = selectors.parse_fields(selector, supported=POD_FIELDS)
    assert parsed.matches(values) is expected


def test_unsupported_field_is_refused_with_upstream_wording() -> None:
    with pytest.raises(selectors.SelectorError, match=r"^field label not supported: spec.foo$"):
        selectors.parse_fields("spec.foo=x", supported=POD_FIELDS)
