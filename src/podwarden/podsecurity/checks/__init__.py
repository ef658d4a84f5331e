"""Every Pod Security Standards check, one module each, listed explicitly.

The list is the source of truth (no import-time discovery): adding a check means
adding its module here, and the registry validates the whole list on load.
"""

from __future__ import annotations

from podwarden.podsecurity.checks import (
    allow_privilege_escalation,
    apparmor,
    capabilities_baseline,
    capabilities_restricted,
    host_namespaces,
    host_path_volumes,
    host_ports,
    host_probes,
    privileged,
    proc_mount,
    proc_mount_restricted,
    restricted_volumes,
    run_as_non_root,
    run_as_user,
    seccomp_baseline,
    seccomp_restricted,
    selinux_options,
    sysctls,
    windows_host_process,
)
from podwarden.podsecurity.checks.model import Check

ALL: tuple[Check, ...] = (
    privileged.CHECK,
    host_namespaces.CHECK,
    host_path_volumes.CHECK,
    host_ports.CHECK,
    host_probes.CHECK,
    capabilities_baseline.CHECK,
    proc_mount.CHECK,
    selinux_options.CHECK,
    seccomp_baseline.CHECK,
    apparmor.CHECK,
    sysctls.CHECK,
    windows_host_process.CHECK,
    restricted_volumes.CHECK,
    run_as_non_root.CHECK,
    run_as_user.CHECK,
    allow_privilege_escalation.CHECK,
    seccomp_restricted.CHECK,
    capabilities_restricted.CHECK,
    proc_mount_restricted.CHECK,
)
"""The default checks (PSA's DefaultChecks), baseline and restricted."""
