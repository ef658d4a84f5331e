"""The classic PodSecurityPolicy walkthrough, from the shipped example files."""

from __future__ import annotations

from pathlib import Path

import yaml

from podwarden.podsecurity.psp import engine, patch

EXAMPLES = Path(__file__).resolve().parents[4] / "examples" / "psp-walkthrough"


def load(name):
    return yaml.safe_load((EXAMPLES / name).read_text())


def admit(pod_file, policy_file):
    policies = engine.load_policies([load(policy_file)])
    return engine.admit(load(pod_file), policies=policies, rbac=engine.Rbac.allow_all())


def test_rootfs_pod_is_admitted_with_chroot_and_raw_sockets_dropped():
    result = admit("pod-rootfs.yaml", "policy.yaml")
    assert result.allowed and result.policy == "example"
    assert result.patch == [
        {"op": "add", "path": "/metadata/annotations", "value": {"podwarden.io/psp": "example"}},
        {
            "op": "add",
            "path": "/spec/containers/0/securityContext",
            "value": {"capabilities": {"drop": ["NET_RAW", "SYS_CHROOT"]}},
        },
    ]
    assert patch.apply(load("pod-rootfs.yaml"), result.patch) == result.pod
    for container in result.pod["spec"]["containers"]:
        assert {"SYS_CHROOT", "NET_RAW"} <= set(
            container["securityContext"]["capabilities"]["drop"]
        )


def test_privileged_pod_is_refused_in_psp_words():
    result = admit("pod-privileged.yaml", "policy.yaml")
    assert not result.allowed
    assert result.message == (
        "PodSecurityPolicy: unable to admit pod: [spec.containers[0].securityContext.privileged: "
        "Invalid value: true: Privileged containers are not allowed]"
    )


def test_rootfs_pod_is_refused_under_var_log_only():
    result = admit("pod-rootfs.yaml", "policy-var-log.yaml")
    assert not result.allowed
    assert result.message == (
        "PodSecurityPolicy: unable to admit pod: [spec.volumes[0].hostPath.pathPrefix: "
        'Invalid value: "/": is not allowed to be used]'
    )
