"""PSA's namespace dry run (`kubectl label --dry-run=server ns X …/enforce=L`), offline.

Expected lines are written out by hand in PSA's format (pod-security-admission
admission.go, EvaluatePodsInNamespace / decoratePodWarnings, v1.25+): a header
line, then one line per distinct ForbiddenReason, decorated with the lexically
first pod and the count of others, sorted.
"""

from __future__ import annotations

from typing import Any

import pytest

from podwarden.podsecurity import dryrun
from podwarden.podsecurity.levels import Level
from podwarden.podsecurity.namespace import Exemptions

ENFORCE = "pod-security.kubernetes.io/enforce"
VERSION = "pod-security.kubernetes.io/enforce-version"


def pod(name: str, **spec: Any) -> dict[str, Any]:
    container = {"name": "c", "image": "busybox"}
    container.update(spec.pop("container", {}))
    return {"metadata": {"name": name}, "spec": {"containers": [container], **spec}}


RESTRICTED_OK = {
    "securityContext": {
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
        "runAsNonRoot": True,
        "seccompProfile": {"type": "RuntimeDefault"},
    }
}
PLAIN = (
    "allowPrivilegeEscalation != false, unrestricted capabilities, runAsNonRoot != true, "
    "seccompProfile"
)


def test_groups_pods_by_reasons_names_the_first_and_counts_the_others() -> None:
    pods = [
        pod("web-2"),
        pod("web-1"),
        pod("web-3"),
        pod("db", hostNetwork=True),
        pod("batch-b"),
        pod("ok", container=RESTRICTED_OK),
    ]
    run = dryrun.enforce("team", {}, pods, Level.RESTRICTED)
    assert run.evaluated and run.checked == 6 and run.violating_pods == 5
    assert run.warnings() == [
        'existing pods in namespace "team" violate the new PodSecurity enforce level '
        '"restricted:latest"',
        f"batch-b (and 3 other pods): {PLAIN}",
        f"db: host namespaces, {PLAIN}",
    ]


def test_two_pods_say_one_other_pod() -> None:
    run = dryrun.enforce("t", {}, [pod("b"), pod("a")], Level.RESTRICTED)
    assert run.warnings()[1] == f"a (and 1 other pod): {PLAIN}"


def test_all_pods_passing_gives_no_warning_but_is_evaluated() -> None:
    run = dryrun.enforce("t", {}, [pod("a", container=RESTRICTED_OK)], Level.RESTRICTED)
    assert run.evaluated and run.checked == 1 and run.warnings() == []


def test_baseline_only_flags_what_baseline_forbids() -> None:
    pods = [pod("plain"), pod("hostnet", hostNetwork=True)]
    run = dryrun.enforce("t", {}, pods, Level.BASELINE)
    assert run.warnings() == [
        'existing pods in namespace "t" violate the new PodSecurity enforce level '
        '"baseline:latest"',
        "hostnet: host namespaces",
    ]


@pytest.mark.parametrize(
    ("labels", "level", "skipped"),
    [
        (
            {ENFORCE: "restricted"},
            Level.RESTRICTED,
            "the namespace already enforces restricted:latest",
        ),
        (
            {ENFORCE: "restricted"},
            Level.BASELINE,
            "baseline:latest is not stricter than the enforced restricted:latest",
        ),
        (
            {ENFORCE: "baseline", VERSION: "v1.20"},
            Level.BASELINE,
            "the namespace already enforces baseline:v1.20",
        ),
    ],
)
def test_psa_skips_when_the_enforce_policy_does_not_get_stricter(
    labels: dict[str, str], level: Level, skipped: str
) -> None:
    run = dryrun.enforce("t", labels, [pod("hostnet", hostNetwork=True)], level)
    assert not run.evaluated and run.skipped == skipped and run.warnings() == []


def test_the_enforce_version_label_is_kept_as_psa_keeps_it() -> None:
    run = dryrun.enforce("t", {VERSION: "v1.20"}, [pod("a")], Level.RESTRICTED)
    assert str(run.enforce) == "restricted:v1.20"
    assert run.warnings()[0].endswith('"restricted:v1.20"')


def test_a_stricter_level_at_the_same_version_is_evaluated() -> None:
    run = dryrun.enforce("t", {ENFORCE: "baseline"}, [pod("a")], Level.RESTRICTED)
    assert run.evaluated and run.violating_pods == 1


def test_a_bad_label_that_was_already_there_does_not_stop_the_dry_run() -> None:
    run = dryrun.enforce("t", {VERSION: "1.20"}, [pod("a")], Level.RESTRICTED)
    assert run.evaluated and not run.invalid and run.violating_pods == 1


def test_a_changed_label_error_is_refused_as_psa_refuses_it() -> None:
    # PSA compares the whole error text: fixing the enforce label while a bad warn label
    # stays changes it, so the update is refused (422) and no pod is evaluated.
    labels = {ENFORCE: "bogus", "pod-security.kubernetes.io/warn": "bogus"}
    run = dryrun.enforce("t", labels, [pod("a")], Level.RESTRICTED)
    assert not run.evaluated and run.warnings() == []
    assert run.invalid.startswith("pod-security.kubernetes.io/warn: invalid level 'bogus'")


def test_exempt_namespace_and_runtime_class_are_skipped_others_are_not() -> None:
    exemptions = Exemptions.of(namespaces=["kube-system"], runtime_classes=["kata"])
    skipped = dryrun.enforce("kube-system", {}, [pod("a")], Level.RESTRICTED, exemptions=exemptions)
    assert not skipped.evaluated and skipped.skipped == "the namespace is exempt"
    pods = [pod("sandboxed", runtimeClassName="kata"), pod("plain")]
    run = dryrun.enforce("t", {}, pods, Level.RESTRICTED, exemptions=exemptions)
    assert run.violating_pods == 1 and run.warnings()[1].startswith("plain: ")


def test_the_pod_cap_reproduces_psas_partial_check_line() -> None:
    run = dryrun.enforce("t", {}, [pod(f"p{i}") for i in range(5)], Level.RESTRICTED, max_pods=3)
    assert run.warnings()[0] == (
        "new PodSecurity enforce level only checked against the first 3 of 5 existing pods"
    )
    assert run.violating_pods == 3
    assert dryrun.enforce("t", {}, [pod("p")] * 5, Level.RESTRICTED).checked == 5
