"""Fixtures: a fresh pod/node/cloud netlab per test (podwarden.testing.netlab), torn down."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from podwarden.testing import netlab
from tests.system.netfilter.conftest import cgroup_v2_root

__all__ = ["cgroup_v2_root", "lab"]


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[netlab.Lab]:
    built = netlab.build(tmp_path)
    try:
        yield built
    finally:
        failures = built.close()
        assert not failures, f"lab clean-up failed: {failures}"
