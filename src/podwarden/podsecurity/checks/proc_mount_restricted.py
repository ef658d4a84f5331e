"""procMount_restricted (restricted): the default /proc masks, with no exception.

Restricted fields: spec.containers[*].securityContext.procMount,
spec.initContainers[*].securityContext.procMount.
Allowed values: undefined/null, "Default" — also for user-namespaced pods.
Replaces the baseline procMount check at restricted level from v1.35.
"""

from __future__ import annotations

from podwarden.podsecurity.checks import proc_mount
from podwarden.podsecurity.checks.model import Check, VersionedCheck, v
from podwarden.podsecurity.levels import Level

CHECK = Check(
    "procMount_restricted",
    Level.RESTRICTED,
    (VersionedCheck(v(35), proc_mount.proc_mount_1_0, overrides=(proc_mount.ID,)),),
)
