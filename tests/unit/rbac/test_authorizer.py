"""The authorizer over objects: scope of bindings, subjects, upstream's reasons, and the
questions a blast-radius report asks of a service account (each paired with one that
must come out the other way)."""

from __future__ import annotations

import pytest

from podwarden import rbac

from .conftest import binding, role, rule

RBAC_GROUP = "rbac.authorization.k8s.io"
SA_USER, SA_GROUPS = rbac.service_account_identity("team", "builder")
OTHER_USER, OTHER_GROUPS = rbac.service_account_identity("ops", "other")

OTHER = {"kind": "ServiceAccount", "name": "other", "namespace": "ops"}
DOCS = [
    role("read-secrets", [rule(["get", "list", "watch"], ["secrets"])]),
    role("pod-maker", [rule(["create"], ["pods"]), rule(["get"], ["pods/log"])], namespace="team"),
    role("escalator", [rule(["escalate", "bind"], ["clusterroles"], [RBAC_GROUP])]),
    role("impersonator", [rule(["impersonate"], ["users", "groups", "serviceaccounts"])]),
    role("cluster-admin", [rule(["*"], ["*"], ["*"]), {"verbs": ["*"], "nonResourceURLs": ["*"]}]),
    role("almost-admin", [rule(["*"], ["*"], ["", "apps"])]),
    # builder: secrets only in team (a RoleBinding of a ClusterRole), pods in team
    binding("rb-secrets", "read-secrets", [{"kind": "ServiceAccount", "name": "builder"}],
            namespace="team"),
    binding("rb-pods", "pod-maker", [{"kind": "ServiceAccount", "name": "builder"}],
            namespace="team", role_kind="Role"),
    # ops/other: cluster-wide powers, through its namespace's group and its own name
    binding("crb-secrets", "read-secrets", [{"kind": "Group",
                                             "name": "system:serviceaccounts:ops"}]),
    binding("crb-escalate", "escalator", [OTHER]),
    binding("crb-impersonate", "impersonator", [{"kind": "User", "name": OTHER_USER}]),
    binding("crb-almost", "almost-admin", [OTHER]),
    binding("crb-admin", "cluster-admin", [{"kind": "User", "name": "root"}]),
    binding("crb-missing", "no-such-role", [{"kind": "User", "name": "ghost"}]),
    binding("rb-missing", "no-such-role", [{"kind": "User", "name": "ghost"}], namespace="team",
            role_kind="Role"),
]  # fmt: skip
AUTHORIZER = rbac.Authorizer.from_objects(DOCS)


def allowed(user: str, groups: tuple[str, ...], **request: str) -> bool:
    return AUTHORIZER.allowed(user=user, groups=groups, **request)


@pytest.mark.parametrize(
    ("question", "request_", "builder", "other"),
    [
        ("read every secret", {"verb": "list", "resource": "secrets"}, False, True),
        ("read secrets in team", {"verb": "get", "resource": "secrets",
                                           "namespace": "team"}, True, True),
        ("read secrets elsewhere", {"verb": "get", "resource": "secrets", "namespace": "prod"},
         False, True),
        ("create pods in team", {"verb": "create", "resource": "pods",
                                          "namespace": "team"}, True, True),
        ("create pods cluster-wide", {"verb": "create", "resource": "pods"}, False, True),
        ("escalate", {"verb": "escalate", "api_group": RBAC_GROUP, "resource": "clusterroles"},
         False, True),
        ("bind", {"verb": "bind", "api_group": RBAC_GROUP, "resource": "clusterroles"},
         False, True),
        ("impersonate users", {"verb": "impersonate", "resource": "users"}, False, True),
        ("`*` on `*`", {"verb": "*", "api_group": "*", "resource": "*"}, False, False),
        ("read pod logs", {"verb": "get", "resource": "pods", "subresource": "log",
                           "namespace": "team"}, True, True),
        ("exec into pods", {"verb": "create", "resource": "pods", "subresource": "exec",
                            "namespace": "team"}, False, True),
    ],
)  # fmt: skip
def test_what_a_service_account_may_do(
    question: str, request_: dict[str, str], builder: bool, other: bool
) -> None:
    assert allowed(SA_USER, SA_GROUPS, **request_) is builder, question
    assert allowed(OTHER_USER, OTHER_GROUPS, **request_) is other, question


def test_cluster_admin_is_the_literal_wildcard_and_covers_urls() -> None:
    root = ("root", ("system:authenticated",))
    assert allowed(*root, verb="*", api_group="*", resource="*")
    assert not allowed(OTHER_USER, OTHER_GROUPS, verb="*", api_group="*", resource="*")
    assert AUTHORIZER.allowed_url(user="root", verb="get", path="/metrics")
    assert not AUTHORIZER.allowed_url(
        user=OTHER_USER, groups=OTHER_GROUPS, verb="get", path="/metrics"
    )


def test_reasons_name_the_binding_role_and_subject_as_upstream() -> None:
    by_sa = AUTHORIZER.authorize(
        rbac.Request(SA_USER, SA_GROUPS, "get", resource="secrets", namespace="team")
    )
    assert by_sa.allowed
    assert by_sa.reason == (
        'RBAC: allowed by RoleBinding "rb-secrets/team" of ClusterRole "read-secrets" to '
        'ServiceAccount "builder/team"'
    )
    by_group = AUTHORIZER.authorize(
        rbac.Request(OTHER_USER, OTHER_GROUPS, "list", resource="secrets")
    )
    assert by_group.reason == (
        'RBAC: allowed by ClusterRoleBinding "crb-secrets" of ClusterRole "read-secrets" to '
        'Group "system:serviceaccounts:ops"'
    )
    assert by_group.grant is not None and by_group.grant.binding.name == "crb-secrets"
    nothing = AUTHORIZER.authorize(rbac.Request("nobody", (), "get", resource="secrets"))
    assert (nothing.allowed, nothing.reason, nothing.grant) == (False, "", None)


