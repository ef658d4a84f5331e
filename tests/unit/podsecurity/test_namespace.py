"""Namespace labels, exemptions and the enforce/audit/warn decision, as PSA."""

from __future__ import annotations

import pytest

from podwarden.podsecurity import namespace
from podwarden.podsecurity.levels import level_version
from tests.unit.podsecurity.pods import restricted_pod, with_container_sc, with_spec

P = namespace.PREFIX


def lv(text):
    level, _, version = text.partition(":")
    return level_version(level, version or "latest")


@pytest.mark.parametrize(
    ("labels", "enforce", "audit", "warn"),
    [
        ({}, "privileged", "privileged", "privileged"),
        ({P + "enforce": "baseline"}, "baseline", "privileged", "baseline"),
        (
            {P + "enforce": "restricted", P + "enforce-version": "v1.25"},
            "restricted:v1.25",
            "privileged",
            "restricted:v1.25",
        ),
        (
            {
                P + "enforce": "restricted",
                P + "enforce-version": "v1.25",
                P + "warn-version": "v1.30",
            },
            "restricted:v1.25",
            "privileged",
            "restricted:v1.30",
        ),
        (
            {P + "enforce": "baseline", P + "warn": "privileged"},
            "baseline",
            "privileged",
            "privileged",
        ),
        (
            {P + "enforce": "baseline", P + "warn": "restricted"},
            "baseline",
            "privileged",
            "restricted",
        ),
        ({P + "enforce": "bogus"}, "restricted", "privileged", "privileged"),
        ({P + "audit": "bogus", P + "warn": "bogus"}, "privileged", "privileged", "privileged"),
        (
            {P + "enforce": "baseline", P + "enforce-version": "v1.x"},
            "baseline:latest",
            "privileged",
            "baseline:latest",
        ),
        (
            {P + "audit": "restricted", P + "audit-version": "v1.22"},
            "privileged",
            "restricted:v1.22",
            "privileged",
        ),
    ],
)
def test_labels_to_policy(labels, enforce, audit, warn):
    policy = namespace.policy_from_labels(labels)
    assert (policy.enforce, policy.audit, policy.warn) == (lv(enforce), lv(audit), lv(warn))


def test_bad_labels_are_reported():
    policy = namespace.policy_from_labels({P + "enforce": "bogus", P + "warn-version": "1.2"})
    assert len(policy.errors) == 2
    assert "pod-security.kubernetes.io/enforce:" in policy.errors[0]


def test_defaults_apply_to_missing_labels():
    defaults = namespace.NamespacePolicy(
        enforce=lv("baseline:v1.30"), audit=lv("restricted"), warn=lv("restricted")
    )
    policy = namespace.policy_from_labels({P + "audit": "baseline"}, defaults=defaults)
    assert (policy.enforce, policy.audit, policy.warn) == (
        lv("baseline:v1.30"),
        lv("baseline"),
        lv("restricted"),
    )


def test_exemptions_in_psa_order():
    ex = namespace.Exemptions.of(
        usernames=["admin"], namespaces=["kube-system"], runtime_classes=["gvisor"]
    )
    assert ex.reason(namespace="kube-system", username="admin") == "namespace"
    assert ex.reason(username="admin", runtime_class="gvisor") == "user"
    assert ex.reason(runtime_class="gvisor") == "runtimeClass"
    assert ex.reason(username="", namespace="", runtime_class="") is None


POLICY = namespace.policy_from_labels(
    {P + "enforce": "baseline", P + "audit": "restricted", P + "warn": "restricted"}
)


def test_decide_refuses_with_psa_message_and_no_warning():
    pod = with_container_sc(restricted_pod("c"), 0, privileged=True)
    decision = namespace.decide(pod, POLICY)
    assert not decision.allowed
    assert (
        decision.message
        == 'violates PodSecurity "baseline:latest": privileged (container "c" must not set securityContext.privileged=true)'  # noqa: E501
    )
    assert decision.warnings == []
    assert decision.audit_annotations[namespace.ENFORCED_POLICY_ANNOTATION] == "baseline:latest"
    assert decision.audit_annotations[namespace.AUDIT_VIOLATIONS_ANNOTATION].startswith(
        'would violate PodSecurity "restricted:latest": privileged'
    )


def test_decide_warns_when_only_warn_level_is_violated():
    pod = with_spec(restricted_pod("c"), securityContext={})
    decision = namespace.decide(pod, POLICY)
    assert decision.allowed
    assert decision.warnings == [
        'would violate PodSecurity "restricted:latest": runAsNonRoot != true (pod or container "c" must set '  # noqa: E501
        'securityContext.runAsNonRoot=true), seccompProfile (pod or container "c" must set '
        'securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost")'
    ]


def test_decide_without_enforce_is_how_workloads_are_judged():
    pod = with_container_sc(restricted_pod("c"), 0, privileged=True)
    decision = namespace.decide(pod, POLICY, enforce=False)
    assert decision.allowed and decision.warnings and decision.enforce_result is None


def test_exempt_runtime_class_skips_evaluation():
    pod = with_spec(
        with_container_sc(restricted_pod("c"), 0, privileged=True), runtimeClassName="gvisor"
    )
    decision = namespace.decide(
        pod, POLICY, exemptions=namespace.Exemptions.of(runtime_classes=["gvisor"])
    )
    assert decision.allowed
    assert decision.audit_annotations == {namespace.EXEMPT_ANNOTATION: "runtimeClass"}
