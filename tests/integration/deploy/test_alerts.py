"""The chart's alerts under `promtool`: the rules are valid, and each alert's unit test
(deploy/helm/podwarden/tests/alerts_test.yaml) fires it for a sick series and not for a
healthy neighbour. promtool comes from Debian's `prometheus` package (`make setup`)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from deploytools import helm

from tests.integration.deploy.conftest import CERT_MANAGER, MONITORING, helm_or_skip

ALERT_TESTS = helm.CHART / "tests" / "alerts_test.yaml"


@pytest.fixture(scope="module")
def promtool() -> str:
    helm_or_skip()
    found = shutil.which("promtool")
    if found is None:
        if os.environ.get("CI"):
            raise AssertionError("promtool missing: `make setup` installs Debian's prometheus")
        pytest.skip("promtool not installed (Debian package prometheus)")
    return found


def rule_groups(**set_values: str) -> list[dict[str, Any]]:
    stream = helm.template(
        api_versions=[CERT_MANAGER, MONITORING],
        set_values={
            "monitoring.prometheusRule.enabled": "true",
            "nodeAuthorization.enabled": "true",  # its alerts come with it
            **set_values,
        },
    )
    (rule,) = [o for o in helm.objects(stream) if o["kind"] == "PrometheusRule"]
    return list(rule["spec"]["groups"])


def run_promtool(promtool: str, folder: Path, groups: list[dict[str, Any]]) -> str:
    (folder / "rules.yaml").write_text(yaml.safe_dump({"groups": groups}, sort_keys=False))
    shutil.copy(ALERT_TESTS, folder / ALERT_TESTS.name)
    checked = subprocess.run(
        [promtool, "check", "rules", "rules.yaml"],
        cwd=folder, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert checked.returncode == 0, checked.stdout + checked.stderr
    tested = subprocess.run(
        [promtool, "test", "rules", ALERT_TESTS.name],
        cwd=folder, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    return ("PASS\n" if tested.returncode == 0 else "FAIL\n") + tested.stdout + tested.stderr


def test_every_alert_passes_its_promtool_unit_test(promtool: str, tmp_path: Path) -> None:
    out = run_promtool(promtool, tmp_path, rule_groups())
    assert out.startswith("PASS"), out


def test_every_alert_has_a_test_that_makes_it_fire() -> None:
    alerts = {r["alert"] for g in rule_groups() for r in g["rules"]}
    tests = yaml.safe_load(ALERT_TESTS.read_text())["tests"]
    fired = {
        case["alertname"]
        for test in tests
        for case in test.get("alert_rule_test", [])
        if case.get("exp_alerts")
    }
    assert fired == alerts
    assert len(alerts) == 16
    # the list: agent not ready, drift, refusal spike, identity errors, slow first
    # credentials, webhook p99 and error rate, reflector lag and relists, certificate expiry;
    # and the node authorization webhook's p99 and error rate
    for needed in ("AgentNotReady", "RulesRepaired", "RefusalSpike", "IdentityErrors",
                   "SlowFirstCredentials", "WebhookSlow", "WebhookErrors", "ReflectorLag",
                   "ReflectorRelists", "CertificateExpiresSoon", "NodeAuthSlow",
                   "NodeAuthErrors", "NodeAuthDown"):  # fmt: skip
        assert f"Podwarden{needed}" in alerts


def test_node_authorization_alerts_only_come_with_it() -> None:
    """Off, its absent() alert would fire for a webhook nobody installed."""
    groups = rule_groups(**{"nodeAuthorization.enabled": "false"})
    alerts = {r["alert"] for g in groups for r in g["rules"]}
    assert len(alerts) == 13 and not {a for a in alerts if "NodeAuth" in a}


@pytest.mark.parametrize(
    ("value", "alert"),
    [
        ("monitoring.prometheusRule.refusalsPerSecond=5", "PodwardenRefusalSpike"),
        ("monitoring.prometheusRule.webhookLatencySeconds=1", "PodwardenWebhookSlow"),
        ("monitoring.prometheusRule.certificateDays=7", "PodwardenCertificateExpiresSoon"),
        ("monitoring.prometheusRule.nodeAuthLatencySeconds=1", "PodwardenNodeAuthSlow"),
        ("monitoring.prometheusRule.nodeAuthErrorRatio=1", "PodwardenNodeAuthErrors"),
    ],
)
def test_thresholds_are_values_and_the_unit_tests_notice_them(
    promtool: str, tmp_path: Path, value: str, alert: str
) -> None:
    """Not vacuous: with a threshold above the test's sick series, its alert stays silent
    and promtool says so."""
    key, number = value.split("=")
    out = run_promtool(promtool, tmp_path, rule_groups(**{key: number}))
    assert out.startswith("FAIL"), out
    assert f"alertname: {alert}," in out
