"""Every PSP strategy refuses with Kubernetes' exact words and field paths."""

from __future__ import annotations

import pytest

from conftest import build_pod, build_policy
from podwarden.podsecurity.psp import engine, provider

C0 = "spec.containers[0].securityContext"


def pod_with_sc(**sc):
    return build_pod(containers=[{"name": "c", "image": "i", "securityContext": sc}])


CASES = [
    # (id, pod, policy spec overrides, exact reasons)
    (
        "privileged",
        pod_with_sc(privileged=True),
        {},
        [f"{C0}.privileged: Invalid value: true: Privileged containers are not allowed"],
    ),
    ("privileged allowed", pod_with_sc(privileged=True), {"privileged": True}, []),
    (
        "hostNetwork",
        build_pod(hostNetwork=True),
        {},
        [
            "spec.securityContext.hostNetwork: Invalid value: true: "
            "Host network is not allowed to be used"
        ],
    ),
    (
        "hostPID and hostIPC",
        build_pod(hostPID=True, hostIPC=True),
        {},
        [
            "spec.securityContext.hostPID: Invalid value: true: Host PID is not allowed to be used",
            "spec.securityContext.hostIPC: Invalid value: true: Host IPC is not allowed to be used",
        ],
    ),
    ("host namespaces allowed", build_pod(hostNetwork=True), {"hostNetwork": True}, []),
    (
        "hostPort outside ranges",
        build_pod(containers=[{"name": "c", "ports": [{"containerPort": 80, "hostPort": 8080}]}]),
        {"hostPorts": [{"min": 80, "max": 80}, {"min": 9000, "max": 9100}]},
        [
            "spec.containers[0].hostPort: Invalid value: 8080: Host port 8080 is not allowed "
            "to be used. Allowed ports: [80,9000-9100]"
        ],
    ),
    (
        "hostPort with no ranges",
        build_pod(initContainers=[{"name": "i", "ports": [{"hostPort": 1}]}]),
        {},
        [
            "spec.initContainers[0].hostPort: Invalid value: 1: Host port 1 is not allowed "
            "to be used. Allowed ports: []"
        ],
    ),
    (
        "hostPort in range",
        build_pod(containers=[{"name": "c", "ports": [{"hostPort": 9050}]}]),
        {"hostPorts": [{"min": 9000, "max": 9100}]},
        [],
    ),
    (
        "volume type not allowed",
        build_pod(volumes=[{"name": "v", "emptyDir": {}}, {"name": "s", "secret": {}}]),
        {"volumes": ["secret"]},
        ['spec.volumes[0]: Invalid value: "emptyDir": emptyDir volumes are not allowed to be used'],
    ),
    (
        "cephfs maps to cephFS",
        build_pod(volumes=[{"name": "v", "cephfs": {"monitors": ["m"]}}]),
        {"volumes": ["configMap"]},
        ['spec.volumes[0]: Invalid value: "cephFS": cephFS volumes are not allowed to be used'],
    ),
    (
        "hostPath outside allowedHostPaths",
        build_pod(volumes=[{"name": "v", "hostPath": {"path": "/var/logs"}}]),
        {"allowedHostPaths": [{"pathPrefix": "/var/log"}]},
        [
            'spec.volumes[0].hostPath.pathPrefix: Invalid value: "/var/logs": '
            "is not allowed to be used"
        ],
    ),
    (
        "hostPath below a prefix, segment-wise",
        build_pod(volumes=[{"name": "v", "hostPath": {"path": "/var/log/pods/"}}]),
        {"allowedHostPaths": [{"pathPrefix": "/var/log/"}]},
        [],
    ),
    (
        "hostPath backsteps refused",
        build_pod(volumes=[{"name": "v", "hostPath": {"path": "/var/log/../../etc"}}]),
        {"allowedHostPaths": [{"pathPrefix": "/var/log"}]},
        [
            'spec.volumes[0].hostPath.path: Invalid value: "/var/log/../../etc": '
            "must not contain '..'"
        ],
    ),
    (
        "read-only prefix needs read-only mounts everywhere",
        build_pod(
            initContainers=[{"name": "i", "volumeMounts": [{"name": "v", "mountPath": "/a"}]}],
            containers=[
                {
                    "name": "c",
                    "volumeMounts": [
                        {"name": "v", "mountPath": "/b", "readOnly": True},
                        {"name": "v", "mountPath": "/c", "readOnly": False},
                    ],
                }
            ],
            volumes=[{"name": "v", "hostPath": {"path": "/var/log"}}],
        ),
        {"allowedHostPaths": [{"pathPrefix": "/var/log", "readOnly": True}]},
        [
            "spec.initContainers[0].volumeMounts[0].readOnly: Invalid value: false: "
            "must be read-only",
            "spec.containers[0].volumeMounts[1].readOnly: Invalid value: false: must be read-only",
        ],
    ),
    (
        "a writable prefix wins over a read-only one",
        build_pod(
            containers=[{"name": "c", "volumeMounts": [{"name": "v", "mountPath": "/b"}]}],
            volumes=[{"name": "v", "hostPath": {"path": "/foo/bar"}}],
        ),
        {
            "allowedHostPaths": [
                {"pathPrefix": "/foo", "readOnly": True},
                {"pathPrefix": "/foo/bar"},
            ]
        },
        [],
    ),
    (
        "flexVolume driver",
        build_pod(volumes=[{"name": "f", "flexVolume": {"driver": "example/unknown"}}]),
        {"allowedFlexVolumes": [{"driver": "example/foo"}]},
        [
            'spec.volumes[0].driver: Invalid value: "example/unknown": '
            "Flexvolume driver is not allowed to be used"
        ],
    ),
    (
        "CSI driver",
        build_pod(volumes=[{"name": "c", "csi": {"driver": "csi.driver.foo"}}]),
        {"volumes": ["csi"], "allowedCSIDrivers": [{"name": "csi.driver.ok"}]},
        [
            'spec.volumes[0].csi.driver: Invalid value: "csi.driver.foo": '
            "Inline CSI driver is not allowed to be used"
        ],
    ),
    (
        "capability not allowed",
        pod_with_sc(capabilities={"add": ["NET_ADMIN", "CHOWN"]}),
        {"allowedCapabilities": ["CHOWN"]},
        [f'{C0}.capabilities.add: Invalid value: "NET_ADMIN": capability may not be added'],
    ),
    (
        "any capability with *",
        pod_with_sc(capabilities={"add": ["SYS_ADMIN"]}),
        {"allowedCapabilities": ["*"]},
        [],
    ),
    (
        "default-added capability may be requested",
        pod_with_sc(capabilities={"add": ["CHOWN"]}),
        {"defaultAddCapabilities": ["CHOWN"]},
        [],
    ),
    (
        "runAsUser MustRunAs out of range",
        pod_with_sc(runAsUser=1),
        {"runAsUser": {"rule": "MustRunAs", "ranges": [{"min": 999, "max": 999}]}},
        [f"{C0}.runAsUser: Invalid value: 1: must be in the ranges: [{{999 999}}]"],
    ),
    (
        "MustRunAsNonRoot with runAsNonRoot false",
        pod_with_sc(runAsNonRoot=False),
        {"runAsUser": {"rule": "MustRunAsNonRoot"}},
        [f"{C0}.runAsNonRoot: Invalid value: false: must be true"],
    ),
    (
        "MustRunAsNonRoot with uid 0",
        pod_with_sc(runAsUser=0),
        {"runAsUser": {"rule": "MustRunAsNonRoot"}},
        [f"{C0}.runAsUser: Invalid value: 0: running with the root UID is forbidden"],
    ),
    (
        "runAsGroup MustRunAs out of range (pod level, inherited)",
        build_pod(securityContext={"runAsGroup": 5}),
        {"runAsGroup": {"rule": "MustRunAs", "ranges": [{"min": 10, "max": 20}]}},
        [f"{C0}: Invalid value: []int64{{5}}: group 5 must be in the ranges: [{{10 20}}]"],
    ),
    (
        "supplementalGroups MayRunAs",
        build_pod(securityContext={"supplementalGroups": [999]}),
        {
            "supplementalGroups": {
                "rule": "MayRunAs",
                "ranges": [{"min": 50, "max": 50}, {"min": 1000, "max": 1000}],
            }
        },
        [
            "spec.securityContext.supplementalGroups: Invalid value: []int64{999}: "
            "group 999 must be in the ranges: [{50 50} {1000 1000}]"
        ],
    ),
    (
        "fsGroup MustRunAs",
        build_pod(securityContext={"fsGroup": 999}),
        {"fsGroup": {"rule": "MustRunAs", "ranges": [{"min": 1, "max": 1}]}},
        [
            "spec.securityContext.fsGroup: Invalid value: []int64{999}: "
            "group 999 must be in the ranges: [{1 1}]"
        ],
    ),
    (
        "supplementalGroups MustRunAs with an explicitly empty list",
        build_pod(securityContext={"supplementalGroups": []}),
        {"supplementalGroups": {"rule": "MustRunAs", "ranges": [{"min": 1, "max": 5}]}},
        [
            "spec.securityContext.supplementalGroups: Invalid value: []int64(nil): "
            "unable to validate empty groups against required ranges"
        ],
    ),
    (
        "seLinux MustRunAs with another level",
        build_pod(securityContext={"seLinuxOptions": {"level": "bar"}}),
        {"seLinux": {"rule": "MustRunAs", "seLinuxOptions": {"level": "foo"}}},
        [
            'spec.securityContext.seLinuxOptions.level: Invalid value: "bar": must be foo',
            f'{C0}.seLinuxOptions.level: Invalid value: "bar": must be foo',
        ],
    ),
    (
        "seLinux levels compare as category sets",
        build_pod(securityContext={"seLinuxOptions": {"level": "s0:c1,c0"}}),
        {"seLinux": {"rule": "MustRunAs", "seLinuxOptions": {"level": "s0:c0,c1"}}},
        [],
    ),
    (
        "readOnlyRootFilesystem false",
        pod_with_sc(readOnlyRootFilesystem=False),
        {"readOnlyRootFilesystem": True},
        [
            f"{C0}.readOnlyRootFilesystem: Invalid value: false: "
            "ReadOnlyRootFilesystem must be set to true"
        ],
    ),
    (
        "allowPrivilegeEscalation true",
        pod_with_sc(allowPrivilegeEscalation=True),
        {"allowPrivilegeEscalation": False},
        [
            f"{C0}.allowPrivilegeEscalation: Invalid value: true: "
            "Allowing privilege escalation for containers is not allowed"
        ],
    ),
    (
        "procMount Unmasked by default refused",
        pod_with_sc(procMount="Unmasked"),
        {},
        [f'{C0}.procMount: Invalid value: "Unmasked": ProcMountType is not allowed'],
    ),
    (
        "procMount Unmasked allowed",
        pod_with_sc(procMount="Unmasked"),
        {"allowedProcMountTypes": ["Default", "Unmasked"]},
        [],
    ),
    (
        "forbidden sysctl (pattern)",
        build_pod(securityContext={"sysctls": [{"name": "kernel.shm_rmid_forced", "value": "1"}]}),
        {"forbiddenSysctls": ["kernel.*"]},
        [
            "pod.spec.securityContext.sysctls[0]: Forbidden: "
            'sysctl "kernel.shm_rmid_forced" is not allowed'
        ],
    ),
    (
        "unsafe sysctl",
        build_pod(securityContext={"sysctls": [{"name": "kernel.sem", "value": "1"}]}),
        {},
        [
            "pod.spec.securityContext.sysctls[0]: Forbidden: "
            'unsafe sysctl "kernel.sem" is not allowed'
        ],
    ),
    (
        "allowed unsafe sysctl pattern and a safe one",
        build_pod(
            securityContext={
                "sysctls": [
                    {"name": "kernel.msgmax", "value": "1"},
                    {"name": "net.ipv4.ip_unprivileged_port_start", "value": "0"},
                ]
            }
        ),
        {"allowedUnsafeSysctls": ["kernel.msg*"]},
        [],
    ),
    (
        "runtime class not allowed",
        build_pod(runtimeClassName="runc"),
        {"runtimeClass": {"allowedRuntimeClassNames": ["gvisor"]}},
        ['spec.runtimeClassName: Invalid value: "runc"'],
    ),
    (
        "runtime class *",
        build_pod(runtimeClassName="runc"),
        {"runtimeClass": {"allowedRuntimeClassNames": ["*"]}},
        [],
    ),
]


