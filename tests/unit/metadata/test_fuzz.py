"""The fuzz target runs briefly in CI: evaluate never raises and never allows a secret."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import REPO

pytest.importorskip("atheris")


def test_fuzz_target_runs_clean_for_a_few_seconds():
    result = subprocess.run(
        [sys.executable, "-m", "fuzz", "--seconds", "5"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    executed = [
        line
        for line in result.stderr.splitlines()
        if line.startswith("stat::number_of_executed_units:")
    ]
    assert executed, result.stderr[-2000:]
    assert int(executed[0].split(":")[-1]) > 200  # it really fuzzed, not just started


def test_fuzz_finding_fails_the_run(tmp_path):
    # A crafted input that the target must reject loudly: a firewall bug hidden
    # as an internal-error decision is a finding, not a pass.
    from fuzz import target

    from podwarden.metadata.model import ProviderName, RawRequest

    class Broken:
        def evaluate(self, raw):
            from podwarden.metadata.model import Respond

            return None, Respond(rule_id="internal-error", status=500)

    request = RawRequest(method="GET", target="/", headers=(), client="x")
    with pytest.raises(target.InternalError):
        target.check(ProviderName.AWS, request, firewalls={ProviderName.AWS: Broken()})
