"""Every check, one refusal each, with PSA's exact wording (reason and detail)."""

from __future__ import annotations

from typing import Any

import pytest

from podwarden.podsecurity import evaluate
from tests.unit.podsecurity.pods import restricted_pod, with_container_sc, with_spec

BASE = restricted_pod("a", "b")


def _annotated(**notes: str) -> dict[str, Any]:
    pod = restricted_pod("a", "b")
    pod["metadata"]["annotations"] = notes
    return pod


CASES: list[tuple[str, dict[str, Any], str, str, str]] = [
    (
        "privileged",
        with_container_sc(BASE, 1, privileged=True),
        "privileged",
        'container "b" must not set securityContext.privileged=true',
        "baseline",
    ),
    (
        "hostNamespaces",
        with_spec(BASE, hostPID=True, hostNetwork=True, hostIPC=True),
        "host namespaces",
        "hostIPC=true, hostNetwork=true, hostPID=true",
        "baseline",
    ),
    (
        "hostPathVolumes",
        with_spec(
            BASE,
            volumes=[{"name": "root", "hostPath": {"path": "/"}}, {"name": "e", "emptyDir": {}}],
        ),
        "hostPath volumes",
        'volume "root"',
        "baseline",
    ),
    (
        "hostPorts",
        {
            **BASE,
            "spec": {
                **BASE["spec"],
                "containers": [
                    {
                        "name": "a",
                        "ports": [{"containerPort": 80, "hostPort": 8080}, {"hostPort": 9090}],
                    },
                    {"name": "b", "ports": [{"containerPort": 80}]},
                ],
            },
        },
        "hostPort",
        'container "a" uses hostPorts 8080, 9090',
        "baseline",
    ),
    (
        "capabilities_baseline",
        with_container_sc(BASE, 0, capabilities={"add": ["NET_RAW", "CHOWN", "SYS_ADMIN"]}),
        "non-default capabilities",
        'container "a" must not include "NET_RAW", "SYS_ADMIN" in securityContext.capabilities.add',
        "baseline",
    ),
    (
        "procMount",
        with_container_sc(BASE, 0, procMount="Unmasked"),
        "procMount",
        'container "a" must not set securityContext.procMount to "Unmasked"',
        "baseline",
    ),
    (
        "seLinuxOptions",
        with_container_sc(BASE, 0, seLinuxOptions={"type": "spc_t", "user": "root"}),
        "seLinuxOptions",
        'container "a" set forbidden securityContext.seLinuxOptions: type "spc_t"; user may not be set',  # noqa: E501
        "baseline",
    ),
    (
        "seccompProfile_baseline",
        with_container_sc(BASE, 1, seccompProfile={"type": "Unconfined"}),
        "seccompProfile",
        'container "b" must not set securityContext.seccompProfile.type to "Unconfined"',
        "baseline",
    ),
    (
        "appArmorProfile",
        _annotated(**{"container.apparmor.security.beta.kubernetes.io/a": "unconfined"}),
        "forbidden AppArmor profile",
        "annotation must not set AppArmor profile type to "
        '"container.apparmor.security.beta.kubernetes.io/a="unconfined""',
        "baseline",
    ),
    (
        "sysctls",
        with_spec(
            BASE,
            securityContext={
                **BASE["spec"]["securityContext"],
                "sysctls": [
                    {"name": "kernel.msgmax", "value": "1"},
                    {"name": "net.ipv4.tcp_syncookies", "value": "1"},
                ],
            },
        ),
        "forbidden sysctls",
        "kernel.msgmax",
        "baseline",
    ),
    (
        "windowsHostProcess",
        with_container_sc(BASE, 0, windowsOptions={"hostProcess": True}),
        "hostProcess",
        'container "a" must not set securityContext.windowsOptions.hostProcess=true',
        "baseline",
    ),
    (
        "hostProbesAndHostLifecycle",
        {
            **BASE,
            "spec": {
                **BASE["spec"],
                "containers": [
                    {
                        "name": "a",
                        "livenessProbe": {"httpGet": {"host": "169.254.169.254", "port": 80}},
                    },
                    {
                        "name": "b",
                        "lifecycle": {"preStop": {"tcpSocket": {"host": "127.0.0.1", "port": 1}}},
                    },
                ],
            },
        },
        "hostProbesOrHostLifecycle",
        'containers "a", "b" use hostProbesOrHostLifecycles "127.0.0.1", "169.254.169.254"',
        "baseline",
    ),
    (
        "restrictedVolumes",
        with_spec(
            BASE,
            volumes=[
                {"name": "n", "nfs": {"server": "x", "path": "/"}},
                {"name": "h", "hostPath": {"path": "/"}},
            ],
        ),
        "restricted volume types",
        'volumes "n", "h" use restricted volume types "hostPath", "nfs"',
        "restricted",
    ),
    (
        "runAsNonRoot",
        with_container_sc(BASE, 1, runAsNonRoot=False),
        "runAsNonRoot != true",
        'container "b" must not set securityContext.runAsNonRoot=false',
        "restricted",
    ),
    (
        "runAsUser",
        with_spec(BASE, securityContext={**BASE["spec"]["securityContext"], "runAsUser": 0}),
        "runAsUser=0",
        "pod must not set runAsUser=0",
        "restricted",
    ),
    (
        "allowPrivilegeEscalation",
        with_container_sc(BASE, 0, allowPrivilegeEscalation=True),
        "allowPrivilegeEscalation != false",
        'container "a" must set securityContext.allowPrivilegeEscalation=false',
        "restricted",
    ),
    (
        "seccompProfile_restricted",
        with_spec(BASE, securityContext={"runAsNonRoot": True}),
        "seccompProfile",
        'pod or containers "a", "b" must set securityContext.seccompProfile.type to '
        '"RuntimeDefault" or "Localhost"',
        "restricted",
    ),
    (
        "capabilities_restricted",
        with_container_sc(BASE, 1, capabilities={"add": ["NET_BIND_SERVICE", "NET_ADMIN"]}),
        "unrestricted capabilities",
        'container "b" must set securityContext.capabilities.drop=["ALL"]; '
        'container "b" must not include "NET_ADMIN" in securityContext.capabilities.add',
        "restricted",
    ),
    (
        "procMount_restricted",
        with_spec(with_container_sc(BASE, 0, procMount="Unmasked"), hostUsers=False),
        "procMount",
        'container "a" must not set securityContext.procMount to "Unmasked"',
        "restricted",
    ),
]


