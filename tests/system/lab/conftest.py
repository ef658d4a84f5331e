"""Lab fixtures: every test gets its own namespace prefix and state directory.

So a test never touches a lab a person has up (the default `pwlab-` one), and
`assert_clean` can check that exactly its own namespaces and files are gone.
"""

from __future__ import annotations

import os
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

from podwarden.lab import cgroup, network, processes, state, topology
from podwarden.lab import netns as lab_netns

ECHO_CLOUD = Path(__file__).with_name("echo_cloud.py")


@dataclass(frozen=True)
class Where:
    prefix: str
    state_dir: Path

    @property
    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "PODWARDEN_LAB_PREFIX": self.prefix,
            "PODWARDEN_LAB_DIR": str(self.state_dir),
        }


def namespaces_with(prefix: str) -> list[str]:
    if not lab_netns.NETNS_DIR.exists():
        return []
    return sorted(p.name for p in lab_netns.NETNS_DIR.iterdir() if p.name.startswith(prefix))


def assert_clean(where: Where, records: list[state.ProcessRecord] = ()) -> None:
    assert namespaces_with(where.prefix) == []
    etc = network.ETC_NETNS
    if etc.exists():
        assert [p.name for p in etc.iterdir() if p.name.startswith(where.prefix)] == []
    assert not state.state_path(where.state_dir).exists()
    assert cgroup.directory(where.prefix) is None  # the lab's pod cgroup is gone too
    assert [r.name for r in records if processes.is_running(r)] == []


@pytest.fixture
def where(tmp_path: Path):
    spot = Where(prefix=f"pwt{uuid.uuid4().hex[:4]}-", state_dir=tmp_path / "lab")
    yield spot
    topology.down(state_dir=spot.state_dir, prefix=spot.prefix)  # whatever the test did


def echo_cloud_argv() -> list[str]:
    return [sys.executable, str(ECHO_CLOUD), "0.0.0.0:80", "[::]:80", "0.0.0.0:32526"]


def echo_proxy_argv(provider: str, listen: str) -> list[str]:
    """A stand-in proxy that reports which address the DNAT delivered to."""
    return [sys.executable, str(ECHO_CLOUD), listen]
