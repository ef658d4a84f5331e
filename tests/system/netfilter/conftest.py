"""Fixtures: a fresh pod/node/cloud lab per test, always torn down."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from podwarden.testing import cgroups
from podwarden.testing import netlab as lab_module

BACKENDS = ["nft", "iptables-nft", "iptables-legacy"]
# iptables-nft and iptables-legacy share every line of our code but the binaries;
# the costlier tests run on nft and legacy, the core ones on all three.
NFT_AND_LEGACY = ["nft", "iptables-legacy"]


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[lab_module.Lab]:
    built = lab_module.build(tmp_path)
    try:
        yield built
    finally:
        failures = built.close()
        assert not failures, f"lab clean-up failed: {failures}"


def require(available: bool, reason: str) -> None:
    """Skip when a host feature is missing, but FAIL under CI=true: CI has every feature
    these tests need, so a skip there would hide a broken runner, not a missing kernel."""
    if available:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI=true but {reason}")
    pytest.skip(reason)


@pytest.fixture
def cgroup_v2_root() -> Path:
    """The writable cgroup v2 root (skip, or fail under CI=true, without one)."""
    root, why = cgroups.v2_root_or_reason()
    require(root is not None, f"needs a writable cgroup v2 hierarchy: {why}")
    assert root is not None
    return root
