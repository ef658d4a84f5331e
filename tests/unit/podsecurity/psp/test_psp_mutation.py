"""PSP's defaulting, table-driven: what each strategy writes, and the JSON Patch."""

from __future__ import annotations

import copy

import pytest

from conftest import build_pod, build_policy
from podwarden.podsecurity.psp import engine, patch

ANN = "podwarden.io/psp"


def admit_one(pod, policy_annotations=None, **spec):
    policy = build_policy(annotations=policy_annotations, **spec)
    return engine.admit(pod, policies=[policy], rbac=engine.Rbac.allow_all())


def sc0(result):
    return result.pod["spec"]["containers"][0].get("securityContext")


MUTATIONS = [
    (
        "MustRunAs user defaults runAsUser on the container",
        build_pod(),
        {"runAsUser": {"rule": "MustRunAs", "ranges": [{"min": 1000, "max": 2000}]}},
        lambda r: sc0(r) == {"runAsUser": 1000},
    ),
    (
        "MustRunAsNonRoot marks the container",
        build_pod(),
        {"runAsUser": {"rule": "MustRunAsNonRoot"}},
        lambda r: sc0(r) == {"runAsNonRoot": True},
    ),
    (
        "runAsGroup MustRunAs defaults the container's group",
        build_pod(),
        {"runAsGroup": {"rule": "MustRunAs", "ranges": [{"min": 3000, "max": 3000}]}},
        lambda r: sc0(r) == {"runAsGroup": 3000},
    ),
    (
        "fsGroup and supplementalGroups MustRunAs default the pod",
        build_pod(),
        {
            "fsGroup": {"rule": "MustRunAs", "ranges": [{"min": 2000, "max": 3000}]},
            "supplementalGroups": {"rule": "MustRunAs", "ranges": [{"min": 5, "max": 6}]},
        },
        lambda r: (
            r.pod["spec"]["securityContext"] == {"supplementalGroups": [5], "fsGroup": 2000}
            and sc0(r) is None
        ),
    ),
    (
        "MayRunAs generates nothing",
        build_pod(),
        {"fsGroup": {"rule": "MayRunAs", "ranges": [{"min": 1, "max": 9}]}},
        lambda r: "securityContext" not in r.pod["spec"],
    ),
    (
        "seLinux MustRunAs defaults the pod; containers inherit",
        build_pod(),
        {"seLinux": {"rule": "MustRunAs", "seLinuxOptions": {"level": "s0:c1,c2"}}},
        lambda r: (
            r.pod["spec"]["securityContext"] == {"seLinuxOptions": {"level": "s0:c1,c2"}}
            and sc0(r) is None
        ),
    ),
    (
        "capabilities: default add, required drop, sorted and de-duplicated",
        build_pod(
            containers=[
                {"name": "c", "securityContext": {"capabilities": {"add": ["SETUID", "CHOWN"]}}}
            ]
        ),
        {
            "defaultAddCapabilities": ["KILL"],
            "requiredDropCapabilities": ["NET_RAW", "MKNOD"],
            "allowedCapabilities": ["SETUID", "CHOWN"],
        },
        lambda r: (
            sc0(r)
            == {"capabilities": {"add": ["CHOWN", "KILL", "SETUID"], "drop": ["MKNOD", "NET_RAW"]}}
        ),
    ),
    (
        "a default add the container drops is not added",
        build_pod(
            containers=[{"name": "c", "securityContext": {"capabilities": {"drop": ["KILL"]}}}]
        ),
        {"defaultAddCapabilities": ["KILL"]},
        lambda r: sc0(r) == {"capabilities": {"drop": ["KILL"]}},
    ),
    (
        "readOnlyRootFilesystem and escalation defaults",
        build_pod(),
        {"readOnlyRootFilesystem": True, "allowPrivilegeEscalation": False},
        lambda r: sc0(r) == {"readOnlyRootFilesystem": True, "allowPrivilegeEscalation": False},
    ),
    (
        "defaultAllowPrivilegeEscalation",
        build_pod(),
        {"defaultAllowPrivilegeEscalation": False},
        lambda r: sc0(r) == {"allowPrivilegeEscalation": False},
    ),
    (
        "runtime class default",
        build_pod(),
        {
            "runtimeClass": {
                "allowedRuntimeClassNames": ["gvisor"],
                "defaultRuntimeClassName": "gvisor",
            }
        },
        lambda r: r.pod["spec"]["runtimeClassName"] == "gvisor",
    ),
]


@pytest.mark.parametrize(
    ("pod", "spec", "check"), [m[1:] for m in MUTATIONS], ids=[m[0] for m in MUTATIONS]
)
def test_mutation(pod, spec, check):
    original = copy.deepcopy(pod)
    result = admit_one(pod, **spec)
    assert result.allowed, result.reasons
    assert check(result)
    assert pod == original, "the caller's pod must not be changed"
    assert patch.apply(original, result.patch) == result.pod


def test_inherited_values_are_not_rewritten_on_containers():
    pod = build_pod(securityContext={"runAsUser": 1500, "runAsNonRoot": True})
    result = admit_one(pod, runAsUser={"rule": "MustRunAs", "ranges": [{"min": 1000, "max": 2000}]})
    assert result.allowed
    assert sc0(result) is None
    assert result.patch == [{"op": "add", "path": "/metadata/annotations", "value": {ANN: "p"}}]


def test_seccomp_and_apparmor_defaults_become_annotations():
    annotations = {
        "seccomp.security.alpha.kubernetes.io/defaultProfileName": "runtime/default",
        "seccomp.security.alpha.kubernetes.io/allowedProfileNames": "runtime/default",
        "apparmor.security.beta.kubernetes.io/defaultProfileName": "runtime/default",
        "apparmor.security.beta.kubernetes.io/allowedProfileNames": "runtime/default",
    }
    pod = build_pod(annotations={"keep": "me"})
    result = admit_one(pod, policy_annotations=annotations)
    assert result.allowed, result.reasons
    assert result.pod["metadata"]["annotations"] == {
        "keep": "me",
        "seccomp.security.alpha.kubernetes.io/pod": "runtime/default",
        "container.apparmor.security.beta.kubernetes.io/c": "runtime/default",
        ANN: "p",
    }
    assert {"op": "add", "path": "/metadata/annotations/podwarden.io~1psp", "value": "p"} in (
        result.patch
    )


def test_mutation_applies_to_init_and_ephemeral_containers():
    pod = build_pod(
        initContainers=[{"name": "i"}], ephemeralContainers=[{"name": "e", "image": "x"}]
    )
    result = admit_one(pod, requiredDropCapabilities=["NET_RAW"])
    spec = result.pod["spec"]
    for kind in ("initContainers", "containers", "ephemeralContainers"):
        assert spec[kind][0]["securityContext"] == {"capabilities": {"drop": ["NET_RAW"]}}
