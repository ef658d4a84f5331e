"""Fixtures: the netfilter tests' fresh pod/node/cloud netlab per test (torn down) and
the writable cgroup v2 root, shared rather than written twice."""

from __future__ import annotations

from tests.system.netfilter.conftest import cgroup_v2_root, lab

__all__ = ["cgroup_v2_root", "lab"]
