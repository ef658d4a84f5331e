"""PodSecurityPolicy objects: the `policy/v1beta1` schema as pydantic models.

A cluster's existing PSP YAML is accepted unchanged (`policy/v1beta1`, the older
`extensions/v1beta1`) and so is the same spec under podwarden's own CRD group
`policy.podwarden.io`, for clusters where the built-in API is gone. The checks
below are the ones Kubernetes' API validation made when a PSP was created
(rules, ranges, volume names, capability overlaps, escalation defaults): a policy
that the API server would have refused is refused here too, naming the key,
instead of failing later at admission.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from podwarden.podsecurity.psp.profiles import AppArmor, Seccomp

ACCEPTED_API_VERSIONS = ("policy/v1beta1", "extensions/v1beta1")
PODWARDEN_GROUP = "policy.podwarden.io"

FSType = Literal[
    "azureFile",
    "azureDisk",
    "flocker",
    "flexVolume",
    "hostPath",
    "emptyDir",
    "gcePersistentDisk",
    "awsElasticBlockStore",
    "gitRepo",
    "secret",
    "nfs",
    "iscsi",
    "glusterfs",
    "persistentVolumeClaim",
    "rbd",
    "cinder",
    "cephFS",
    "downwardAPI",
    "fc",
    "configMap",
    "vsphereVolume",
    "quobyte",
    "photonPersistentDisk",
    "projected",
    "portworxVolume",
    "scaleIO",
    "storageos",
    "csi",
    "ephemeral",
    "*",
    "none",
]


class _Strict(BaseModel):
    """Unknown keys are errors: a misspelt field must not silently loosen a policy."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class IDRange(_Strict):
    min: int = Field(ge=0)
    max: int = Field(ge=0)

    @model_validator(mode="after")
    def _ordered(self) -> IDRange:
        if self.min > self.max:
            raise ValueError(f"min ({self.min}) must not be greater than max ({self.max})")
        return self


class HostPortRange(_Strict):
    min: int = Field(ge=0, le=65535)
    max: int = Field(ge=0, le=65535)

    @model_validator(mode="after")
    def _ordered(self) -> HostPortRange:
        if self.min > self.max:
            raise ValueError(f"min ({self.min}) must not be greater than max ({self.max})")
        return self


def _ranges_required(rule: str, ranges: list[IDRange], *, needs: tuple[str, ...]) -> None:
    if rule in needs and not ranges:
        raise ValueError(f"rule {rule} requires at least one range in `ranges`")


class RunAsUserStrategy(_Strict):
    rule: Literal["MustRunAs", "MustRunAsNonRoot", "RunAsAny"]
    ranges: list[IDRange] = []

    @model_validator(mode="after")
    def _check(self) -> RunAsUserStrategy:
        _ranges_required(self.rule, self.ranges, needs=("MustRunAs",))
        return self


class GroupStrategy(_Strict):
    """runAsGroup, supplementalGroups and fsGroup share one shape."""

    rule: Literal["MustRunAs", "MayRunAs", "RunAsAny"]
    ranges: list[IDRange] = []

    @model_validator(mode="after")
    def _check(self) -> GroupStrategy:
        _ranges_required(self.rule, self.ranges, needs=("MustRunAs", "MayRunAs"))
        return self


class SELinuxOptions(_Strict):
    user: str = ""
    role: str = ""
    type: str = ""
    level: str = ""


class SELinuxStrategy(_Strict):
    rule: Literal["MustRunAs", "RunAsAny"]
    se_linux_options: SELinuxOptions | None = Field(default=None, alias="seLinuxOptions")

    @model_validator(mode="after")
    def _check(self) -> SELinuxStrategy:
        if self.rule == "MustRunAs" and self.se_linux_options is None:
            raise ValueError("rule MustRunAs requires seLinuxOptions")
        return self


class AllowedHostPath(_Strict):
    path_prefix: str = Field(alias="pathPrefix", min_length=1)
    read_only: bool = Field(default=False, alias="readOnly")

    @model_validator(mode="after")
    def _no_backsteps(self) -> AllowedHostPath:
        if ".." in self.path_prefix.split("/"):
            raise ValueError("pathPrefix must not contain '..'")
        return self


class AllowedFlexVolume(_Strict):
    driver: str = Field(min_length=1)


class AllowedCSIDriver(_Strict):
    name: str = Field(min_length=1)


class RuntimeClassStrategy(_Strict):
    allowed_runtime_class_names: list[str] = Field(alias="allowedRuntimeClassNames")
    default_runtime_class_name: str | None = Field(default=None, alias="defaultRuntimeClassName")

    @model_validator(mode="after")
    def _default_allowed(self) -> RuntimeClassStrategy:
        allowed = self.allowed_runtime_class_names
        default = self.default_runtime_class_name
        if default is not None and "*" not in allowed and default not in allowed:
            raise ValueError(
                f"defaultRuntimeClassName {default!r} must be in allowedRuntimeClassNames"
            )
        return self


