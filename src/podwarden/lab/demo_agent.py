"""The demo's node-agent act: the holes every earlier metadata protection left open.

One lab, `podwarden agent` in the node namespace (proxy, rules and reconcile
in one process), and three cases from the interception issue:

- proxy down: the agent is SIGKILLed while its rules stay; the pod's curl to
  169.254.169.254 is refused at once (curl's own timing, in ms), never
  answered by the real service; the agent restarted answers again.
- host network: a process in the lab's pod cgroup but in the node's own
  network namespace (a `hostNetwork: true` pod) asks for the node's keys and
  is refused, while a node process outside the cgroup (the kubelet's view)
  still reads them.
- rules flushed by hand (`nft flush table inet podwarden`): the reconcile
  loop restores them within two periods; no pod request is sent while they
  are gone, so the demo itself never leaks.

"Without podwarden" is the same lab with the agent stopped and its rules removed.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from podwarden.api import metadata_addresses
from podwarden.lab import netns
from podwarden.lab import plan as lab_plan
from podwarden.lab.cloud import secrets
from podwarden.lab.demo_firewall import Outcome, read_outcome
from podwarden.lab.demo_model import ActContext, Row
from podwarden.lab.topology import Lab

ACT = "node agent"
POD = "pod-a"
IMDS = f"http://{metadata_addresses.IMDS_V4}"
NODE_KEYS = f"{IMDS}/latest/meta-data/iam/security-credentials/{secrets.NODE_AWS_ROLE_NAME}"
REGION = f"{IMDS}/latest/meta-data/placement/region"
_MARK = "\n--podwarden-demo:"
AT_ONCE_MS = 100.0


@dataclass(frozen=True)
class Timed:
    """A curl outcome and curl's own total time for it."""

    outcome: Outcome
    ms: float

    def words(self) -> str:
        if self.outcome.status is None:
            return f"refused in {self.ms:.1f} ms ({self.outcome.text})"
        return self.outcome.words()


def _curl(run: Callable[[list[str]], tuple[int, str]], url: str) -> Timed:
    argv = ["curl", "-s", "--max-time", "3", "-w", _MARK + "%{http_code} %{time_total}", url]
    code, stdout = run(argv)
    body, _, tail = stdout.rpartition(_MARK)
    status_text, _, seconds = tail.partition(" ")
    status = int(status_text) if status_text.isdigit() and int(status_text) > 0 else None
    try:
        ms = float(seconds) * 1000
    except ValueError:
        ms = float("nan")
    return Timed(read_outcome(status, body, code), ms)


def _in_pod(the_lab: Lab) -> Callable[[list[str]], tuple[int, str]]:
    def run(argv: list[str]) -> tuple[int, str]:
        done = the_lab.exec(POD, argv, timeout=10)
        return done.returncode, done.stdout

    return run


def _on_node(the_lab: Lab, *, in_pod_cgroup: bool) -> Callable[[list[str]], tuple[int, str]]:
    def run(argv: list[str]) -> tuple[int, str]:
        done = the_lab.exec_hostnet(argv, in_pod_cgroup=in_pod_cgroup, timeout=10)
        return done.returncode, done.stdout

    return run


def _row(check: str, before: str, after: str, expected: str, ok: bool) -> Row:
    return Row(act=ACT, check=check, before=before, after=after, expected=expected, ok=ok)


def run(ctx: ActContext) -> list[Row]:
    """The act (needs the default `agent` interception)."""
    echo = ctx.echo
    with ctx.lab(provider="aws", proxy=False) as the_lab:
        if the_lab.interception_mode != "agent":
            note = f"skipped: needs --interception agent (not {the_lab.interception_mode})"
            echo(note)
            return [_row("node agent cases", "-", note, "agent interception", True)]
        hostnet = the_lab.pod_cgroup is not None
        pod, node = _in_pod(the_lab), _on_node(the_lab, in_pod_cgroup=False)
        cgroup_run = _on_node(the_lab, in_pod_cgroup=True) if hostnet else None

        echo("--- without podwarden ---")
        before_pod = _say(echo, f"{POD}$ curl {NODE_KEYS}", _curl(pod, NODE_KEYS))
        before_host = before_node = None
        if cgroup_run is not None:
            before_host = _say(echo, f"hostnet-pod$ curl {NODE_KEYS}", _curl(cgroup_run, NODE_KEYS))
            before_node = _say(echo, f"node$ curl {NODE_KEYS}", _curl(node, NODE_KEYS))

        echo("--- with podwarden agent (proxy + rules + reconcile, one process) ---")
        the_lab.start_proxy("aws")
        rows = _host_network(echo, the_lab, cgroup_run, node, before_host, before_node)
        rows += _proxy_down(echo, the_lab, pod, before_pod)
        rows.append(_flushed(echo, the_lab, pod))
        the_lab.stop_proxy()
    return rows


def _say(echo: Callable[[str], None], shown: str, timed: Timed) -> Timed:
    echo(f"$ {shown}")
    echo(f"  -> {timed.words()}")
    return timed


