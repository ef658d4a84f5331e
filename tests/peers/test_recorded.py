"""The README's table of peer versions is the record in tests/peers/last_green.toml."""

from __future__ import annotations

import re
import tomllib

from tests.peers import versions


def test_the_readme_lists_each_recorded_peer_with_its_version():
    record = tomllib.loads(versions.LAST_GREEN.read_text())
    readme = (versions.REPO / "README.md").read_text()
    rows = dict(re.findall(r"^\| ([a-z0-9-]+)[^|]* \| ([^|]+?) \|$", readme, flags=re.MULTILINE))
    recorded = {**record["debian"], **record["binaries"]}
    assert len(recorded) >= 10
    assert {name: rows.get(name) for name in recorded} == recorded
