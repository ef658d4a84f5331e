"""Properties over generated pods: evaluation never crashes, privileged admits all,
and restricted refuses everything baseline refuses (for Linux pods, at every version)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from podwarden.podsecurity import evaluate
from podwarden.podsecurity.levels import level_version

junk = st.one_of(
    st.none(), st.integers(-1, 2), st.text(max_size=3), st.lists(st.integers(), max_size=2)
)
caps = st.lists(
    st.sampled_from(["ALL", "NET_RAW", "CHOWN", "NET_BIND_SERVICE", "SYS_ADMIN"]), max_size=3
)
profile = st.sampled_from(["RuntimeDefault", "Localhost", "Unconfined", ""])
container_sc = st.fixed_dictionaries(
    {},
    optional={
        "privileged": st.booleans(),
        "allowPrivilegeEscalation": st.booleans(),
        "runAsNonRoot": st.booleans(),
        "runAsUser": st.integers(0, 2),
        "procMount": st.sampled_from(["Default", "Unmasked"]),
        "capabilities": st.fixed_dictionaries({}, optional={"add": caps, "drop": caps}),
        "seccompProfile": st.fixed_dictionaries({"type": profile}),
        "appArmorProfile": st.fixed_dictionaries({"type": profile}),
        "seLinuxOptions": st.fixed_dictionaries(
            {}, optional={"type": st.sampled_from(["container_t", "spc_t"]), "user": st.just("u")}
        ),
        "windowsOptions": st.fixed_dictionaries({"hostProcess": st.booleans()}),
        "junk": junk,
    },
)
container = st.fixed_dictionaries(
    {"name": st.sampled_from(["a", "b", "c"])},
    optional={
        "securityContext": st.one_of(container_sc, junk),
        "ports": st.lists(st.fixed_dictionaries({"hostPort": st.integers(0, 2)}), max_size=2),
        "livenessProbe": st.fixed_dictionaries(
            {"httpGet": st.fixed_dictionaries({"host": st.sampled_from(["", "10.0.0.1"])})}
        ),
    },
)
volume = st.fixed_dictionaries(
    {"name": st.sampled_from(["v1", "v2"])},
    optional={
        "hostPath": st.just({"path": "/"}),
        "emptyDir": st.just({}),
        "nfs": st.just({"server": "s"}),
    },
)
spec = st.fixed_dictionaries(
    {"containers": st.lists(container, min_size=1, max_size=3)},
    optional={
        "initContainers": st.lists(container, max_size=2),
        "hostNetwork": st.booleans(),
        "hostPID": st.booleans(),
        "hostUsers": st.booleans(),
        "volumes": st.lists(volume, max_size=3),
        "securityContext": st.fixed_dictionaries(
            {},
            optional={
                "runAsNonRoot": st.booleans(),
                "runAsUser": st.integers(0, 2),
                "seccompProfile": st.fixed_dictionaries({"type": profile}),
                "sysctls": st.lists(
                    st.fixed_dictionaries(
                        {"name": st.sampled_from(["kernel.msgmax", "net.ipv4.tcp_syncookies"])}
                    ),
                    max_size=2,
                ),
            },
        ),
    },
)
pods = st.builds(
    lambda s, notes: {"metadata": {"name": "p", "annotations": notes}, "spec": s},
    spec,
    st.dictionaries(
        st.sampled_from(
            [
                "container.apparmor.security.beta.kubernetes.io/a",
                "seccomp.security.alpha.kubernetes.io/pod",
            ]
        ),
        st.sampled_from(["unconfined", "runtime/default", "localhost/x"]),
        max_size=2,
    ),
)
VERSIONS = ["v1.0", "v1.8", "v1.19", "v1.22", "v1.25", "v1.34", "v1.35", "latest"]


@settings(max_examples=300, deadline=None)
@given(pods)
def test_restricted_refuses_whatever_baseline_refuses(pod):
    for version in VERSIONS:
        assert evaluate.evaluate(pod, level_version("privileged", version)).allowed
        baseline = evaluate.evaluate(pod, level_version("baseline", version))
        restricted = evaluate.evaluate(pod, level_version("restricted", version))
        if not baseline.allowed:
            assert not restricted.allowed, (version, baseline.message())
        for result in (baseline, restricted):
            assert result.allowed == (result.message() == "")
