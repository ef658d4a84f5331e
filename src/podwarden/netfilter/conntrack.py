"""Flushing conntrack entries towards metadata addresses when rules go in.

An established connection keeps its NAT decision (none) for its lifetime, so
without this a pod that connected before the rules existed would keep talking
to the real service. Only un-redirected entries are deleted: deleting one
that is already DNAT'ed to the proxy strands its packets (no reverse NAT), so
the client hangs instead of getting its answer. `conntrack -D` exits 1 when
nothing matched; that is success here.
"""

from __future__ import annotations

import re

from podwarden.netfilter import endpoints
from podwarden.netfilter.runner import NetfilterError, Runner

_DELETED = re.compile(r"(\d+) flow entries have been deleted")


def flush_metadata(*, runner: Runner | None = None) -> int:
    """Delete entries to a metadata address that bypass the proxy; returns the count."""
    runner = runner or Runner()
    deleted = 0
    targets = [("ipv4", a) for a in endpoints.METADATA_V4]
    targets += [("ipv6", a) for a in endpoints.METADATA_V6 if not a.startswith("::ffff:")]
    for family, address in targets:
        # --reply-src = the metadata address itself: only connections that were NOT
        # redirected. Those already going to the proxy must survive a re-install
        # (agent restart, repair), or they would hang instead of finishing.
        argv = ["conntrack", "-D", "-f", family, "-d", address, "--reply-src", address]
        proc = runner.run(argv, check=False)
        if proc.returncode not in (0, 1):
            raise NetfilterError(f"conntrack -D -d {address}: {proc.stderr.strip()}")
        deleted += _count(proc.stderr)
    return deleted


def _count(stderr: str) -> int:
    """Parse `… N flow entries have been deleted.` (0 when absent)."""
    found = _DELETED.search(stderr)
    return int(found.group(1)) if found else 0
