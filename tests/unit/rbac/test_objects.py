"""Reading RBAC objects: every malformed shape is an RbacError naming object and key;
aggregation follows the aggregation controller (selectors, order, replacement)."""

from __future__ import annotations

from typing import Any

import pytest

from podwarden import rbac
from podwarden.rbac import Rule, objects

from .conftest import binding, role, rule


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ({**role("r", []), "apiVersion": "rbac.authorization.k8s.io/v1beta1"},
         "ClusterRole r: apiVersion: expected rbac.authorization.k8s.io/v1 (v1beta1 and "
         "v1alpha1 were removed in Kubernetes 1.22)"),
        ({**role("r", []), "metadata": {}}, "ClusterRole ?: metadata.name: required"),
        ({**role("r", []), "metadata": "r"},
         "ClusterRole ?: metadata: expected a mapping with a name"),
        (role("r", {"verbs": ["get"]}, namespace="ns"), "Role ns/r: rules: expected a list"),
        (role("r", ["get"], namespace="ns"), "Role ns/r: rules[0]: expected a mapping"),
        (role("r", [{"verbs": "get"}], namespace="ns"),
         "Role ns/r: rules[0].verbs: expected a list of strings"),
        (role("r", [rule(["get"], ["pods"], resourceNames=[1])]),
         "ClusterRole r: rules[0].resourceNames: expected a list of strings"),
        (role("r", [], labels={"a": 1}),
         "ClusterRole r: metadata.labels: expected a mapping of strings"),
        (role("r", [], selectors=[]),
         "ClusterRole r: aggregationRule.clusterRoleSelectors: expected a list of at least one "
         "label selector"),
        (role("r", [], selectors=[{"matchExpressions": [{"key": "a", "operator": "Is"}]}]),
         "ClusterRole r: aggregationRule.clusterRoleSelectors[0].matchExpressions[0].operator: "
         "'Is' (accepted: In, NotIn, Exists, DoesNotExist)"),
        (role("r", [], selectors=[{"matchExpressions": [{"key": "a", "operator": "In"}]}]),
         "ClusterRole r: aggregationRule.clusterRoleSelectors[0].matchExpressions[0].values: "
         "required for operator In"),
        (role("r", [], selectors=[{"matchExpressions": [{"key": "a", "operator": "Exists",
                                                         "values": ["x"]}]}]),
         "ClusterRole r: aggregationRule.clusterRoleSelectors[0].matchExpressions[0].values: "
         "must be empty for operator Exists"),
        (role("r", [], selectors=[{"matchLabels": {"a": ["b"]}}]),
         "ClusterRole r: aggregationRule.clusterRoleSelectors[0].matchLabels: expected a "
         "mapping of strings"),
        (binding("b", "x", [], role_kind="Secret"),
         "ClusterRoleBinding b: roleRef.kind: expected Role or ClusterRole"),
        (binding("b", "x", [], role_kind="Role"),
         "ClusterRoleBinding b: roleRef.kind: a ClusterRoleBinding needs a ClusterRole"),
        (binding("b", "", [], namespace="ns"), "RoleBinding ns/b: roleRef.name: required"),
        ({**binding("b", "x", []), "roleRef": {"kind": "ClusterRole", "name": "x",
                                               "apiGroup": "rbac"}},
         "ClusterRoleBinding b: roleRef.apiGroup: expected rbac.authorization.k8s.io"),
        ({**binding("b", "x", []), "subjects": {"kind": "User"}},
         "ClusterRoleBinding b: subjects: expected a list"),
        (binding("b", "x", [{"kind": "Robot", "name": "r"}], namespace="ns"),
         "RoleBinding ns/b: subjects[0].kind: expected User, Group or ServiceAccount"),
        (binding("b", "x", [{"kind": "User"}]), "ClusterRoleBinding b: subjects[0].name: required"),
        (binding("b", "x", [{"kind": "ServiceAccount", "name": "sa"}]),
         "ClusterRoleBinding b: subjects[0].namespace: required for a ServiceAccount in a "
         "ClusterRoleBinding"),
    ],
)  # fmt: skip
def test_malformed_objects_name_the_object_and_key(doc: dict[str, Any], message: str) -> None:
    with pytest.raises(rbac.RbacError) as err:
        objects.load([doc])
    assert str(err.value) == message


