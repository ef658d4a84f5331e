"""The upstream node authorizer's test tables, run against podwarden's engine.

The tables are ported as data in `authorizer.yaml` from kubernetes/kubernetes
plugin/pkg/auth/authorizer/node/node_authorizer_test.go as it stands on the master
branch read in early 2026 (the AuthorizeNodeWithSelectors era: each case runs with
selector authorization disabled, v1.31 rules, and enabled, the latest rules).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from podwarden.api.authorization import Attributes, parse_field_selector
from podwarden.nodeauth import versions
from podwarden.nodeauth.decide import NodeAuthorizer
from podwarden.nodeauth.populate import ClusterState
from podwarden.testing import clusters

TABLES = yaml.safe_load((Path(__file__).parent / "authorizer.yaml").read_text())


def attributes(spec: dict[str, Any]) -> Attributes:
    return Attributes(
        user=f"system:node:{spec['user']}",
        groups=("system:nodes",),
        verb=spec["verb"],
        api_group=spec.get("group", ""),
        resource=spec["resource"],
        subresource=spec.get("subresource", ""),
        namespace=spec.get("namespace", ""),
        name=spec.get("name", ""),
        field_selector=parse_field_selector(spec.get("fieldSelector", "")),
    )


@pytest.fixture(scope="module")
def sample_state() -> ClusterState:
    state = ClusterState()
    for obj in clusters.upstream_sample(TABLES["scenario"]):
        state.apply(obj)
    return state


def _runs() -> list[Any]:
    runs = []
    for case in TABLES["cases"]:
        variants = [case["variant"]] if "variant" in case else list(TABLES["variants"])
        for variant in variants:
            runs.append(pytest.param(case, variant, id=f"{case['name']}_{variant}"))
    return runs


def test_the_tables_cover_both_feature_variants():
    runs = _runs()
    assert len(runs) > 150
    assert {run.values[1] for run in runs} == {"selector_disabled", "selector_enabled"}


@pytest.mark.parametrize(("case", "variant"), _runs())
def test_upstream_node_authorizer_table(sample_state, case, variant):
    rules = versions.parse(TABLES["variants"][variant])
    decision = NodeAuthorizer(sample_state.graph, rules).authorize(attributes(case["attrs"]))
    assert decision.outcome == case["expect"], decision.reason


def _secret_get(node: str, name: str, resource: str = "secrets") -> Attributes:
    return Attributes(
        user=f"system:node:{node}",
        groups=("system:nodes",),
        verb="get",
        resource=resource,
        namespace="ns1",
        name=name,
    )


def _pod(spec: dict[str, Any], **extra: Any) -> dict[str, Any]:
    volumes = [{"name": s, "secret": {"secretName": s}} for s in spec.get("secrets", [])]
    pod = {
        "kind": "Pod",
        "metadata": {"name": spec["name"], "namespace": spec["namespace"], "uid": "u"},
        "spec": {"nodeName": spec["node"], "volumes": volumes},
    }
    pod["spec"].update(extra)
    return pod


def test_upstream_shared_resources_table():
    table = TABLES["shared_resources"]
    state = ClusterState()
    for spec in table["pods"]:
        state.apply(_pod(spec))
    authorizer = NodeAuthorizer(state.graph)
    for case in table["cases"]:
        got = authorizer.authorize(_secret_get(case["node"], case["secret"]))
        assert got.outcome == case["expect"], case
    pod3 = next(spec for spec in table["pods"] if spec["node"] == "node3")
    state.apply(
        _pod({**pod3, "secrets": []}) | {"metadata": {**_pod(pod3)["metadata"], "uid": "u2"}}
    )
    for case in table["after_pod3_loses_volumes"]:
        got = authorizer.authorize(_secret_get(case["node"], case["secret"]))
        assert got.outcome == case["expect"], case


def test_upstream_ephemeral_containers_table():
    table = TABLES["ephemeral_containers"]
    original = _pod(table["pod"])
    state = ClusterState()
    authorizer = NodeAuthorizer(state.graph)
    for case in table["cases"]:
        state.apply(original)  # upstream updates from the original pod each time
        if "ephemeral" in case:
            kind, name = next(iter(case["ephemeral"].items()))
            container = {"name": "eph", "image": "x", "envFrom": [{kind: {"name": name}}]}
            state.apply(_pod(table["pod"], ephemeralContainers=[container]))
        if "secret" in case:
            got = authorizer.authorize(_secret_get(case["node"], case["secret"]))
        else:
            got = authorizer.authorize(_secret_get(case["node"], case["configmap"], "configmaps"))
        assert got.outcome == case["expect"], case
