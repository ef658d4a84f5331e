"""Seccomp and AppArmor profiles, driven by the policy's annotations as PSP did.

PSP kept these out of its spec: a policy's annotations
`seccomp.security.alpha.kubernetes.io/{allowedProfileNames,defaultProfileName}`
and `apparmor.security.beta.kubernetes.io/{allowedProfileNames,defaultProfileName}`
restrict and default the pod's profile annotations. Since Kubernetes 1.19 a
seccompProfile *field* counts too: it is read as the equivalent annotation value
(`runtime/default`, `unconfined`, `localhost/<file>`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from podwarden.podsecurity.psp.fielderr import FieldError, forbidden, go_quote

SECCOMP_ALLOWED = "seccomp.security.alpha.kubernetes.io/allowedProfileNames"
SECCOMP_DEFAULT = "seccomp.security.alpha.kubernetes.io/defaultProfileName"
SECCOMP_POD = "seccomp.security.alpha.kubernetes.io/pod"
SECCOMP_CONTAINER_PREFIX = "container.seccomp.security.alpha.kubernetes.io/"
APPARMOR_ALLOWED = "apparmor.security.beta.kubernetes.io/allowedProfileNames"
APPARMOR_DEFAULT = "apparmor.security.beta.kubernetes.io/defaultProfileName"
APPARMOR_CONTAINER_PREFIX = "container.apparmor.security.beta.kubernetes.io/"


def annotation_for_field(profile: Mapping[str, Any] | None) -> str:
    """The annotation value equivalent to a seccompProfile field."""
    if not profile:
        return ""
    kind = profile.get("type")
    if kind == "RuntimeDefault":
        return "runtime/default"
    if kind == "Unconfined":
        return "unconfined"
    if kind == "Localhost":
        return f"localhost/{profile.get('localhostProfile') or ''}"
    return ""


class Seccomp:
    """The seccomp strategy of one policy."""

    def __init__(self, policy_annotations: Mapping[str, str]) -> None:
        allowed = policy_annotations.get(SECCOMP_ALLOWED)
        self.allowed_text = allowed or ""
        self.allow_any = False
        self.allowed: set[str] = set()
        if allowed is not None:
            for name in allowed.split(","):
                if name == "*":
                    self.allow_any = True
                else:
                    self.allowed.add(name)
        self.default = policy_annotations.get(SECCOMP_DEFAULT, "")

    def generate(self, annotations: Mapping[str, str], pod_sc: Mapping[str, Any] | None) -> str:
        """The pod annotation value to set ('' for none)."""
        if annotations.get(SECCOMP_POD):
            return annotations[SECCOMP_POD]
        if pod_sc and pod_sc.get("seccompProfile"):
            return annotation_for_field(pod_sc["seccompProfile"])
        return self.default

    def _allowed(self, profile: str) -> bool:
        if not self.allowed and profile == "":
            return True
        return self.allow_any or profile in self.allowed

    def _check(self, path: str, profile: str) -> list[FieldError]:
        if not self.allow_any and not self.allowed and profile != "":
            return [forbidden(path, "seccomp may not be set")]
        if not self._allowed(profile):
            detail = (
                f"{profile} is not an allowed seccomp profile. Valid values are {self.allowed_text}"
            )
            return [forbidden(path, detail)]
        return []

    def validate_pod(
        self, annotations: Mapping[str, str], pod_sc: Mapping[str, Any] | None
    ) -> list[FieldError]:
        profile = annotations.get(SECCOMP_POD, "")
        if not profile and pod_sc and pod_sc.get("seccompProfile"):
            profile = annotation_for_field(pod_sc["seccompProfile"])
        return self._check(f"pod.metadata.annotations[{SECCOMP_POD}]", profile)

    def validate_container(
        self,
        annotations: Mapping[str, str],
        pod_sc: Mapping[str, Any] | None,
        container: Mapping[str, Any],
    ) -> list[FieldError]:
        name = str(container.get("name", ""))
        key = SECCOMP_CONTAINER_PREFIX + name
        container_sc = container.get("securityContext") or {}
        if key in annotations:
            profile = annotations[key]
        elif container_sc.get("seccompProfile"):
            profile = annotation_for_field(container_sc["seccompProfile"])
        elif SECCOMP_POD in annotations:
            profile = annotations[SECCOMP_POD]
        elif pod_sc and pod_sc.get("seccompProfile"):
            profile = annotation_for_field(pod_sc["seccompProfile"])
        else:
            profile = ""
        return self._check(f"pod.metadata.annotations[{key}]", profile)


class AppArmor:
    """The AppArmor strategy of one policy."""

    def __init__(self, policy_annotations: Mapping[str, str]) -> None:
        allowed = policy_annotations.get(APPARMOR_ALLOWED)
        self.allowed_text = allowed or ""
        self.allowed: set[str] | None = set(allowed.split(",")) if allowed is not None else None
        self.default = policy_annotations.get(APPARMOR_DEFAULT, "")

    def generate(self, annotations: dict[str, str], container: Mapping[str, Any]) -> None:
        """Default the container's profile annotation in place when it is unset."""
        key = APPARMOR_CONTAINER_PREFIX + str(container.get("name", ""))
        if annotations.get(key) or not self.default:
            return
        annotations[key] = self.default

    def validate(
        self, annotations: Mapping[str, str], container: Mapping[str, Any]
    ) -> list[FieldError]:
        if self.allowed is None:
            return []
        key = APPARMOR_CONTAINER_PREFIX + str(container.get("name", ""))
        path = f"pod.metadata.annotations[{key}]"
        profile = annotations.get(key, "")
        if profile == "":
            return [forbidden(path, "AppArmor profile must be set")] if self.allowed else []
        if profile not in self.allowed:
            allowed = go_quote(self.allowed_text)
            detail = f"{profile} is not an allowed profile. Allowed values: {allowed}"
            return [forbidden(path, detail)]
        return []