def test_the_same_object_twice_is_an_error_but_a_namesake_elsewhere_is_not() -> None:
    with pytest.raises(rbac.RbacError, match=r"^Role ns/r: metadata.name: defined twice$"):
        objects.load([role("r", [], namespace="ns"), role("r", [], namespace="ns")])
    loaded = objects.load([role("r", [], namespace="ns"), role("r", [], namespace="other")])
    assert set(loaded.roles) == {("ns", "r"), ("other", "r")}


def test_other_kinds_and_other_groups_are_not_rbac() -> None:
    foreign = {**role("r", [rule(["*"], ["*"], ["*"])]), "apiVersion": "example.com/v1"}
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}}
    assert not rbac.is_rbac_object(foreign) and not rbac.is_rbac_object(pod)
    assert rbac.is_rbac_object(role("r", [])) and rbac.is_rbac_object({"kind": "Role"})
    loaded = objects.load([foreign, pod, role("kept", [])])
    assert set(loaded.cluster_roles) == {"kept"}


def test_a_namespaceless_role_and_binding_are_in_default() -> None:
    docs = [
        {**role("r", [], namespace="x"), "metadata": {"name": "r"}},
        {**binding("b", "r", [], namespace="x", role_kind="Role"), "metadata": {"name": "b"}},
    ]
    loaded = objects.load(docs)
    assert set(loaded.roles) == {("default", "r")}
    assert loaded.bindings[0].namespace == "default"


GET_PODS = rule(["get"], ["pods"])
LIST_NODES = rule(["list"], ["nodes"])
WATCH = rule(["watch"], ["pods"])


def _aggregated(selectors: list[dict[str, Any]], *others: dict[str, Any]) -> tuple[Rule, ...]:
    loaded = objects.load([role("combined", [WATCH], selectors=selectors), *others])
    return tuple(loaded.cluster_roles["combined"])


def _rules(*raw: dict[str, Any]) -> tuple[Rule, ...]:
    return objects.load([role("x", list(raw))]).cluster_roles["x"]


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        ({"matchLabels": {"tier": "a"}}, ["one"]),
        ({"matchExpressions": [{"key": "tier", "operator": "In", "values": ["a", "b"]}]},
         ["one", "two"]),
        ({"matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["a"]}]},
         ["three", "two"]),  # no tier label at all is "not in"
        ({"matchExpressions": [{"key": "tier", "operator": "Exists"}]}, ["one", "two"]),
        ({"matchExpressions": [{"key": "tier", "operator": "DoesNotExist"}]}, ["three"]),
        ({"matchLabels": {"tier": "a"},
          "matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["a"]}]}, []),
        ({}, ["one", "three", "two"]),  # an empty selector selects every ClusterRole
    ],
)  # fmt: skip
def test_label_selectors(selector: dict[str, Any], expected: list[str]) -> None:
    one = role("one", [GET_PODS], labels={"tier": "a"})
    two = role("two", [LIST_NODES], labels={"tier": "b"})
    three = role("three", [rule(["delete"], ["pods"])])
    by_name = {"one": GET_PODS, "two": LIST_NODES, "three": rule(["delete"], ["pods"])}
    got = _aggregated([selector], one, two, three)
    assert got == _rules(*(by_name[n] for n in expected))


def test_aggregation_reaches_through_aggregated_roles_whatever_their_order() -> None:
    # admin <- edit <- view, named so that the outer role comes first in every order
    docs = [
        role("a-admin", [], selectors=[{"matchLabels": {"to-admin": "true"}}]),
        role(
            "b-edit",
            [],
            labels={"to-admin": "true"},
            selectors=[{"matchLabels": {"to-edit": "true"}}],
        ),
        role("c-view", [GET_PODS], labels={"to-edit": "true"}),
    ]
    for order in (docs, docs[::-1]):
        loaded = objects.load(order)
        assert loaded.cluster_roles["a-admin"] == _rules(GET_PODS)
        assert loaded.cluster_roles["b-edit"] == _rules(GET_PODS)


def test_an_aggregated_role_never_selects_itself_and_loses_its_own_rules() -> None:
    combined = role(
        "combined", [GET_PODS], labels={"x": "y"}, selectors=[{"matchLabels": {"x": "y"}}]
    )
    assert objects.load([combined]).cluster_roles["combined"] == ()
    plain = role("plain", [GET_PODS], labels={"x": "y"})
    assert objects.load([plain]).cluster_roles["plain"] == _rules(GET_PODS)
