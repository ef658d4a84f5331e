"""Malformed pods never crash admission: they are decided, and refused when unreadable."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import build_policy
from podwarden.podsecurity.psp import engine

POLICIES = [
    build_policy(
        "a", requiredDropCapabilities=["NET_RAW"], allowedHostPaths=[{"pathPrefix": "/x"}]
    ),
    build_policy(
        "b",
        runAsUser={"rule": "MustRunAs", "ranges": [{"min": 1, "max": 5}]},
        seLinux={"rule": "MustRunAs", "seLinuxOptions": {"level": "s0"}},
        annotations={"apparmor.security.beta.kubernetes.io/allowedProfileNames": "x"},
    ),
]

scalars = st.none() | st.booleans() | st.integers(-2, 70000) | st.sampled_from(["", "/", "x"])
keys = st.sampled_from(
    [
        "containers",
        "initContainers",
        "securityContext",
        "capabilities",
        "add",
        "drop",
        "volumes",
        "hostPath",
        "path",
        "name",
        "ports",
        "hostPort",
        "runAsUser",
        "seLinuxOptions",
        "sysctls",
        "volumeMounts",
        "privileged",
        "hostNetwork",
    ]
)
json_like = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(keys, inner, max_size=4),
    max_leaves=25,
)


@settings(max_examples=300, deadline=None)
@given(spec=st.dictionaries(keys, json_like, max_size=5) | json_like, meta=json_like)
def test_admit_always_decides(spec, meta):
    pod = {"metadata": meta, "spec": spec}
    result = engine.admit(pod, policies=POLICIES, rbac=engine.Rbac.allow_all())
    assert isinstance(result.allowed, bool)
    if not result.allowed:
        assert result.message


def test_hidden_containers_are_not_skipped():
    """A privileged container in a malformed list shape is a refusal, not a pass."""
    for spec in (
        {"containers": {"c": {"securityContext": {"privileged": True}}}},
        {"containers": [{"name": "c", "securityContext": [{"privileged": True}]}]},
        {"containers": ["oops"]},
        {"volumes": {"name": "h", "hostPath": {"path": "/"}}},
    ):
        pod = {"metadata": {"name": "p"}, "spec": spec}
        result = engine.admit(pod, policies=POLICIES, rbac=engine.Rbac.allow_all())
        assert not result.allowed, spec
        assert "malformed pod: TypeError" in result.message
