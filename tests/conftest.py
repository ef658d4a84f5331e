"""Suite-wide fixtures: the system tier needs root and network namespaces."""

from __future__ import annotations

from pathlib import Path

import pytest

from podwarden.lab import netns

pytest_plugins = ["tests.peers.plugin"]

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark everything under tests/system as `system`; skip it without root."""
    skip = pytest.mark.skip(reason="system tests need root and iproute2 (CI runs them)")
    for item in items:
        if "tests/system/" in str(item.fspath):
            item.add_marker(pytest.mark.system)
            if not netns.available():
                item.add_marker(skip)
