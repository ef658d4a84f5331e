"""Open a cluster source and wait, bounded, for its first sync.

Pod identity (beside the proxy) and the admission webhook both start this way:
a client for `--kubeconfig` or `--in-cluster`, a source task filling a
`ClusterView`, and a bounded wait for the first list. A source that stops
before its first sync (an unreadable file, a refused credential) raises its
error at start; a slow one only delays the view, so the caller starts anyway
and answers from what it has (for credentials: nothing until the view syncs).
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from podwarden.kube import client


def open_api(*, kubeconfig: Path | None, in_cluster: bool) -> client.Api:
    """The API client for `--kubeconfig F` or, failing that, `--in-cluster`."""
    if kubeconfig is not None and not in_cluster:
        return client.from_kubeconfig(kubeconfig)
    return client.in_cluster()


async def first_sync(synced: asyncio.Event, source: asyncio.Task[None], *, timeout: float) -> bool:
    """Wait for `synced` at most `timeout` seconds; True once set, False on timeout.

    When `source` ends first, its error is raised (and a clean end counts as not synced).
    """
    waiting = asyncio.create_task(synced.wait())
    done, _ = await asyncio.wait(
        {waiting, source}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
    )
    if waiting not in done:
        waiting.cancel()
        await asyncio.gather(waiting, return_exceptions=True)
    if source in done and not synced.is_set():
        source.result()
        return False
    return synced.is_set()
