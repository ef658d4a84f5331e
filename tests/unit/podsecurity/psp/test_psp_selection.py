"""Which policy PSP picks: usable ones only, non-mutating first, then by name."""

from __future__ import annotations

import pytest

from conftest import build_pod, build_policy
from podwarden.podsecurity.psp import engine

PERMISSIVE = {}
MUTATING = {"requiredDropCapabilities": ["NET_RAW"]}
STRICT = {"hostNetwork": False, "volumes": ["configMap"]}


def policies(*specs):
    return [build_policy(name, **spec) for name, spec in specs]


def only(*names):
    return lambda policy, namespace: policy in names


SELECTION = [
    # (id, policies, usable, pod, expected chosen or None)
    (
        "non-mutating wins over an earlier mutating one",
        (("a-mutating", MUTATING), ("b-plain", PERMISSIVE)),
        only("a-mutating", "b-plain"),
        build_pod(),
        "b-plain",
    ),
    (
        "first mutating by name when nothing admits unchanged",
        (("z-mut", MUTATING), ("m-mut", {"requiredDropCapabilities": ["MKNOD"]})),
        only("z-mut", "m-mut"),
        build_pod(),
        "m-mut",
    ),
    (
        "name order among non-mutating",
        (("beta", PERMISSIVE), ("alpha", PERMISSIVE)),
        only("alpha", "beta"),
        build_pod(),
        "alpha",
    ),
    (
        "a policy the user may not use is skipped",
        (("alpha", PERMISSIVE), ("beta", MUTATING)),
        only("beta"),
        build_pod(),
        "beta",
    ),
    (
        "a refusing policy is passed over",
        (("alpha", STRICT), ("beta", PERMISSIVE)),
        only("alpha", "beta"),
        build_pod(volumes=[{"name": "v", "emptyDir": {}}]),
        "beta",
    ),
    (
        "nothing usable",
        (("alpha", PERMISSIVE),),
        only(),
        build_pod(),
        None,
    ),
]


@pytest.mark.parametrize(
    ("specs", "usable", "pod", "chosen"),
    [s[1:] for s in SELECTION],
    ids=[s[0] for s in SELECTION],
)
def test_selection(specs, usable, pod, chosen):
    result = engine.admit(pod, policies=policies(*specs), rbac=usable)
    assert result.policy == chosen
    assert result.allowed is (chosen is not None)
    if chosen:
        assert result.pod["metadata"]["annotations"]["podwarden.io/psp"] == chosen


HOST_NETWORK = (
    "spec.securityContext.hostNetwork: Invalid value: true: Host network is not allowed to be used"
)


def test_denial_lists_errors_of_usable_policies_only_in_name_order():
    pod = build_pod(
        hostNetwork=True,
        containers=[{"name": "c", "securityContext": {"privileged": True}}],
    )
    result = engine.admit(
        pod,
        policies=policies(("b", {}), ("a", {"privileged": True}), ("hidden", {})),
        rbac=only("a", "b"),
    )
    assert not result.allowed
    assert result.reasons == [
        HOST_NETWORK,
        HOST_NETWORK,
        "spec.containers[0].securityContext.privileged: Invalid value: true: "
        "Privileged containers are not allowed",
    ]
    assert result.message.startswith(
        "PodSecurityPolicy: unable to admit pod: [spec.securityContext.hostNetwork: "
    )
    assert result.patch is None


def test_no_usable_policy_is_the_famous_empty_list():
    result = engine.admit(build_pod(), policies=policies(("a", {})), rbac=only())
    assert result.message == "PodSecurityPolicy: unable to admit pod: []"


def test_no_policies_at_all():
    result = engine.admit(build_pod(), policies=[], rbac=engine.Rbac.allow_all())
    assert not result.allowed
    assert result.message == "no providers available to validate pod request"


def test_update_mode_accepts_only_policies_that_need_no_change():
    pod = build_pod()
    mutating_only = policies(("a", MUTATING))
    result = engine.admit(pod, policies=mutating_only, rbac=only("a"), allow_mutation=False)
    assert not result.allowed
    assert result.message == "PodSecurityPolicy: unable to admit pod: []"
    both = policies(("a", MUTATING), ("b", PERMISSIVE))
    result = engine.admit(pod, policies=both, rbac=only("a", "b"), allow_mutation=False)
    assert (result.allowed, result.policy, result.patch) == (True, "b", None)
    assert result.pod == pod


def test_rbac_selection_uses_the_pods_service_account():
    docs = [
        {
            "kind": "Role",
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "metadata": {"name": "psp-a", "namespace": "team"},
            "rules": [
                {
                    "apiGroups": ["policy"],
                    "resources": ["podsecuritypolicies"],
                    "verbs": ["use"],
                    "resourceNames": ["a"],
                }
            ],
        },
        {
            "kind": "RoleBinding",
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "metadata": {"name": "bind", "namespace": "team"},
            "roleRef": {"kind": "Role", "name": "psp-a", "apiGroup": "rbac.authorization.k8s.io"},
            "subjects": [{"kind": "ServiceAccount", "name": "builder"}],
        },
    ]
    rbac = engine.Rbac.from_objects(docs)
    pol = policies(("a", MUTATING), ("b", PERMISSIVE))
    pod = build_pod(serviceAccountName="builder")
    result = engine.admit(pod, policies=pol, rbac=rbac, user="alice", namespace="team")
    assert result.policy == "a"
    other_ns = engine.admit(pod, policies=pol, rbac=rbac, user="alice", namespace="prod")
    assert not other_ns.allowed
    default_sa = engine.admit(build_pod(), policies=pol, rbac=rbac, user="alice", namespace="team")
    assert not default_sa.allowed


def test_update_mode_tries_the_recorded_policy_first():
    pod = build_pod(annotations={"podwarden.io/psp": "b"})
    both = policies(("a", PERMISSIVE), ("b", PERMISSIVE))
    result = engine.admit(pod, policies=both, rbac=only("a", "b"), allow_mutation=False)
    assert result.policy == "b"
    created = engine.admit(pod, policies=both, rbac=only("a", "b"))
    assert created.policy == "a"


def test_a_failing_authorizer_grants_nothing():
    def broken(policy, namespace):
        raise RuntimeError("SubjectAccessReview timed out")

    result = engine.admit(build_pod(), policies=policies(("a", PERMISSIVE)), rbac=broken)
    assert not result.allowed
    assert result.message == "PodSecurityPolicy: unable to admit pod: []"
