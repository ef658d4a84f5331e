"""`--config` parsing: defaults, every section, and errors that name the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from podwarden.config import ConfigError
from podwarden.webhooks import settings

EXAMPLES = Path(__file__).resolve().parents[3] / "examples" / "psp-walkthrough"


def _load(data: object) -> settings.Settings:
    return settings.from_data(data, source="cfg.yaml", base=EXAMPLES)


def test_no_file_means_psa_defaults() -> None:
    parsed = settings.load(None)
    assert parsed.mode == "pss"
    assert str(parsed.defaults.enforce) == "privileged:latest"
    assert parsed.refuse_workloads is False


def test_every_section() -> None:
    parsed = _load(
        {
            "mode": "psp",
            "pss": {"enforce": "baseline", "enforce-version": "v1.30", "warn": "restricted"},
            "psp": {"policies": ["policy.yaml", "policy-var-log.yaml"]},
            "tenant": {"version": "v1.29", "baseRoleArn": "arn:aws:iam::1:role/"},
            "exemptions": {"usernames": ["ci"], "namespaces": ["ops"], "runtimeClasses": ["kata"]},
            "workloads": "refuse",
        }
    )
    assert str(parsed.defaults.enforce) == "baseline:v1.30"
    assert str(parsed.defaults.warn) == "restricted:latest"
    assert [p.name for p in parsed.policies] == ["example", "var-log-only"]
    assert parsed.exemptions.reason(namespace="ops") == "namespace"
    assert parsed.exemptions.reason(runtime_class="kata") == "runtimeClass"
    assert parsed.base_role_arn == "arn:aws:iam::1:role/"
    assert parsed.refuse_workloads


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"mode": "kyverno"}, "cfg.yaml: mode: Input should be 'pss', 'psp' or 'tenant'"),
        ({"pss": {"enforce": "strict"}}, "cfg.yaml: pss.enforce: "),
        ({"pss": {"enforce-version": "1.30"}}, "cfg.yaml: pss.enforce: "),
        ({"workloads": "ignore"}, "cfg.yaml: workloads: Input should be 'warn' or 'refuse'"),
        (
            {"exemptions": {"users": []}},
            "cfg.yaml: exemptions.users: Extra inputs are not permitted",
        ),
        (
            {"mode": "psp", "psp": {"clusterPolicies": False}},
            "cfg.yaml: psp.policies: mode psp needs at least one policy file",
        ),
        ({"psp": {"policies": ["missing.yaml"]}}, "cfg.yaml: psp.policies[0]: "),
        ({"tenant": {"version": "vX"}}, "cfg.yaml: tenant.version: "),
    ],
)
def test_errors_name_the_key(data: object, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        _load(data)
    assert message in str(caught.value)


def test_bad_policy_names_the_policy_key(tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text(
        "apiVersion: policy/v1beta1\nkind: PodSecurityPolicy\nmetadata: {name: bad}\n"
        "spec: {privileged: maybe}\n"
    )
    with pytest.raises(ConfigError) as caught:
        settings.from_data({"psp": {"policies": ["bad.yaml"]}}, source="c", base=tmp_path)
    assert "c: psp.policies: PodSecurityPolicy 'bad': spec.privileged" in str(caught.value)