def test_a_missing_role_grants_nothing_and_says_so() -> None:
    cluster = AUTHORIZER.authorize(rbac.Request("ghost", (), "get", resource="pods"))
    assert not cluster.allowed
    assert cluster.reason == 'RBAC: clusterrole.rbac.authorization.k8s.io "no-such-role" not found'
    both = AUTHORIZER.authorize(rbac.Request("ghost", (), "get", resource="pods", namespace="team"))
    assert both.reason == (
        'RBAC: [clusterrole.rbac.authorization.k8s.io "no-such-role" not found, '
        'role.rbac.authorization.k8s.io "no-such-role" not found]'
    )


def test_a_role_binding_never_grants_cluster_wide_and_only_in_its_namespace() -> None:
    docs = [
        role("admin", [rule(["*"], ["*"], ["*"])]),
        binding("b", "admin", [{"kind": "User", "name": "u"}], namespace="team"),
    ]
    authorizer = rbac.Authorizer.from_objects(docs)
    assert authorizer.allowed(user="u", verb="get", resource="pods", namespace="team")
    assert not authorizer.allowed(user="u", verb="get", resource="pods", namespace="prod")
    assert not authorizer.allowed(user="u", verb="get", resource="nodes")


def test_an_unqualified_service_account_subject_is_in_the_bindings_namespace() -> None:
    docs = [
        role("view", [rule(["get"], ["pods"])], namespace="team"),
        binding("b", "view", [{"kind": "ServiceAccount", "name": "sa"}], namespace="team",
                role_kind="Role"),
    ]  # fmt: skip
    authorizer = rbac.Authorizer.from_objects(docs)
    assert authorizer.allowed(user="system:serviceaccount:team:sa", verb="get", resource="pods",
                              namespace="team")  # fmt: skip
    assert not authorizer.allowed(user="system:serviceaccount:prod:sa", verb="get",
                                  resource="pods", namespace="team")  # fmt: skip


def test_system_masters_is_not_rbac() -> None:
    masters = ("eve", (rbac.PRIVILEGED_GROUP,))
    assert not allowed(*masters, verb="get", resource="pods", namespace="team")
    assert allowed("root", (rbac.PRIVILEGED_GROUP,), verb="get", resource="pods", namespace="x")
    subjects = AUTHORIZER.allowed_subjects(rbac.Request("", (), "list", resource="secrets"))
    assert subjects[0] == rbac.Subject("Group", rbac.PRIVILEGED_GROUP)


def test_rules_for_and_grants_for_say_what_applies_where() -> None:
    cluster = AUTHORIZER.rules_for(user=SA_USER, groups=SA_GROUPS)
    assert cluster == ()
    in_team = AUTHORIZER.rules_for(user=SA_USER, groups=SA_GROUPS, namespace="team")
    assert in_team == (
        rbac.Rule.of(["get", "list", "watch"], api_groups=[""], resources=["secrets"]),
        rbac.Rule.of(["create"], api_groups=[""], resources=["pods"]),
        rbac.Rule.of(["get"], api_groups=[""], resources=["pods/log"]),
    )
    grants = AUTHORIZER.grants_for(user=OTHER_USER, groups=OTHER_GROUPS)
    assert [g.describe() for g in grants] == [
        'ClusterRoleBinding "crb-secrets" of ClusterRole "read-secrets" to '
        'Group "system:serviceaccounts:ops"',
        'ClusterRoleBinding "crb-escalate" of ClusterRole "escalator" to '
        'ServiceAccount "other/ops"',
        'ClusterRoleBinding "crb-impersonate" of ClusterRole "impersonator" to '
        'User "system:serviceaccount:ops:other"',
        'ClusterRoleBinding "crb-almost" of ClusterRole "almost-admin" to '
        'ServiceAccount "other/ops"',
    ]


@pytest.mark.parametrize(
    ("account", "namespace", "user", "sa_namespace"),
    [
        ("builder", "team", "system:serviceaccount:team:builder", "team"),
        ("system:serviceaccount:ops:deployer", "team", "system:serviceaccount:ops:deployer", "ops"),
    ],
)
def test_a_pods_service_account_identity(
    account: str, namespace: str, user: str, sa_namespace: str
) -> None:
    assert rbac.pod_service_account(account, namespace) == (
        user,
        (
            "system:serviceaccounts",
            f"system:serviceaccounts:{sa_namespace}",
            "system:authenticated",
        ),
    )


@pytest.mark.parametrize(
    ("user", "split"),
    [
        ("system:serviceaccount:ns:name", ("ns", "name")),
        ("system:serviceaccount:ns", None),
        ("system:serviceaccount::name", None),
        ("system:serviceaccount:ns:a:b", None),
        ("alice", None),
    ],
)
def test_split_service_account_user(user: str, split: tuple[str, str] | None) -> None:
    assert rbac.split_service_account_user(user) == split
