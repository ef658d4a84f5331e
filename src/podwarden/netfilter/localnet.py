"""route_localnet for a proxy on 127.0.0.1, and its undo.

DNAT from a pod interface to 127.0.0.1 needs `route_localnet`, which on its
own lets pods reach every loopback service of the node (CVE-2020-8558). The
rule set pairs it with the `localnet_guard` chain, so this module only flips
the sysctl.

kube-proxy often sets route_localnet to 1 itself (NodePorts on localhost), so
`rules remove` must not blindly turn it off: the value found before podwarden
first turned it on is recorded in a state file under /run/podwarden (one per
network namespace, named by the namespace's inode, which is stable for the
namespace's life; /run is emptied at boot, like the rules themselves) and
restored on removal. A re-install (agent restart, repair) keeps the first
record, since by then the live value is podwarden's own. With no record
(a lost /run), removal falls back to 0, the secure value, and says so.
"""

from __future__ import annotations

from pathlib import Path

from podwarden import logs
from podwarden.netfilter.runner import Runner

KEY = "net.ipv4.conf.all.route_localnet"
STATE_DIR = Path("/run/podwarden")

_log = logs.get("netfilter")


def set_route_localnet(enabled: bool, *, runner: Runner | None = None) -> None:
    (runner or Runner()).run(["sysctl", "-q", "-w", f"{KEY}={1 if enabled else 0}"])


def route_localnet(*, runner: Runner | None = None) -> bool:
    proc = (runner or Runner()).run(["sysctl", "-n", KEY])
    return proc.stdout.strip() == "1"


def state_file(*, runner: Runner | None = None, state_dir: Path = STATE_DIR) -> Path:
    """The record for the network namespace `runner` acts in."""
    proc = (runner or Runner()).run(["stat", "-L", "-c", "%i", "/proc/self/ns/net"])
    return state_dir / f"route_localnet.netns-{proc.stdout.strip()}"


def enable(*, runner: Runner | None = None, state_dir: Path = STATE_DIR) -> None:
    """Record the value found (unless already recorded), then turn route_localnet on."""
    runner = runner or Runner()
    record = state_file(runner=runner, state_dir=state_dir)
    if not record.exists():
        before = route_localnet(runner=runner)
        record.parent.mkdir(parents=True, exist_ok=True)
        record.write_text(f"{1 if before else 0}\n")
    set_route_localnet(True, runner=runner)


def restore(*, runner: Runner | None = None, state_dir: Path = STATE_DIR) -> bool:
    """Put back the recorded value (0 when unknown) and forget it; returns the value set."""
    runner = runner or Runner()
    record = state_file(runner=runner, state_dir=state_dir)
    try:
        before = record.read_text().strip() == "1"
    except FileNotFoundError:
        _log.warning("no record of route_localnet before podwarden; setting it to 0", key=KEY)
        before = False
    set_route_localnet(before, runner=runner)
    record.unlink(missing_ok=True)
    return before
