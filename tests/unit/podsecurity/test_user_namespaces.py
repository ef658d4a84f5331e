"""The user-namespace relaxation of runAsNonRoot and runAsUser, as upstream PSA has it.

Issue 9, finding 11, asked whether `hostUsers: false` with `runAsUser: 0` and no
`runAsNonRoot` passing `--level restricted` is upstream behaviour or a feature gate
podwarden turned on. Upstream (kubernetes/pod-security-admission, policy/):

- Kubernetes 1.29-1.34: the relaxation sat inside runAsNonRoot_1_0 and
  runAsUser_1_23, behind the alpha feature gate UserNamespacesPodSecurityStandards
  (default off; helpers.go `RelaxPolicyForUserNamespacePods`, set by the API server).
- Kubernetes 1.35 removed the gate (kubernetes/kubernetes#132157, release note
  "Removed the UserNamespacesPodSecurityStandards feature gate") and made the
  relaxation a policy version instead: new check versions at v1.35
  (runAsNonRoot1_35, runAsUser1_35, procMount1_35baseline), the old versions
  unrelaxed, since the gate was off in most clusters.

So the relaxation is not gated in any Kubernetes that has policy version v1.35,
and pinning v1.34 or older keeps the old rule, which is what these tests pin. The
rows are upstream's test tables (check_runAsNonRoot_test.go, check_runAsUser_test.go,
release 1.35) as data.
"""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from podwarden.cli import main
from podwarden.podsecurity import evaluate


def container(**security_context: Any) -> dict[str, Any]:
    """Container "a", restricted-clean apart from `security_context`."""
    clean = {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}
    return {"name": "a", "image": "x", "securityContext": {**clean, **security_context}}


def pod(spec: dict[str, Any]) -> dict[str, Any]:
    """A restricted-clean pod with `spec` merged in."""
    base = {
        "securityContext": {"seccompProfile": {"type": "RuntimeDefault"}},
        "containers": [container()],
    }
    merged = {**base, **spec}
    if "securityContext" in spec:
        merged["securityContext"] = {**base["securityContext"], **spec["securityContext"]}
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": merged}


ROOT = {"securityContext": {"runAsUser": 0}}
# (scenario, spec, failing checks at v1.34, failing checks at v1.35 and later)
TABLE: list[tuple[str, dict[str, Any], set[str], set[str]]] = [
    (
        "no runAsNonRoot, root uid",
        ROOT,
        {"runAsNonRoot", "runAsUser"},
        {"runAsNonRoot", "runAsUser"},
    ),
    (
        "host users false allowed",
        {**ROOT, "hostUsers": False},
        {"runAsNonRoot", "runAsUser"},
        set(),
    ),
    (
        "host users true",
        {**ROOT, "hostUsers": True},
        {"runAsNonRoot", "runAsUser"},
        {"runAsNonRoot", "runAsUser"},
    ),
    (
        "host users false, runAsNonRoot=false",
        {"hostUsers": False, "securityContext": {"runAsNonRoot": False}},
        {"runAsNonRoot"},
        set(),
    ),
    (
        "host users false does not relax procMount at restricted",
        {
            "hostUsers": False,
            "securityContext": {"runAsNonRoot": True},
            "containers": [container(procMount="Unmasked")],
        },
        {"procMount"},
        {"procMount_restricted"},
    ),
    (
        "host users false does not relax capabilities",
        {
            "hostUsers": False,
            "containers": [
                {"name": "a", "image": "x", "securityContext": {"allowPrivilegeEscalation": False}}
            ],
        },
        {"runAsNonRoot", "capabilities_restricted"},
        {"capabilities_restricted"},
    ),
]


@pytest.mark.parametrize(("scenario", "spec", "before", "after"), TABLE, ids=[t[0] for t in TABLE])
def test_relaxation_starts_at_policy_version_1_35(
    scenario: str, spec: dict[str, Any], before: set[str], after: set[str]
) -> None:
    for version, expected in (
        ("v1.29", before),
        ("v1.34", before),
        ("v1.35", after),
        ("latest", after),
    ):
        result = evaluate.evaluate_pod(pod(spec), level="restricted", version=version)
        assert set(result.check_ids) == expected, (scenario, version, result.check_ids)


def test_check_command_follows_the_pinned_version(tmp_path: Any) -> None:
    path = tmp_path / "pod.yaml"
    path.write_text(yaml.safe_dump(pod({**ROOT, "hostUsers": False})))

    def check(version: str) -> Any:
        return CliRunner().invoke(
            main, ["check", "--level", "restricted", "--version", version, str(path)]
        )

    refused = check("v1.34")
    assert refused.exit_code == 1
    assert "runAsNonRoot != true" in refused.output and "runAsUser=0" in refused.output
    assert check("v1.35").exit_code == 0
    assert check("latest").exit_code == 0