def _proxy_saw(the_lab: Lab, *, client: str, path: str, wait: float = 2.0) -> bool:
    """True when the agent's JSON access log shows a request from `client` for `path`.

    The access line is written after the answer, so it is awaited (bounded).
    """
    deadline = time.monotonic() + wait
    while not _logged(the_lab, client=client, path=path):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def _logged(the_lab: Lab, *, client: str, path: str) -> bool:
    for record in the_lab.state.processes:
        if record.name != "agent":
            continue
        try:
            lines = Path(record.log).read_text().splitlines()
        except OSError:
            return False
        for line in lines:
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            if isinstance(entry, dict) and (entry.get("client"), entry.get("path")) == (
                client,
                path,
            ):
                return True
    return False


def _host_network(
    echo: Callable[[str], None],
    the_lab: Lab,
    cgroup_run: Callable[[list[str]], tuple[int, str]] | None,
    node: Callable[[list[str]], tuple[int, str]],
    before_host: Timed | None,
    before_node: Timed | None,
) -> list[Row]:
    if cgroup_run is None or before_host is None or before_node is None:
        note = "skipped: no writable cgroup v2 for a pod cgroup"
        echo(note)
        return [_row("host-network pod reads node keys", "-", note, "cgroup v2", True)]
    host = _say(echo, f"hostnet-pod$ curl {NODE_KEYS}", _curl(cgroup_run, NODE_KEYS))
    host_region = _say(echo, f"hostnet-pod$ curl {REGION}", _curl(cgroup_run, REGION))
    proxied = _proxy_saw(
        the_lab, client=lab_plan.NODE_UPLINK_V4, path="/latest/meta-data/placement/region"
    )
    echo(f"  (the agent's access log {'shows' if proxied else 'does NOT show'} that request)")
    kubelet = _say(echo, f"node$ curl {NODE_KEYS}", _curl(node, NODE_KEYS))
    return [
        _row(
            "host-network pod reads node keys",
            before_host.outcome.words(),
            host.outcome.words(),
            "readable -> refused",
            before_host.outcome.secret_seen
            and host.outcome.refused
            and not host.outcome.secret_seen,
        ),
        _row(
            "host-network pod reads region",
            "-",
            host_region.outcome.words(),
            "answers (via the proxy)",
            host_region.outcome.status == 200 and not host_region.outcome.secret_seen and proxied,
        ),
        _row(
            "node process (kubelet) reads node keys",
            before_node.outcome.words(),
            kubelet.outcome.words(),
            "readable -> readable",
            before_node.outcome.secret_seen and kubelet.outcome.secret_seen,
        ),
    ]


def _proxy_down(
    echo: Callable[[str], None],
    the_lab: Lab,
    pod: Callable[[list[str]], tuple[int, str]],
    before: Timed,
) -> list[Row]:
    echo("$ kill -KILL <agent>   # rules stay in place")
    the_lab.kill_proxy()
    down = _say(echo, f"{POD}$ curl {NODE_KEYS}", _curl(pod, NODE_KEYS))
    started = time.monotonic()
    the_lab.start_proxy("aws")
    took = time.monotonic() - started
    echo(f"$ podwarden agent …   # restarted, ready in {took:.1f} s")
    again = _say(echo, f"{POD}$ curl {REGION}", _curl(pod, REGION))
    at_once = down.outcome.status is None and down.ms < AT_ONCE_MS
    return [
        _row(
            "agent killed: pod reads node keys",
            before.outcome.words(),
            down.words(),
            f"readable -> refused < {AT_ONCE_MS:.0f} ms",
            before.outcome.secret_seen and at_once and not down.outcome.secret_seen,
        ),
        _row(
            "agent restarted: pod reads region",
            "-",
            again.outcome.words(),
            "answers again",
            again.outcome.status == 200 and not again.outcome.secret_seen,
        ),
    ]


def _rule_count(the_lab: Lab) -> int:
    """Rules in the agent's nft table in the node namespace (0 when flushed or absent)."""
    done = netns.run(
        ["nft", "-j", "list", "table", "inet", "podwarden"], netns=the_lab.plan.node, check=False
    )
    if done.returncode != 0:
        return 0
    try:
        items = json.loads(done.stdout)["nftables"]
    except (ValueError, KeyError, TypeError):
        return 0
    return sum(1 for item in items if "rule" in item)


def _flushed(
    echo: Callable[[str], None], the_lab: Lab, pod: Callable[[list[str]], tuple[int, str]]
) -> Row:
    period = the_lab.reconcile_period
    installed = _rule_count(the_lab)
    echo("$ nft flush table inet podwarden   # in the node namespace, by hand")
    netns.run(["nft", "flush", "table", "inet", "podwarden"], netns=the_lab.plan.node)
    flushed_at = time.monotonic()
    restored = None
    while time.monotonic() - flushed_at < 4 * period + 2:  # bounded: well past two periods
        if _rule_count(the_lab) == installed:
            restored = time.monotonic() - flushed_at
            break
        time.sleep(0.02)
    words = f"restored in {restored:.2f} s" if restored is not None else "NOT restored"
    echo(f"  -> {installed} rules {words} (reconcile period {period:g} s)")
    after = _say(echo, f"{POD}$ curl {NODE_KEYS}", _curl(pod, NODE_KEYS))
    ok = (
        installed > 0
        and restored is not None
        and restored <= 2 * period
        and after.outcome.refused
        and not after.outcome.secret_seen
    )
    return _row(
        "rules flushed by hand",
        "-",
        f"{words}; keys {after.outcome.words()}",
        f"restored < 2 periods ({2 * period:g} s)",
        ok,
    )
