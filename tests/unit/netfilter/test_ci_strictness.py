"""Host-network system tests skip without cgroup v2 / net_cls, but FAIL under CI=true."""

from __future__ import annotations

import pytest

from tests.system.netfilter.conftest import require


def test_a_missing_feature_is_a_skip_outside_ci(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="no net_cls"):
        require(False, "no net_cls")


def test_a_missing_feature_is_a_failure_under_ci(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI=true but no writable cgroup v2"):
        require(False, "no writable cgroup v2")


def test_an_available_feature_runs_the_test(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("CI", "true")
    require(True, "unused")
