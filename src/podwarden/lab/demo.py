"""`podwarden demo` (`make demo`): what a pod reads without podwarden, and with it.

The demo is a list of acts. Each act opens the labs it needs, runs real
commands from a pod, and returns rows (what was expected before and after,
what was seen, whether that held). Later work adds acts (the identity
walkthrough, host-network pods, a proxy that is down) by appending to `ACTS`.

Secrets are never printed: a secret answer shows as "readable" with the
names of its fields; a refusal shows its status and first line.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from podwarden.lab import (
    demo_admission,
    demo_agent,
    demo_firewall,
    demo_identity,
    demo_nodeauth,
    state,
    topology,
)
from podwarden.lab import interception as lab_interception
from podwarden.lab import plan as lab_plan
from podwarden.lab.demo_model import ActContext, Row
from podwarden.lab.topology import Lab

Echo = Callable[[str], None]


@dataclass
class DemoContext:
    """What an act may use: a way to open labs, the output, and the pod count."""

    prefix: str
    state_dir: Path
    pods: int
    echo: Echo
    interception: str = lab_interception.DEFAULT_MODE
    rows: list[Row] = field(default_factory=list)

    @contextmanager
    def lab(self, *, provider: str = "aws", proxy: bool = False) -> Iterator[Lab]:
        """A lab for the act, always torn down (even when the act fails)."""
        with topology.lab(
            provider=provider,
            pods=self.pods,
            proxy=proxy,
            prefix=self.prefix,
            state_dir=self.state_dir,
            interception_mode=self.interception,
        ) as the_lab:
            yield the_lab


@dataclass(frozen=True)
class Act:
    """A named part of the demo: runs against labs it opens, returns its rows."""

    name: str
    run: Callable[[ActContext], list[Row]]


ACTS: list[Act] = [
    Act("metadata firewall: node credentials before and after podwarden", demo_firewall.run),
    Act("pod identity: the kube2iam walkthrough with kubectl and awscli", demo_identity.run),
    Act("node agent: proxy killed, host-network pods, rules flushed by hand", demo_agent.run),
    Act("pod security admission: the PSP walkthrough, webhook to process", demo_admission.run),
    Act("node authorization: node A's credentials and node B's data", demo_nodeauth.run),
]


def run(
    *,
    pods: int = 2,
    prefix: str = lab_plan.DEFAULT_PREFIX,
    state_dir: Path = state.STATE_DIR,
    interception: str = lab_interception.DEFAULT_MODE,
    echo: Echo = print,
    acts: list[Act] | None = None,
) -> bool:
    """Run every act, print the before/after table; True when every expectation held."""
    started = time.monotonic()
    ctx = DemoContext(
        prefix=prefix, state_dir=state_dir, pods=pods, echo=echo, interception=interception
    )
    if state.load(state_dir=state_dir) is not None:
        echo(
            f"a lab is up ({state.state_path(state_dir)}): the demo needs its own;"
            " run `podwarden lab down` first"
        )
        return False
    all_ok = True
    for act in acts if acts is not None else ACTS:
        echo(f"\n=== {act.name} ===")
        try:
            rows = act.run(ctx)
        except Exception as exc:  # an act that crashes is a failed expectation, not a traceback
            echo(f"act failed: {type(exc).__name__}: {exc}")
            rows = [
                Row(
                    act=act.name,
                    check="act completed",
                    before="-",
                    after="-",
                    expected="no error",
                    ok=False,
                )
            ]
        ctx.rows.extend(rows)
        all_ok = all_ok and all(r.ok for r in rows)
    echo("")
    echo(table(ctx.rows))
    took = time.monotonic() - started
    echo("")
    echo(f"{'ALL EXPECTATIONS HELD' if all_ok else 'SOME EXPECTATIONS FAILED'} ({took:.1f}s)")
    return all_ok


def table(rows: list[Row]) -> str:
    """The before/after table, one row per check."""
    header = ("CHECK", "WITHOUT PODWARDEN", "WITH PODWARDEN", "EXPECTED", "OK")
    cells = [
        header,
        *((r.check, r.before, r.after, r.expected, "yes" if r.ok else "NO") for r in rows),
    ]
    widths = [min(max(len(c[i]) for c in cells), 48) for i in range(len(header))]

    def fit(text: str, width: int) -> str:
        return text if len(text) <= width else text[: width - 1] + "…"

    return "\n".join(
        "  ".join(fit(c, w).ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
        for row in cells
    )


def rows_as_json(rows: list[Row]) -> str:
    """The rows as JSON (for tests and CI logs)."""
    return json.dumps([r.__dict__ for r in rows], indent=2)
