"""Is a client address one of this network namespace's own? (host-network callers)

A request whose source address belongs to the node itself comes from a
host-network process (redirected by the agent's cgroup rules) or from the node:
no pod owns such an address, so identity answers "no pod" at once instead of
waiting `--address-wait` for a watch event that will never come. The test is a
bind to the address, which the kernel allows only for local addresses; when
`ip_nonlocal_bind` is on the test proves nothing and is skipped (the caller then
waits as for any unknown address — slower, never wrong). Loopback addresses
take the normal path too: a redirected host-network request keeps the node's own
source address, and on a single host (tests, plain Docker) loopback addresses
stand in for pods.
"""

from __future__ import annotations

import ipaddress
import socket
import time
from pathlib import Path

CACHE_SECONDS = 30.0
_NONLOCAL_BIND = {
    4: Path("/proc/sys/net/ipv4/ip_nonlocal_bind"),
    6: Path("/proc/sys/net/ipv6/ip_nonlocal_bind"),
}
_cache: dict[str, tuple[float, bool]] = {}


def is_local(address: str, *, now: float | None = None) -> bool:
    """True when `address` is assigned in this network namespace (cached briefly)."""
    moment = time.monotonic() if now is None else now
    cached = _cache.get(address)
    if cached is not None and moment - cached[0] < CACHE_SECONDS:
        return cached[1]
    answer = _probe(address)
    if len(_cache) > 4096:
        _cache.clear()
    _cache[address] = (moment, answer)
    return answer


def _probe(address: str) -> bool:
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return False
    if parsed.is_loopback:
        return False  # redirected host traffic keeps the node's own source address; loopback
        # addresses stand in for pod addresses in single-host set-ups and tests
    if _nonlocal_bind_enabled(parsed.version):
        return False
    family = socket.AF_INET6 if parsed.version == 6 else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM) as probe:
        try:
            probe.bind((address, 0))
        except OSError:
            return False
    return True


def _nonlocal_bind_enabled(version: int) -> bool:
    try:
        return _NONLOCAL_BIND[version].read_text().strip() != "0"
    except OSError:
        return True  # cannot tell: do not trust the bind test
