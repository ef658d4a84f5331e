"""Installing the rule set and keeping it installed.

`install` is the only way rules go in: apply the whole set atomically, then
turn route_localnet on (only after its guard is live), then flush conntrack
so no earlier connection survives. On cgroup v1 nodes the pod cgroups are
tagged with their net_cls classid first (cgroup_match.tag_netcls) and re-tagged on
every check, each rewrite counted. `reconcile_once` compares the live rules with the
rendered ones and re-installs on any difference — a flushed table, a deleted
jump, a stale chain — logging and counting each repair; the agent calls it
every period (podwarden.agent.run), where a failed check or repair is logged,
counted and retried next period while the rules still in place keep failing
closed.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from prometheus_client import Counter, Histogram

from podwarden import logs
from podwarden.netfilter import cgroup_match, conntrack, localnet
from podwarden.netfilter.backends import Backend
from podwarden.netfilter.render import RuleSet
from podwarden.netfilter.runner import Runner

REPAIRS = Counter(
    "podwarden_rules_repairs_total",
    "Times the live interception rules differed from the rendered ones and were re-applied.",
    ["backend"],
)
CHECK_ERRORS = Counter(
    "podwarden_rules_reconcile_errors_total",
    "Reconcile checks or repairs that failed (retried next period).",
    ["backend"],
)
RETAGS = Counter(
    "podwarden_netcls_retags_total",
    "net_cls cgroups below the pod cgroup whose classid the reconcile loop had to rewrite.",
    ["backend"],
)
APPLY_SECONDS = Histogram(
    "podwarden_rules_apply_seconds", "Time to apply the whole rule set.", ["backend"]
)

_log = logs.get("netfilter")


@dataclass
class Installer:
    """One rendered rule set bound to one backend."""

    backend: Backend
    ruleset: RuleSet
    runner: Runner
    flush_conntrack: bool = True

    def install(self) -> None:
        started = time.perf_counter()
        tagged = self.tag_cgroups()  # before the rules: the agent's own cgroup untagged first
        self.backend.apply(self.ruleset)
        if self.ruleset.localnet_guard:
            localnet.enable(runner=self.runner)  # records the value found the first time
        flushed = conntrack.flush_metadata(runner=self.runner) if self.flush_conntrack else 0
        elapsed = time.perf_counter() - started
        APPLY_SECONDS.labels(self.backend.name).observe(elapsed)
        _log.info(
            "rules installed",
            backend=self.backend.name,
            chains=len(self.ruleset.chains),
            conntrack_flushed=flushed,
            netcls_tagged=tagged,
            seconds=round(elapsed, 4),
        )

    def tag_cgroups(self) -> int:
        """On cgroup v1 nodes, (re)tag the pod cgroups; how many classids were written."""
        tag = self.ruleset.netcls
        return 0 if tag is None else cgroup_match.tag_netcls(tag)

    def drift(self) -> str | None:
        """None when the live rules are exactly ours, else a short reason."""
        live = self.backend.live_signature()
        if live is None:
            return "rules missing"
        if live != self.backend.expected_signature(self.ruleset):
            return "rules differ"
        if self.ruleset.localnet_guard and not localnet.route_localnet(runner=self.runner):
            return "route_localnet was turned off"  # DNAT to 127.0.0.1 would blackhole
        return None

    def reconcile_once(self) -> bool:
        """Re-tag pod cgroups (v1), re-install when drifted; True when a repair was made."""
        retagged = self.tag_cgroups()
        if retagged:
            RETAGS.labels(self.backend.name).inc(retagged)
            _log.warning("pod cgroups re-tagged", backend=self.backend.name, cgroups=retagged)
        reason = self.drift()
        if reason is None:
            return retagged > 0
        _log.warning("rules drifted, repairing", backend=self.backend.name, reason=reason)
        self.install()
        REPAIRS.labels(self.backend.name).inc()
        return True


def uninstall(backend: Backend, *, runner: Runner) -> bool:
    """Remove our rules; route_localnet back to its value before we turned it on."""
    guarded = backend.has_localnet_guard()
    removed = backend.remove()
    if guarded:
        localnet.restore(runner=runner)
    _log.info("rules removed", backend=backend.name, found=removed)
    return removed