@pytest.mark.parametrize(
    ("check_id", "pod", "reason", "detail", "level"), CASES, ids=[c[0] for c in CASES]
)
def test_each_check_refuses_with_psa_wording(check_id, pod, reason, detail, level):
    result = evaluate.evaluate_pod(pod, level=level, version="latest")
    assert [(v.check_id, v.reason, v.detail) for v in result.violations] == [
        (check_id, reason, detail)
    ]


def test_every_default_check_has_a_case():
    ids = {c.id for c in evaluate.default_registry().checks.values()}
    assert ids == {c[0] for c in CASES}


def test_clean_pod_passes_every_level_and_version():
    for level in ("privileged", "baseline", "restricted"):
        for minor in range(38):
            assert evaluate.evaluate_pod(BASE, level=level, version=f"v1.{minor}").allowed


@pytest.mark.parametrize(
    ("pod", "version", "allowed"),
    [
        # hostProbesAndHostLifecycle starts at v1.34
        (
            with_spec(
                BASE,
                containers=[
                    {
                        "name": "a",
                        "securityContext": BASE["spec"]["containers"][0]["securityContext"],
                        "readinessProbe": {"tcpSocket": {"host": "10.0.0.1", "port": 1}},
                    }
                ],
            ),
            "v1.33",
            True,
        ),
        (
            with_spec(
                BASE,
                containers=[
                    {
                        "name": "a",
                        "securityContext": BASE["spec"]["containers"][0]["securityContext"],
                        "readinessProbe": {"tcpSocket": {"host": "10.0.0.1", "port": 1}},
                    }
                ],
            ),
            "v1.34",
            False,
        ),
        # procMount is relaxed for user-namespaced pods at baseline from v1.35
        (
            with_spec(with_container_sc(BASE, 0, procMount="Unmasked"), hostUsers=False),
            "v1.34",
            False,
        ),
        (
            with_spec(with_container_sc(BASE, 0, procMount="Unmasked"), hostUsers=False),
            "v1.35",
            True,
        ),
        # container_engine_t allowed from v1.31
        (with_container_sc(BASE, 0, seLinuxOptions={"type": "container_engine_t"}), "v1.30", False),
        (with_container_sc(BASE, 0, seLinuxOptions={"type": "container_engine_t"}), "v1.31", True),
        # sysctl allow-lists grow with the version
        (
            with_spec(BASE, securityContext={"sysctls": [{"name": "net.ipv4.tcp_rmem"}]}),
            "v1.31",
            False,
        ),
        (
            with_spec(BASE, securityContext={"sysctls": [{"name": "net.ipv4.tcp_rmem"}]}),
            "v1.32",
            True,
        ),
        # seccomp before v1.19 is judged by the alpha annotations
        (_annotated(**{"seccomp.security.alpha.kubernetes.io/pod": "unconfined"}), "v1.18", False),
        (_annotated(**{"seccomp.security.alpha.kubernetes.io/pod": "unconfined"}), "v1.19", True),
    ],
)
def test_baseline_versions_change_rules(pod, version, allowed):
    assert evaluate.evaluate_pod(pod, level="baseline", version=version).allowed is allowed


