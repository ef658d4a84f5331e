"""/readyz of `podwarden agent`: 503 until the rules are in, and again after a failed
reconcile, 200 once a check passes; the `podwarden_agent_ready` gauge (what the
"agent not ready" alert reads) says the same.

The agent runs in this process (its proxy and health server on loopback, nothing
contacted upstream); its netfilter commands run in the lab's node namespace
through a gate: a shell step that holds every command until a file exists and
fails it while a second file exists. That is how "rules not installed yet" and
"reconcile failed" are made to last as long as the test looks at them.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

from podwarden.agent import run as agent_run
from podwarden.agent.settings import AgentConfig
from podwarden.lab.ports import free_port
from podwarden.netfilter.runner import Runner
from podwarden.testing.netlab import Lab

GATE = 'while [ ! -e "$0" ]; do sleep 0.02; done; [ ! -e "$0.fail" ] || exit 1; exec "$@"'
PERIOD = 0.2


async def statuses(url: str, seconds: float) -> list[int]:
    """GET `url` every 50 ms for `seconds`; the statuses seen (0: no answer yet)."""
    seen: list[int] = []
    deadline = time.monotonic() + seconds
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < deadline:
            try:
                async with session.get(url, timeout=aiohttp.ClientTimeout(total=1)) as resp:
                    seen.append(resp.status)
            except aiohttp.ClientError:
                seen.append(0)
            await asyncio.sleep(0.05)
    return seen


async def until(url: str, status: int, *, timeout: float) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if (await statuses(url, 0.05))[-1] == status:
            return time.monotonic() - started
    raise AssertionError(f"{url} never answered {status} within {timeout}s")


async def ready_gauge(health: str) -> float:
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"http://{health}/metrics") as resp,
    ):
        text = await resp.text()
    for family in text_string_to_metric_families(text):
        if family.name == "podwarden_agent_ready":
            (sample,) = family.samples
            return float(sample.value)
    raise AssertionError("podwarden_agent_ready is not exposed")


async def test_readyz_is_503_until_rules_are_in_and_after_a_failed_reconcile(
    lab: Lab, tmp_path: Path
) -> None:
    gate = tmp_path / "gate"
    runner = Runner(prefix=("sh", "-c", GATE, str(gate), "nsenter", f"--net=/run/netns/{lab.node}"))
    health = f"127.0.0.1:{free_port()}"
    config = AgentConfig(
        provider="aws",
        upstream=f"http://127.0.0.1:{free_port()}",  # never contacted
        listen=f"127.0.0.1:{free_port()}",
        pod_interface=["cali+"],
        backend="nft",
        reconcile_period=PERIOD,
        health_listen=health,
    )
    readyz = f"http://{health}/readyz"
    stop = asyncio.Event()
    task = asyncio.create_task(agent_run.run(config, stop=stop, runner=runner))
    try:
        await until(readyz, 503, timeout=10)  # health up, proxy up, rules held at the gate
        assert set(await statuses(readyz, 1.0)) == {503}
        assert await ready_gauge(health) == 0
        gate.touch()
        await until(readyz, 200, timeout=10)
        assert await ready_gauge(health) == 1
        Path(f"{gate}.fail").touch()  # every netfilter command now fails: reconcile too
        waited = await until(readyz, 503, timeout=10)
        assert waited < 3 * PERIOD + 0.5, waited
        assert await ready_gauge(health) == 0
        Path(f"{gate}.fail").unlink()
        await until(readyz, 200, timeout=10)  # the next good check makes it ready again
        assert not task.done()  # a failed reconcile never stops the agent
    finally:
        gate.touch()
        stop.set()
        await asyncio.wait_for(task, timeout=10)
