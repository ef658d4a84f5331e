"""Evaluation results: PSA's aggregate wording, and deny on what cannot be read."""

from __future__ import annotations

import pytest

from podwarden.podsecurity import evaluate
from podwarden.podsecurity.levels import PolicyValueError
from tests.unit.podsecurity.pods import restricted_pod, with_container_sc


def test_aggregate_message_matches_psa():
    pod = {"metadata": {"name": "x"}, "spec": {"containers": [{"name": "c"}]}}
    result = evaluate.evaluate_pod(pod, level="restricted", version="v1.30")
    assert result.message() == (
        'violates PodSecurity "restricted:v1.30": allowPrivilegeEscalation != false (container "c" must set '  # noqa: E501
        'securityContext.allowPrivilegeEscalation=false), unrestricted capabilities (container "c" must set '  # noqa: E501
        'securityContext.capabilities.drop=["ALL"]), runAsNonRoot != true (pod or container "c" must set '  # noqa: E501
        'securityContext.runAsNonRoot=true), seccompProfile (pod or container "c" must set '
        'securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost")'
    )
    assert result.message("restricted", "latest").startswith(
        'violates PodSecurity "restricted:latest": '
    )


def test_allowed_result_has_no_message():
    result = evaluate.evaluate_pod(restricted_pod(), level="restricted")
    assert (
        result.allowed
        and result.violations == []
        and result.message() == ""
        and result.warning() == ""
    )


def test_plural_containers_and_multiple_checks():
    pod = with_container_sc(
        with_container_sc(restricted_pod("a", "b"), 0, privileged=True), 1, privileged=True
    )
    assert evaluate.evaluate_pod(pod, level="baseline").detail() == (
        'privileged (containers "a", "b" must not set securityContext.privileged=true)'
    )


@pytest.mark.parametrize(
    "pod",
    [
        {"metadata": {"name": "x"}, "spec": {"containers": {"name": "c"}}},
        {
            "metadata": {"name": "x"},
            "spec": {"containers": [{"name": "c", "securityContext": ["x"]}]},
        },
        {"metadata": [], "spec": {}},
        {"metadata": {}, "spec": "nope"},
        {"metadata": {}, "spec": {"securityContext": {"sysctls": "kernel.x"}}},
    ],
)
def test_malformed_pods_are_refused_not_crashed(pod):
    result = evaluate.evaluate_pod(pod, level="baseline")
    assert not result.allowed
    assert evaluate.MALFORMED_REASON in result.message()


def test_privileged_level_admits_anything_even_malformed():
    assert evaluate.evaluate_pod({"spec": "nope"}, level="privileged").allowed


def test_unknown_level_or_version_raises():
    with pytest.raises(PolicyValueError):
        evaluate.evaluate_pod({}, level="strict")
    with pytest.raises(PolicyValueError):
        evaluate.evaluate_pod({}, level="baseline", version="1.30")