class PodSecurityPolicySpec(_Strict):
    privileged: bool = False
    default_add_capabilities: list[str] = Field(default=[], alias="defaultAddCapabilities")
    required_drop_capabilities: list[str] = Field(default=[], alias="requiredDropCapabilities")
    allowed_capabilities: list[str] = Field(default=[], alias="allowedCapabilities")
    volumes: list[FSType] = []
    host_network: bool = Field(default=False, alias="hostNetwork")
    host_ports: list[HostPortRange] = Field(default=[], alias="hostPorts")
    host_pid: bool = Field(default=False, alias="hostPID")
    host_ipc: bool = Field(default=False, alias="hostIPC")
    se_linux: SELinuxStrategy = Field(alias="seLinux")
    run_as_user: RunAsUserStrategy = Field(alias="runAsUser")
    run_as_group: GroupStrategy | None = Field(default=None, alias="runAsGroup")
    supplemental_groups: GroupStrategy = Field(alias="supplementalGroups")
    fs_group: GroupStrategy = Field(alias="fsGroup")
    read_only_root_filesystem: bool = Field(default=False, alias="readOnlyRootFilesystem")
    default_allow_privilege_escalation: bool | None = Field(
        default=None, alias="defaultAllowPrivilegeEscalation"
    )
    # The API server defaulted an unset allowPrivilegeEscalation to true.
    allow_privilege_escalation: bool = Field(default=True, alias="allowPrivilegeEscalation")
    allowed_host_paths: list[AllowedHostPath] = Field(default=[], alias="allowedHostPaths")
    allowed_flex_volumes: list[AllowedFlexVolume] = Field(default=[], alias="allowedFlexVolumes")
    allowed_csi_drivers: list[AllowedCSIDriver] = Field(default=[], alias="allowedCSIDrivers")
    allowed_unsafe_sysctls: list[str] = Field(default=[], alias="allowedUnsafeSysctls")
    forbidden_sysctls: list[str] = Field(default=[], alias="forbiddenSysctls")
    allowed_proc_mount_types: list[Literal["Default", "Unmasked"]] = Field(
        default=[], alias="allowedProcMountTypes"
    )
    runtime_class: RuntimeClassStrategy | None = Field(default=None, alias="runtimeClass")

    @model_validator(mode="after")
    def _consistent(self) -> PodSecurityPolicySpec:
        if self.default_allow_privilege_escalation and not self.allow_privilege_escalation:
            raise ValueError(
                "defaultAllowPrivilegeEscalation: Cannot set DefaultAllowPrivilegeEscalation "
                "to true without also setting AllowPrivilegeEscalation to true"
            )
        dropped = set(self.required_drop_capabilities)
        for key, listed in (
            ("defaultAddCapabilities", self.default_add_capabilities),
            ("allowedCapabilities", self.allowed_capabilities),
        ):
            both = sorted(dropped.intersection(listed))
            if both:
                raise ValueError(
                    f"{key}: capability {both[0]} is listed in {key} and requiredDropCapabilities"
                )
        if "*" in self.default_add_capabilities:
            raise ValueError("defaultAddCapabilities: '*' is only allowed in allowedCapabilities")
        overlap = sorted(set(self.allowed_unsafe_sysctls) & set(self.forbidden_sysctls))
        if overlap:
            raise ValueError(
                f"allowedUnsafeSysctls: sysctl {overlap[0]!r} is also in forbiddenSysctls"
            )
        for key, patterns in (
            ("allowedUnsafeSysctls", self.allowed_unsafe_sysctls),
            ("forbiddenSysctls", self.forbidden_sysctls),
        ):
            for pattern in patterns:
                if "*" in pattern[:-1] or not pattern:
                    raise ValueError(
                        f"{key}: {pattern!r} is not a sysctl name or a prefix ending in '*'"
                    )
        return self


class ObjectMeta(BaseModel):
    """Only the metadata PSP reads; everything else a cluster adds is ignored."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    name: str = Field(min_length=1)
    annotations: dict[str, str] = {}


class PodSecurityPolicyObject(_Strict):
    api_version: str = Field(alias="apiVersion")
    kind: Literal["PodSecurityPolicy"]
    metadata: ObjectMeta
    spec: PodSecurityPolicySpec


@dataclass(frozen=True)
class Policy:
    """A loaded policy: its name, the annotations seccomp/AppArmor read, and the spec."""

    name: str
    spec: PodSecurityPolicySpec
    annotations: dict[str, str] = field(default_factory=dict)
    api_version: str = "policy/v1beta1"

    @cached_property
    def seccomp(self) -> Seccomp:
        """The seccomp strategy, parsed once from the annotations."""
        return Seccomp(self.annotations)

    @cached_property
    def apparmor(self) -> AppArmor:
        """The AppArmor strategy, parsed once from the annotations."""
        return AppArmor(self.annotations)
