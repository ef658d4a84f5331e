"""Running netfilter tools: one place that turns a failed command into an error.

`prefix` lets tests and benchmarks run the same backend code inside a network
namespace (`nsenter --net=/run/netns/NAME`) without the code knowing it; the
agent itself runs with no prefix, in the node's namespace.
"""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from dataclasses import dataclass


class NetfilterError(Exception):
    """A netfilter tool failed; the message carries the command and its stderr."""


@dataclass(frozen=True, slots=True)
class Runner:
    """Runs commands, prefixed (e.g. by nsenter) when set."""

    prefix: tuple[str, ...] = ()
    timeout: float = 30.0

    @classmethod
    def in_netns(cls, name: str) -> Runner:
        """A runner for a named namespace; nsenter keeps /sys (cgroup paths) visible."""
        return cls(prefix=("nsenter", f"--net=/run/netns/{name}"))

    def run(
        self, argv: Sequence[str], *, stdin: str | None = None, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        full = [*self.prefix, *argv]
        try:
            proc = subprocess.run(
                full,
                input=stdin,
                capture_output=True,
                text=True,
                timeout=self.timeout,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise NetfilterError(f"{' '.join(full)}: {exc}") from None
        if check and proc.returncode != 0:
            raise NetfilterError(
                f"{' '.join(full)} failed ({proc.returncode}): {proc.stderr.strip()}"
            )
        return proc
