"""RBAC evaluation of `use` on podsecuritypolicies, as the RBAC authorizer answers it."""

from __future__ import annotations

import pytest

from podwarden.podsecurity.psp import engine


def role(name, rules, namespace=None, kind="Role", labels=None, aggregate=None):
    meta = {"name": name}
    if namespace:
        meta["namespace"] = namespace
    if labels:
        meta["labels"] = labels
    doc = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": kind,
        "metadata": meta,
        "rules": rules,
    }
    if aggregate:
        doc["aggregationRule"] = {"clusterRoleSelectors": [{"matchLabels": aggregate}]}
    return doc


def binding(name, role_kind, role_name, subjects, namespace=None):
    kind = "RoleBinding" if namespace else "ClusterRoleBinding"
    meta = {"name": name, **({"namespace": namespace} if namespace else {})}
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": kind,
        "metadata": meta,
        "roleRef": {"kind": role_kind, "name": role_name},
        "subjects": subjects,
    }


USE = {"apiGroups": ["policy"], "resources": ["podsecuritypolicies"], "verbs": ["use"]}

DOCS = [
    role("use-restricted", [{**USE, "resourceNames": ["restricted"]}], kind="ClusterRole"),
    role("use-any", [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}], kind="ClusterRole"),
    role(
        "ns-priv", [{**USE, "apiGroups": ["policy.podwarden.io"], "resourceNames": ["priv"]}], "ops"
    ),
    role("agg", [], kind="ClusterRole", aggregate={"psp": "true"}),
    role(
        "agg-part",
        [{**USE, "resourceNames": ["agg-only"]}],
        kind="ClusterRole",
        labels={"psp": "true"},
    ),
    binding(
        "all-auth",
        "ClusterRole",
        "use-restricted",
        [{"kind": "Group", "name": "system:authenticated"}],
    ),
    binding("root", "ClusterRole", "use-any", [{"kind": "User", "name": "root-user"}]),
    binding("ops-priv", "Role", "ns-priv", [{"kind": "ServiceAccount", "name": "deployer"}], "ops"),
    binding("ops-cr", "ClusterRole", "use-any", [{"kind": "Group", "name": "ops-admins"}], "ops"),
    binding("agg-b", "ClusterRole", "agg", [{"kind": "User", "name": "carol"}]),
    {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "ignored"}},
]

CASES = [
    # (policy, user, groups, service_account, namespace, expected)
    ("restricted", "bob", ["system:authenticated"], None, "default", True),
    ("priv", "bob", ["system:authenticated"], None, "default", False),
    ("anything", "root-user", [], None, "x", True),
    ("priv", "bob", [], "deployer", "ops", True),
    ("priv", "bob", [], "deployer", "default", False),
    ("priv", "bob", [], "system:serviceaccount:ops:deployer", "ops", True),
    ("restricted", "", [], "some-sa", "default", True),  # SAs are authenticated
    ("priv", "dave", ["ops-admins"], None, "ops", True),
    ("priv", "dave", ["ops-admins"], None, "dev", False),
    ("agg-only", "carol", [], None, "any", True),
    ("restricted-2", "carol", [], None, "any", False),
    ("x", "eve", ["system:masters"], None, "any", True),
]


@pytest.mark.parametrize(("policy", "user", "groups", "sa", "ns", "expected"), CASES)
def test_can_use(policy, user, groups, sa, ns, expected):
    rbac = engine.Rbac.from_objects(DOCS)
    got = rbac.can_use(policy, user=user, groups=groups, service_account=sa, namespace=ns)
    assert got is expected


def test_allow_all_and_empty():
    assert engine.Rbac.allow_all().can_use(
        "p", user="", groups=(), service_account=None, namespace="n"
    )
    assert not engine.Rbac.from_objects([]).can_use(
        "p", user="u", groups=(), service_account="default", namespace="n"
    )


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        (
            binding("b", "Secret", "x", []),
            "ClusterRoleBinding b: roleRef.kind: expected Role or ClusterRole",
        ),
        (
            binding("b", "Role", "x", []),
            "ClusterRoleBinding b: roleRef.kind: a ClusterRoleBinding needs a ClusterRole",
        ),
        (
            role("r", [{"verbs": "use"}], "ns"),
            "Role ns/r: rules[0].verbs: expected a list of strings",
        ),
        (
            binding("b", "Role", "x", [{"kind": "Robot", "name": "r"}], "ns"),
            "RoleBinding ns/b: subjects[0].kind: expected User, Group or ServiceAccount",
        ),
    ],
)
def test_malformed_rbac_names_the_key(doc, message):
    with pytest.raises(engine.RbacError) as err:
        engine.Rbac.from_objects([doc])
    assert str(err.value) == message


def test_can_use_accepts_a_policy_object():
    (policy,) = engine.load_policies(
        [
            {
                "apiVersion": "policy/v1beta1",
                "kind": "PodSecurityPolicy",
                "metadata": {"name": "restricted"},
                "spec": {
                    "seLinux": {"rule": "RunAsAny"},
                    "runAsUser": {"rule": "RunAsAny"},
                    "supplementalGroups": {"rule": "RunAsAny"},
                    "fsGroup": {"rule": "RunAsAny"},
                },
            }
        ]
    )
    rbac = engine.Rbac.from_objects(DOCS)
    assert rbac.can_use(policy, user="u", groups=["system:authenticated"], namespace="n")


# Aggregation as the clusterrole-aggregation controller leaves it (regressions: the old
# evaluator kept an aggregated role's own rules, ignored matchExpressions and missed a
# role aggregated from another aggregated role when that one came later in the input).
PART = role("part", [{**USE, "resourceNames": ["p"]}], kind="ClusterRole", labels={"psp": "yes"})
TO_CAROL = binding("to-carol", "ClusterRole", "agg", [{"kind": "User", "name": "carol"}])


def _carol_may_use(*docs):
    return engine.Rbac.from_objects([*docs, TO_CAROL]).can_use("p", user="carol", namespace="n")


def test_an_aggregated_roles_own_rules_are_replaced_by_what_it_selects():
    own_only = role("agg", [USE], kind="ClusterRole", aggregate={"psp": "none"})
    assert not _carol_may_use(own_only, PART)
    selects_part = role("agg", [], kind="ClusterRole", aggregate={"psp": "yes"})
    assert _carol_may_use(selects_part, PART)


def test_aggregation_by_match_expressions():
    agg = role("agg", [], kind="ClusterRole")
    expression = {"key": "psp", "operator": "In", "values": ["yes", "also"]}
    agg["aggregationRule"] = {"clusterRoleSelectors": [{"matchExpressions": [expression]}]}
    assert _carol_may_use(agg, PART)
    expression["values"] = ["no"]
    assert not _carol_may_use(agg, PART)


def test_aggregation_through_an_aggregated_role_in_any_order():
    top = role("agg", [], kind="ClusterRole", aggregate={"to-top": "true"})
    middle = role(
        "mid", [], kind="ClusterRole", labels={"to-top": "true"}, aggregate={"psp": "yes"}
    )
    assert _carol_may_use(top, middle, PART)
    assert _carol_may_use(PART, middle, top)
    assert not _carol_may_use(top, PART)  # nothing links them without the middle role


def test_rbac_errors_are_config_errors():
    from podwarden.config import ConfigError

    with pytest.raises(ConfigError, match=r"^RoleBinding ns/b: roleRef.name: required$"):
        engine.Rbac.from_objects([binding("b", "Role", "", [], "ns")])
