"""The JSON Patch differ: any JSON change round-trips through RFC 6902 operations."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from podwarden.podsecurity.psp import patch

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.text(alphabet="ab/~c", max_size=3), inner, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(json_values, json_values)
def test_diff_round_trips(before, after):
    assert patch.apply(before, patch.diff(before, after)) == after


def test_keys_are_escaped_per_rfc6901():
    ops = patch.diff({"a": {}}, {"a": {"x/y~z": 1}})
    assert ops == [{"op": "add", "path": "/a/x~1y~0z", "value": 1}]


def test_bool_and_int_are_different_values():
    assert patch.diff({"a": 1}, {"a": True}) == [{"op": "replace", "path": "/a", "value": True}]


def test_no_change_no_ops():
    doc = {"spec": {"containers": [{"name": "c"}]}}
    assert patch.diff(doc, {"spec": {"containers": [{"name": "c"}]}}) == []
