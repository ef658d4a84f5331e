"""seLinuxOptions (baseline): no custom SELinux user or role, only container types.

Restricted fields: spec.securityContext.seLinuxOptions.{type,user,role} and the
same under spec.containers[*] / spec.initContainers[*].securityContext.
Allowed values: type undefined/"", container_t, container_init_t, container_kvm_t
(v1.31+: also container_engine_t); user and role undefined/"".
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from podwarden.podsecurity.checks.model import (
    ALLOWED,
    Check,
    CheckFn,
    CheckResult,
    VersionedCheck,
    containers,
    mapping,
    name_of,
    sc_field,
    v,
)
from podwarden.podsecurity.levels import Level
from podwarden.podsecurity.messages import containers_phrase, join_quote, pluralize

TYPES_1_0 = frozenset({"", "container_t", "container_init_t", "container_kvm_t"})
TYPES_1_31 = TYPES_1_0 | {"container_engine_t"}


def _checker(allowed_types: frozenset[str]) -> CheckFn:
    def check(meta: Mapping[str, Any], spec: Mapping[str, Any]) -> CheckResult:
        bad_types: set[str] = set()
        flags = {"user": False, "role": False}

        def valid(options: Mapping[str, Any]) -> bool:
            ok = True
            kind = str(options.get("type") or "")
            if kind not in allowed_types:
                ok = False
                bad_types.add(kind)
            for key in ("user", "role"):
                if options.get(key):
                    ok = False
                    flags[key] = True
            return ok

        setters: list[str] = []
        pod_options = mapping(sc_field(spec, "seLinuxOptions"))
        if pod_options is not None and not valid(pod_options):
            setters.append("pod")
        bad = []
        for container in containers(spec):
            options = mapping(sc_field(container, "seLinuxOptions"))
            if options is not None and not valid(options):
                bad.append(name_of(container))
        if bad:
            setters.append(containers_phrase(bad))
        if not setters:
            return ALLOWED
        data = []
        if bad_types:
            types = join_quote(sorted(bad_types))
            data.append(f"{pluralize('type', 'types', len(bad_types))} {types}")
        data.extend(f"{key} may not be set" for key in ("user", "role") if flags[key])
        detail = (
            f"{' and '.join(setters)} set forbidden securityContext.seLinuxOptions: "
            f"{'; '.join(data)}"
        )
        return CheckResult(False, "seLinuxOptions", detail)

    return check


selinux_options_1_0: Callable[[Mapping[str, Any], Mapping[str, Any]], CheckResult] = _checker(
    TYPES_1_0
)
selinux_options_1_31 = _checker(TYPES_1_31)

CHECK = Check(
    "seLinuxOptions",
    Level.BASELINE,
    (VersionedCheck(v(0), selinux_options_1_0), VersionedCheck(v(31), selinux_options_1_31)),
)
