"""A refusal made because no decision could be made says what failed, never "X: "."""

from __future__ import annotations

import pytest

from podwarden.webhooks import failures


@pytest.mark.parametrize(
    ("exc", "timeout", "expected"),
    [
        (TimeoutError(), 8.0, "the decision timed out after 8s"),
        (TimeoutError(), 0.5, "the decision timed out after 0.5s"),
        (TimeoutError(), None, "the decision timed out"),
        (RuntimeError("policy exploded"), 8.0, "RuntimeError: policy exploded"),
        (KeyError("boom"), None, "KeyError: 'boom'"),
        (RuntimeError(), None, "the decision failed: RuntimeError"),
    ],
)
def test_describe_names_the_operation_or_the_error(exc, timeout, expected):
    assert failures.describe(exc, operation="the decision", timeout=timeout) == expected
