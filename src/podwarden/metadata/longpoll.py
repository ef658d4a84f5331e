"""A budget for GCE `?wait_for_change=true` long-polls, apart from ordinary requests.

A long-poll holds an upstream connection for minutes. When long-polls shared
the ordinary pool, one pod sending 64 of them took every upstream connection
and every other pod's uncached request timed out (a node-wide outage from one
pod, lasting until the held requests ended). So long-polls get their own
upstream pool (`upstream.Upstream`, `long_poll_pool_size` connections) and this
budget: at most `per_client` held at once by one client address and at most
`total` by all clients together (the size of that pool, so a long-poll never
queues for a connection). Ordinary requests never wait for either.
A refused long-poll is answered at once; a client that leaves releases its
share at once (the proxy cancels its upstream request).
"""

from __future__ import annotations

from typing import Literal

Refusal = Literal["client", "total"]


class LongPollBudget:
    """Counts held long-polls per client address and in total."""

    def __init__(self, *, per_client: int, total: int) -> None:
        if per_client < 1 or total < 1:
            raise ValueError(f"budgets must be >= 1, got {per_client}, {total}")
        self.per_client = per_client
        self.total = total
        self._held: dict[str, int] = {}
        self.in_use = 0

    def acquire(self, client: str) -> Refusal | None:
        """Take one long-poll for `client`; the reason when the budget is spent, else None."""
        held = self._held.get(client, 0)
        if held >= self.per_client:
            return "client"
        if self.in_use >= self.total:
            return "total"
        self._held[client] = held + 1
        self.in_use += 1
        return None

    def release(self, client: str) -> None:
        """Give back one long-poll taken by `client`."""
        held = self._held.get(client, 0)
        if held <= 1:
            self._held.pop(client, None)
        else:
            self._held[client] = held - 1
        if held:
            self.in_use -= 1
