"""The AdmissionReview fuzz target runs briefly in CI, and a hidden engine failure is a finding."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.conftest import REPO

pytest.importorskip("atheris")


def test_admission_review_target_runs_clean_for_a_few_seconds() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "fuzz", "--target", "admission_review", "--seconds", "4"],
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


def test_a_decision_failed_closed_is_a_finding(monkeypatch: pytest.MonkeyPatch) -> None:
    from fuzz import admission_review as target

    from podwarden.podsecurity.psp import provider

    def broken(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("engine bug")

    monkeypatch.setattr(provider, "validate_pod", broken)
    body = {
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": "u",
            "kind": {"group": "", "version": "v1", "kind": "Pod"},
            "resource": {"group": "", "version": "v1", "resource": "pods"},
            "namespace": "default",
            "operation": "CREATE",
            "object": target.SEED_POD,
            "dryRun": True,
        },
    }
    with pytest.raises(target.InternalError, match="RuntimeError: engine bug"):
        target.check(target.WEBHOOKS[1], "mutate", json.dumps(body).encode())
    # and a malformed body is the 400 path, not a finding
    target.check(target.WEBHOOKS[1], "mutate", b"{")
