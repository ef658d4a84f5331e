"""The netfilter tests' fresh lab per test (torn down) and the identity tests' moto (IAM
and STS with enforcement, the node's keys in the environment), shared rather than written
twice."""

from __future__ import annotations

from tests.integration.identity.conftest import moto, node_env
from tests.system.netfilter.conftest import lab

__all__ = ["lab", "moto", "node_env"]
