"""Workloads are judged by their pod template, found where PSA finds it."""

from __future__ import annotations

import pytest

from podwarden.podsecurity import evaluate, workloads

TEMPLATE = {
    "metadata": {"labels": {"a": "b"}},
    "spec": {"hostNetwork": True, "containers": [{"name": "c"}]},
}


@pytest.mark.parametrize(
    "obj",
    [
        {"kind": kind, "spec": {"template": TEMPLATE}}
        for kind in (
            "Deployment",
            "ReplicaSet",
            "StatefulSet",
            "DaemonSet",
            "Job",
            "ReplicationController",
        )
    ]
    + [
        {"kind": "CronJob", "spec": {"jobTemplate": {"spec": {"template": TEMPLATE}}}},
        {"kind": "PodTemplate", "template": TEMPLATE},
    ],
    ids=lambda o: o["kind"],
)
def test_template_found_and_judged(obj):
    assert workloads.is_workload(obj)
    assert workloads.pod_template(obj) is TEMPLATE
    result = evaluate.evaluate_pod(workloads.pod_template(obj), level="baseline")
    assert result.check_ids == ["hostNamespaces"]


def test_pod_is_its_own_template_and_other_kinds_have_none():
    pod = {"kind": "Pod", **TEMPLATE}
    assert workloads.pod_template(pod) is pod and not workloads.is_workload(pod)
    assert workloads.pod_template({"kind": "Service", "spec": {}}) is None
    assert (
        workloads.pod_template({"kind": "Deployment", "spec": {"template": ["not", "a", "map"]}})
        is None
    )
    assert workloads.pod_template({"kind": "CronJob", "spec": None}) is None