def test_seccomp_annotation_message_v1_0():
    pod = _annotated(**{"container.seccomp.security.alpha.kubernetes.io/a": "unconfined"})
    result = evaluate.evaluate_pod(pod, level="baseline", version="v1.0")
    assert result.detail() == (
        'seccompProfile (forbidden annotation container.seccomp.security.alpha.kubernetes.io/a="unconfined")'  # noqa: E501
    )


def test_windows_pods_are_exempt_from_linux_only_restricted_checks_from_v1_25():
    pod = {
        "metadata": {"name": "w"},
        "spec": {
            "os": {"name": "windows"},
            "securityContext": {"runAsNonRoot": True},
            "containers": [{"name": "c"}],
        },
    }
    old = evaluate.evaluate_pod(pod, level="restricted", version="v1.24")
    assert old.check_ids == [
        "allowPrivilegeEscalation",
        "capabilities_restricted",
        "seccompProfile_restricted",
    ]
    assert evaluate.evaluate_pod(pod, level="restricted", version="v1.25").allowed


def test_volume_without_source_counts_as_empty_dir():
    assert evaluate.evaluate_pod(
        with_spec(BASE, volumes=[{"name": "v"}]), level="restricted"
    ).allowed


def test_localhost_probe_hosts_are_refused_too():
    pod = with_spec(BASE, containers=[{"name": "a", "livenessProbe": {"httpGet": {"host": "::1"}}}])
    assert "hostProbesAndHostLifecycle" in evaluate.evaluate_pod(pod, level="baseline").check_ids


def test_apparmor_annotations_are_listed_unescaped_as_psa_does():
    prefix = "container.apparmor.security.beta.kubernetes.io/"
    notes = {prefix: "bogus", prefix + "a": "", prefix + "b": "runtime/default"}
    notes |= {prefix + "c": "localhost/", prefix + "e": "unconfined", prefix + "f": "unknown"}
    result = evaluate.evaluate_pod(_annotated(**notes), level="baseline")
    assert result.violations[0].reason == "forbidden AppArmor profiles"
    assert result.violations[0].detail == (
        "annotations must not set AppArmor profile type to "
        f'"{prefix}="bogus"", "{prefix}e="unconfined"", "{prefix}f="unknown""'
    )


def test_apparmor_fields_and_annotations_together():
    pod = with_spec(BASE, securityContext={"appArmorProfile": {"type": "Unconfined"}})
    pod = with_container_sc(pod, 1, appArmorProfile={"type": "Unconfined"})
    pod["metadata"]["annotations"] = {"container.apparmor.security.beta.kubernetes.io/a": "x"}
    detail = evaluate.evaluate_pod(pod, level="baseline").violations[0].detail
    assert detail == (
        'pod and container "b" and annotation must not set AppArmor profile type to '
        '"Unconfined", "container.apparmor.security.beta.kubernetes.io/a="x""'
    )
