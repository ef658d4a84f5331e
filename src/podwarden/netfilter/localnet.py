"""route_localnet for a proxy on 127.0.0.1, and its undo.

DNAT from a pod interface to 127.0.0.1 needs `route_localnet`, which on its
own lets pods reach every loopback service of the node (CVE-2020-8558). The
rule set pairs it with the `localnet_guard` chain, so this module only flips
the sysctl; `rules remove` turns it off again when it removes the guard.
"""

from __future__ import annotations

from podwarden.netfilter.runner import Runner

KEY = "net.ipv4.conf.all.route_localnet"


def set_route_localnet(enabled: bool, *, runner: Runner | None = None) -> None:
    (runner or Runner()).run(["sysctl", "-q", "-w", f"{KEY}={1 if enabled else 0}"])


def route_localnet(*, runner: Runner | None = None) -> bool:
    proc = (runner or Runner()).run(["sysctl", "-n", KEY])
    return proc.stdout.strip() == "1"
