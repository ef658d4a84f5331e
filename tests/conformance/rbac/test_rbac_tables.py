"""Kubernetes' own RBAC test tables, run against `podwarden.rbac`.

The tables are data ported from kubernetes/kubernetes (never its Go code), each
file naming its upstream test function and commit:
- authorizer.yaml, rule_matches.yaml: plugin/pkg/auth/authorizer/rbac/rbac_test.go
  (TestAuthorizer, TestRuleMatches) at 90d6cfcf171c, the v1.31-and-later form of the
  file (its attributes implement the selector methods added in v1.31);
- applies_to.yaml, rules_for.yaml: pkg/registry/rbac/validation/rule_test.go
  (TestAppliesTo, TestDefaultRuleResolver) at fde22c3f9aac;
- subject_locator.yaml: plugin/pkg/auth/authorizer/rbac/subject_locator_test.go
  (TestSubjectLocator) at b1a3f3794a4d;
- aggregation.yaml: pkg/controller/clusterroleaggregation/
  clusterroleaggregation_controller_test.go (TestSyncClusterRole) at 1c9cf914f2f9.
Upstream's pkg/apis/rbac/v1 has no test file for evaluation_helpers.go in the
sources these were ported from; the helpers are tested case by case in
tests/unit/rbac/test_rules.py instead.

Every table counts its cases, so a table that stops loading cannot pass by
running nothing; every case reports all its disagreements in one message.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from podwarden import rbac
from podwarden.rbac import subjects

HERE = Path(__file__).resolve().parent


def table(name: str) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((HERE / name).read_text(encoding="utf-8"))
    return data


def request(raw: dict[str, Any]) -> rbac.Request:
    """A table's request: non-resource when it has a `path`."""
    groups = tuple(raw.get("groups") or ())
    if "path" in raw:
        return rbac.Request(
            raw.get("user", ""), groups, raw["verb"], path=raw["path"], resource_request=False
        )
    return rbac.Request(
        raw.get("user", ""),
        groups,
        verb=raw["verb"],
        api_group=raw.get("group", ""),
        resource=raw.get("resource", ""),
        subresource=raw.get("subresource", ""),
        name=raw.get("name", ""),
        namespace=raw.get("namespace", ""),
    )


def rule(raw: dict[str, Any]) -> rbac.Rule:
    return rbac.Rule.of(
        raw.get("verbs", ()),
        api_groups=raw.get("apiGroups", ()),
        resources=raw.get("resources", ()),
        resource_names=raw.get("resourceNames", ()),
        non_resource_urls=raw.get("nonResourceURLs", ()),
    )


def test_every_table_has_its_upstream_case_count() -> None:
    authorizer = table("authorizer.yaml")["cases"]
    assert [len(c["allowed"]) + len(c["denied"]) for c in authorizer] == [9, 18, 2, 5]
    assert sum(len(c["requests"]) for c in table("rule_matches.yaml")["cases"]) == 70
    assert len(table("applies_to.yaml")["cases"]) == 9
    assert len(table("rules_for.yaml")["cases"]) == 4
    assert sum(len(c["requests"]) for c in table("subject_locator.yaml")["cases"]) == 6
    assert len(table("aggregation.yaml")["cases"]) == 6


@pytest.mark.parametrize("case", table("authorizer.yaml")["cases"], ids=lambda c: c["scenario"])
def test_authorizer(case: dict[str, Any]) -> None:
    authorizer = rbac.Authorizer.from_objects(case["objects"])
    wrong = [
        f"{'restricted' if expected else 'passed'}: {raw}"
        for expected, key in ((True, "allowed"), (False, "denied"))
        for raw in case[key]
        if authorizer.authorize(request(raw)).allowed is not expected
    ]
    assert wrong == []


@pytest.mark.parametrize("case", table("rule_matches.yaml")["cases"], ids=lambda c: c["name"])
def test_rule_matches(case: dict[str, Any]) -> None:
    one = rule(case["rule"])
    wrong = [raw for raw in case["requests"] if one.allows(request(raw)) is not raw["expected"]]
    assert wrong == []


@pytest.mark.parametrize("case", table("applies_to.yaml")["cases"], ids=lambda c: c["name"])
def test_applies_to(case: dict[str, Any]) -> None:
    listed = [rbac.Subject(s["kind"], s["name"], s.get("namespace", "")) for s in case["subjects"]]
    user, groups, namespace = case["user"], case.get("groups", []), case.get("namespace", "")
    matching = [i for i, s in enumerate(listed) if subjects.applies_to(s, user, groups, namespace)]
    assert bool(matching) is case["applies"]
    if case["applies"]:
        assert matching[0] == case["index"]


@pytest.mark.parametrize("case", table("rules_for.yaml")["cases"], ids=lambda c: c["name"])
def test_rules_for(case: dict[str, Any]) -> None:
    authorizer = rbac.Authorizer.from_objects(table("rules_for.yaml")["objects"])
    got = authorizer.rules_for(
        user=case["user"], groups=case.get("groups", []), namespace=case.get("namespace", "")
    )
    assert sorted(got, key=repr) == sorted((rule(r) for r in case["rules"]), key=repr)


@pytest.mark.parametrize("case", table("subject_locator.yaml")["cases"], ids=lambda c: c["name"])
def test_subject_locator(case: dict[str, Any]) -> None:
    authorizer = rbac.Authorizer.from_objects(case["objects"])
    for item in case["requests"]:
        got = authorizer.allowed_subjects(
            request(item["request"]), super_user=case.get("super_user", "")
        )
        expected = [
            rbac.Subject(s["kind"], s["name"], s.get("namespace", "")) for s in item["subjects"]
        ]
        assert list(got) == expected, item["request"]


def _cluster_role(raw: dict[str, Any]) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "apiVersion": rbac.API_VERSION,
        "kind": "ClusterRole",
        "metadata": {"name": raw["name"], "labels": raw.get("labels") or {}},
        "rules": raw["rules"],
    }
    if "selectors" in raw:
        doc["aggregationRule"] = {
            "clusterRoleSelectors": [{"matchLabels": s} for s in raw["selectors"]]
        }
    return doc


@pytest.mark.parametrize("case", table("aggregation.yaml")["cases"], ids=lambda c: c["name"])
def test_aggregation(case: dict[str, Any]) -> None:
    authorizer = rbac.Authorizer.from_objects(_cluster_role(r) for r in case["roles"])
    expected = tuple(rule(r) for rules in case["expected"] for r in rules)
    assert authorizer.cluster_role_rules("combined") == expected