@pytest.mark.parametrize(
    ("pod", "spec", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_strategy_messages(refuse, pod, spec, expected):
    assert refuse(pod, **spec) == expected


SECCOMP_POD = "seccomp.security.alpha.kubernetes.io/pod"
SECCOMP_C = "container.seccomp.security.alpha.kubernetes.io/c"
SECCOMP_ALLOWED = "seccomp.security.alpha.kubernetes.io/allowedProfileNames"
APPARMOR_ALLOWED = "apparmor.security.beta.kubernetes.io/allowedProfileNames"
APPARMOR_C = "container.apparmor.security.beta.kubernetes.io/c"


def test_seccomp_may_not_be_set_without_allowed_profiles(refuse):
    pod = build_pod(annotations={SECCOMP_POD: "foo"})
    assert refuse(pod) == [
        f"pod.metadata.annotations[{SECCOMP_POD}]: Forbidden: seccomp may not be set",
        f"pod.metadata.annotations[{SECCOMP_C}]: Forbidden: seccomp may not be set",
    ]


def test_seccomp_field_counts_as_its_annotation(refuse):
    pod = build_pod(
        containers=[{"name": "c", "securityContext": {"seccompProfile": {"type": "Unconfined"}}}]
    )
    # As in PSP, a policy listing allowed profiles (and no default) also refuses a
    # pod that sets no pod-level profile at all.
    assert refuse(pod, policy_annotations={SECCOMP_ALLOWED: "runtime/default"}) == [
        f"pod.metadata.annotations[{SECCOMP_POD}]: Forbidden:  is not an allowed "
        "seccomp profile. Valid values are runtime/default",
        f"pod.metadata.annotations[{SECCOMP_C}]: Forbidden: unconfined is not an allowed "
        "seccomp profile. Valid values are runtime/default",
    ]


def test_seccomp_allowed_profile_passes(refuse):
    pod = build_pod(annotations={SECCOMP_POD: "runtime/default"})
    assert refuse(pod, policy_annotations={SECCOMP_ALLOWED: "docker/default,runtime/default"}) == []


def test_apparmor_profile_must_be_set_and_allowed(refuse):
    annotations = {APPARMOR_ALLOWED: "runtime/default"}
    assert refuse(build_pod(), policy_annotations=annotations) == [
        f"pod.metadata.annotations[{APPARMOR_C}]: Forbidden: AppArmor profile must be set"
    ]
    pod = build_pod(annotations={APPARMOR_C: "localhost/foo"})
    assert refuse(pod, policy_annotations=annotations) == [
        f"pod.metadata.annotations[{APPARMOR_C}]: Forbidden: localhost/foo is not an allowed "
        'profile. Allowed values: "runtime/default"'
    ]


def test_malformed_pod_is_refused_not_crashed(refuse):
    pod = build_pod(containers=[{"name": "c", "ports": [{"hostPort": "eighty"}]}])
    reasons = refuse(pod)
    assert len(reasons) == 1
    assert reasons[0].startswith('spec: Invalid value: "": malformed pod: TypeError')


WALKTHROUGH_DROPS = {"requiredDropCapabilities": ["SYS_CHROOT", "NET_RAW"]}


def _container(**sc: object) -> dict:
    return {"name": "c", "image": "i", **({"securityContext": sc} if sc else {})}


@pytest.mark.parametrize(
    ("container", "spec", "expected"),
    [
        (
            _container(),
            WALKTHROUGH_DROPS,
            [
                f'{C0}.capabilities: Invalid value: "null": '
                "required capabilities are not set on the securityContext"
            ],
        ),
        (
            _container(),
            {"defaultAddCapabilities": ["CHOWN"]},
            [
                f'{C0}.capabilities: Invalid value: "null": '
                "required capabilities are not set on the securityContext"
            ],
        ),
        (
            _container(capabilities={"drop": ["NET_RAW"]}),
            WALKTHROUGH_DROPS,
            [
                f'{C0}.capabilities.drop: Invalid value: []core.Capability{{"NET_RAW"}}: '
                "SYS_CHROOT is required to be dropped but was not found"
            ],
        ),
        (
            _container(capabilities={}),
            WALKTHROUGH_DROPS,
            [
                f"{C0}.capabilities.drop: Invalid value: []core.Capability(nil): "
                f"{cap} is required to be dropped but was not found"
                for cap in ("SYS_CHROOT", "NET_RAW")
            ],
        ),
        (_container(capabilities={"drop": ["NET_RAW", "SYS_CHROOT"]}), WALKTHROUGH_DROPS, []),
    ],
    ids=["no capabilities", "default add, none set", "one drop missing", "empty", "both dropped"],
)
def test_required_drop_messages_when_validated_without_mutation(container, spec, expected):
    """Validation alone (no defaulting), as PSP validated an already-admitted pod: the
    required drops are checked in PSP's exact words and field paths."""
    policy = build_policy(**spec)
    errors = provider.validate_pod(policy, build_pod(containers=[container]))
    assert [str(e) for e in errors] == expected


def test_on_update_a_pod_missing_required_drops_is_refused_and_with_them_admitted():
    """On update PSP may not mutate: a policy that would have to add the drops is not
    usable, so the pod without them is refused; the pod that carries them passes."""
    policy = build_policy(**WALKTHROUGH_DROPS)
    bare = build_pod(containers=[_container()])
    result = engine.admit(
        bare, policies=[policy], rbac=engine.Rbac.allow_all(), allow_mutation=False
    )
    assert (result.allowed, result.policy) == (False, None)
    carrying = build_pod(containers=[_container(capabilities={"drop": ["SYS_CHROOT", "NET_RAW"]})])
    result = engine.admit(
        carrying, policies=[policy], rbac=engine.Rbac.allow_all(), allow_mutation=False
    )
    assert (result.allowed, result.policy, result.patch) == (True, "p", None)
