"""One policy applied to one pod: PSP's `MutatePod` then `ValidatePod`.

Mutation fills in what the pod left unset (pod-level groups, SELinux, seccomp
annotation, runtime class; per container user, group, non-root marker,
capabilities, read-only root, privilege escalation, AppArmor annotation) through
*effective* security contexts: a container inherits runAsUser, runAsGroup,
runAsNonRoot, seLinuxOptions and seccompProfile from the pod, and a default is
written on the container only when it differs from what the container already
inherits. Validation then checks the mutated pod, in PSP's order, producing
PSP's field errors.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from podwarden.podsecurity.psp import capabilities, ids, selinux, sysctls, volumes
from podwarden.podsecurity.psp.fielderr import NULL, FieldError, invalid
from podwarden.podsecurity.psp.model import Policy
from podwarden.podsecurity.psp.profiles import SECCOMP_POD

INHERITED = ("runAsUser", "runAsGroup", "runAsNonRoot", "seLinuxOptions", "seccompProfile")


class _Effective:
    """A container's security context seen through the pod's (PSP's effective accessor)."""

    def __init__(self, pod_sc: Mapping[str, Any] | None, container: dict[str, Any]) -> None:
        self.pod_sc = pod_sc or {}
        self.container = container

    @property
    def own(self) -> dict[str, Any]:
        sc = self.container.get("securityContext")
        if sc is None:
            return {}
        if not isinstance(sc, dict):
            raise TypeError("a container securityContext must be an object")
        return sc

    def get(self, key: str) -> Any:
        value = self.own.get(key)
        if value is None and key in INHERITED:
            value = self.pod_sc.get(key)
        return value

    def set(self, key: str, value: Any) -> None:
        """Write on the container unless it already has that value (own or inherited)."""
        if self.get(key) == value:
            return
        self.set_own(key, value)

    def set_own(self, key: str, value: Any) -> None:
        if value is None and not self.own:
            return
        sc = self.container.get("securityContext")
        if not isinstance(sc, dict):
            sc = self.container["securityContext"] = {}
        if value is None:
            sc.pop(key, None)
        else:
            sc[key] = value


def _pod_sc(pod: dict[str, Any], *, create: bool) -> dict[str, Any]:
    spec = pod.get("spec")
    if not isinstance(spec, dict):
        if not create:
            return {}
        spec = pod["spec"] = {}
    sc = spec.get("securityContext")
    if not isinstance(sc, dict):
        if not create:
            return {}
        sc = spec["securityContext"] = {}
    return sc


def _annotations(pod: Mapping[str, Any]) -> dict[str, str]:
    meta = pod.get("metadata") or {}
    return dict(meta.get("annotations") or {})


def _store_annotations(pod: dict[str, Any], annotations: dict[str, str]) -> None:
    if annotations == _annotations(pod):
        return
    pod.setdefault("metadata", {})["annotations"] = annotations


def mutate_pod(policy: Policy, pod: dict[str, Any]) -> None:
    """Apply the policy's defaults to `pod` in place (callers pass a deep copy)."""
    spec = policy.spec
    pod_sc = _pod_sc(pod, create=False)
    if pod_sc.get("supplementalGroups") is None:
        groups = ids.generate_groups(spec.supplemental_groups)
        if groups:
            _pod_sc(pod, create=True)["supplementalGroups"] = groups
    if _pod_sc(pod, create=False).get("fsGroup") is None:
        fs_group = ids.generate_single(spec.fs_group)
        if fs_group is not None:
            _pod_sc(pod, create=True)["fsGroup"] = fs_group
    if _pod_sc(pod, create=False).get("seLinuxOptions") is None:
        options = selinux.generate(spec.se_linux)
        if options is not None:
            _pod_sc(pod, create=True)["seLinuxOptions"] = options
    annotations = _annotations(pod)
    profile = policy.seccomp.generate(annotations, _pod_sc(pod, create=False))
    if profile:
        annotations[SECCOMP_POD] = profile
    pod_spec = pod.get("spec")
    if not isinstance(pod_spec, dict):
        pod_spec = pod["spec"] = {}
    if spec.runtime_class is not None and pod_spec.get("runtimeClassName") is None:
        default = spec.runtime_class.default_runtime_class_name
        if default is not None:
            pod_spec["runtimeClassName"] = default
    apparmor = policy.apparmor
    for _, container in volumes.visit_containers(pod_spec):
        _mutate_container(policy, _Effective(_pod_sc(pod, create=False), container))
        apparmor.generate(annotations, container)
    _store_annotations(pod, annotations)


def _mutate_container(policy: Policy, sc: _Effective) -> None:
    spec = policy.spec
    if sc.get("runAsUser") is None:
        sc.set("runAsUser", ids.generate_user(spec.run_as_user))
    if sc.get("runAsGroup") is None:
        sc.set("runAsGroup", ids.generate_single(spec.run_as_group))
    if sc.get("seLinuxOptions") is None:
        sc.set("seLinuxOptions", selinux.generate(spec.se_linux))
    if (
        sc.get("runAsNonRoot") is None
        and sc.get("runAsUser") is None
        and spec.run_as_user.rule == "MustRunAsNonRoot"
    ):
        sc.set("runAsNonRoot", True)
    caps = sc.own.get("capabilities")
    sc.set_own("capabilities", capabilities.generate(spec, caps if caps is not None else None))
    if spec.read_only_root_filesystem and sc.own.get("readOnlyRootFilesystem") is None:
        sc.set_own("readOnlyRootFilesystem", True)
    if (
        spec.default_allow_privilege_escalation is not None
        and sc.own.get("allowPrivilegeEscalation") is None
    ):
        sc.set_own("allowPrivilegeEscalation", spec.default_allow_privilege_escalation)
    if not spec.allow_privilege_escalation and sc.own.get("allowPrivilegeEscalation") is None:
        sc.set_own("allowPrivilegeEscalation", False)


def validate_pod(policy: Policy, pod: Mapping[str, Any]) -> list[FieldError]:
    """Every violation of the policy by the (already mutated) pod, in PSP's order."""
    spec = policy.spec
    pod_spec = pod.get("spec") or {}
    pod_sc = pod_spec.get("securityContext") or {}
    if not isinstance(pod_spec, dict) or not isinstance(pod_sc, dict):
        raise TypeError("spec and spec.securityContext must be objects")
    annotations = _annotations(pod)
    sc_path = "spec.securityContext"
    errors: list[FieldError] = []
    fs_group = pod_sc.get("fsGroup")
    errors += ids.validate_groups(
        spec.fs_group, f"{sc_path}.fsGroup", [fs_group] if fs_group is not None else None
    )
    errors += ids.validate_groups(
        spec.supplemental_groups,
        f"{sc_path}.supplementalGroups",
        pod_sc.get("supplementalGroups"),
    )
    errors += policy.seccomp.validate_pod(annotations, pod_sc)
    errors += selinux.validate(
        spec.se_linux, f"{sc_path}.seLinuxOptions", pod_sc.get("seLinuxOptions")
    )
    for key, allowed, words in (
        ("hostNetwork", spec.host_network, "Host network"),
        ("hostPID", spec.host_pid, "Host PID"),
        ("hostIPC", spec.host_ipc, "Host IPC"),
    ):
        if not allowed and pod_spec.get(key) is True:
            errors.append(invalid(f"{sc_path}.{key}", True, f"{words} is not allowed to be used"))
    errors += sysctls.validate(spec, pod_sc)
    errors += volumes.validate(spec, pod_spec)
    if spec.runtime_class is not None:
        name = pod_spec.get("runtimeClassName")
        allowed_names = spec.runtime_class.allowed_runtime_class_names
        if name is not None and "*" not in allowed_names and name not in allowed_names:
            errors.append(invalid("spec.runtimeClassName", str(name), ""))
    for path, container in volumes.visit_containers(pod_spec):
        errors += _validate_container(policy, pod_sc, annotations, path, container)
    return errors


def _validate_container(
    policy: Policy,
    pod_sc: Mapping[str, Any],
    annotations: Mapping[str, str],
    path: str,
    container: dict[str, Any],
) -> list[FieldError]:
    spec = policy.spec
    sc = _Effective(pod_sc, container)
    sc_path = f"{path}.securityContext"
    errors = ids.validate_user(
        spec.run_as_user,
        sc_path,
        run_as_non_root=sc.get("runAsNonRoot"),
        run_as_user=sc.get("runAsUser"),
    )
    group = sc.get("runAsGroup")
    errors += ids.validate_groups(
        spec.run_as_group, sc_path, [group] if group is not None else None
    )
    errors += selinux.validate(spec.se_linux, f"{sc_path}.seLinuxOptions", sc.get("seLinuxOptions"))
    errors += policy.apparmor.validate(annotations, container)
    errors += policy.seccomp.validate_container(annotations, pod_sc, container)
    if not spec.privileged and sc.own.get("privileged") is True:
        errors.append(
            invalid(f"{sc_path}.privileged", True, "Privileged containers are not allowed")
        )
    proc_mount = sc.own.get("procMount") or "Default"
    if proc_mount not in (spec.allowed_proc_mount_types or ["Default"]):
        errors.append(invalid(f"{sc_path}.procMount", proc_mount, "ProcMountType is not allowed"))
    errors += capabilities.validate(spec, f"{sc_path}.capabilities", sc.own.get("capabilities"))
    errors += _validate_host_ports(policy, path, container)
    if spec.read_only_root_filesystem:
        read_only = sc.own.get("readOnlyRootFilesystem")
        if read_only is None:
            errors.append(
                invalid(
                    f"{sc_path}.readOnlyRootFilesystem",
                    NULL,
                    "ReadOnlyRootFilesystem may not be nil and must be set to true",
                )
            )
        elif read_only is not True:
            errors.append(
                invalid(
                    f"{sc_path}.readOnlyRootFilesystem",
                    read_only,
                    "ReadOnlyRootFilesystem must be set to true",
                )
            )
    escalation = sc.own.get("allowPrivilegeEscalation")
    if not spec.allow_privilege_escalation and escalation is not False:
        errors.append(
            invalid(
                f"{sc_path}.allowPrivilegeEscalation",
                NULL if escalation is None else escalation,
                "Allowing privilege escalation for containers is not allowed",
            )
        )
    return errors


def _validate_host_ports(
    policy: Policy, path: str, container: Mapping[str, Any]
) -> list[FieldError]:
    ranges = policy.spec.host_ports
    text = ",".join(str(r.min) if r.min == r.max else f"{r.min}-{r.max}" for r in ranges)
    errors: list[FieldError] = []
    for port in container.get("ports") or []:
        host_port = port.get("hostPort") or 0
        if host_port > 0 and not any(r.min <= host_port <= r.max for r in ranges):
            detail = f"Host port {host_port} is not allowed to be used. Allowed ports: [{text}]"
            errors.append(invalid(f"{path}.hostPort", host_port, detail))
    return errors
