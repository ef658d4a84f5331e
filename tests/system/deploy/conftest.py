"""The netfilter tests' fresh lab per test (torn down), shared rather than written twice."""

from __future__ import annotations

from tests.system.netfilter.conftest import lab

__all__ = ["lab"]
