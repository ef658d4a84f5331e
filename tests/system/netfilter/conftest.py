"""Fixtures: a fresh pod/node/cloud lab per test, always torn down."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

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
