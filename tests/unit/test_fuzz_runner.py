"""`python -m fuzz`: every target by default, the time split between them; --target: one."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import REPO

pytest.importorskip("atheris")


@pytest.mark.parametrize(
    ("seconds", "count", "expected"),
    [(20, 2, [10, 10]), (5, 2, [3, 2]), (1, 2, [1, 1]), (7, 3, [3, 2, 2])],
)
def test_the_time_is_split_in_whole_seconds(seconds: int, count: int, expected: list[int]) -> None:
    from fuzz.__main__ import shares

    assert shares(seconds, count) == expected


def test_without_a_target_every_target_runs() -> None:
    from fuzz.__main__ import TARGETS

    result = subprocess.run(
        [sys.executable, "-m", "fuzz", "--seconds", str(2 * len(TARGETS))],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    lines = result.stderr.splitlines()
    started = [line for line in lines if line.startswith("fuzz: target ")]
    assert started == [f"fuzz: target {name} for 2 s" for name in TARGETS]
    executed = [
        int(line.split(":")[-1])
        for line in lines
        if line.startswith("stat::number_of_executed_units:")
    ]
    assert len(executed) == len(TARGETS)
    assert all(count > 200 for count in executed), executed  # each really fuzzed


def test_a_bad_budget_is_refused() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "fuzz", "--seconds", "0"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "--seconds: must be at least 1" in result.stderr
