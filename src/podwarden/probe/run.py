"""The probe's I/O: walk every check concurrently with short timeouts.

One aiohttp session, no proxies from the environment (trust_env off: a probe
must test the pod's own path, not an HTTP proxy's), no redirects, no
connection reuse between checks. Each request is bounded by `timeout`, the
whole run by `deadline`; a check still running at the deadline reports
"timed out" rather than holding the report back.
"""

from __future__ import annotations

import asyncio
import errno
import re
import time
import urllib.parse
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import aiohttp
import yarl

from podwarden.probe import findings
from podwarden.probe.checks import PREVIOUS, Check
from podwarden.probe.findings import Finding, Observation

BODY_LIMIT = 64 * 1024
MAX_ENTRIES = 32  # entries of a listing read one by one (`Step.reads_each`)
_ENTRY = re.compile(r"[A-Za-z0-9._-]{1,128}")

Resolve = Callable[[str, int], tuple[str, int]]
"""Maps a check's (host, port) to where to connect; tests point it at loopback."""


def _as_is(host: str, port: int) -> tuple[str, int]:
    return host, port


@dataclass(frozen=True)
class Report:
    """A finished probe: findings in catalogue order and how long it took."""

    findings: list[Finding]
    elapsed: float

    @property
    def exposed(self) -> bool:
        """True when a pod could read any secret (the probe then exits 1)."""
        return findings.any_secret_exposed(self.findings)


def probe(
    checks: Sequence[Check],
    *,
    timeout: float = 1.0,
    deadline: float | None = None,
    resolve: Resolve = _as_is,
) -> Report:
    """Run `checks` and classify what they saw (blocking)."""
    return asyncio.run(probe_async(checks, timeout=timeout, deadline=deadline, resolve=resolve))


async def probe_async(
    checks: Sequence[Check],
    *,
    timeout: float = 1.0,
    deadline: float | None = None,
    resolve: Resolve = _as_is,
) -> Report:
    """Run `checks` concurrently; each request within `timeout`, all within `deadline`."""
    started = time.monotonic()
    budget = deadline if deadline is not None else timeout * 2.5
    connector = aiohttp.TCPConnector(force_close=True, limit=0)
    client_timeout = aiohttp.ClientTimeout(total=timeout, sock_connect=timeout)
    async with aiohttp.ClientSession(
        connector=connector, timeout=client_timeout, trust_env=False, auto_decompress=True
    ) as session:
        tasks = [asyncio.create_task(_walk(session, c, resolve)) for c in checks]
        done, pending = await asyncio.wait(tasks, timeout=budget)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
    results: list[Finding] = []
    for check, task in zip(checks, tasks, strict=True):
        if task in done and task.exception() is None:
            obs = task.result()
        elif task in done:
            obs = Observation(status=None, error=f"probe error ({type(task.exception()).__name__})")
        else:
            obs = Observation(status=None, error="timed out")
        results.append(
            findings.classify(
                check=check.id,
                service=check.service,
                endpoint=check.endpoint,
                looks_for=check.looks_for,
                reading=check.reading,
                obs=obs,
                reachable_severity=check.reachable_severity,
            )
        )
    return Report(findings=results, elapsed=time.monotonic() - started)


async def _walk(session: aiohttp.ClientSession, check: Check, resolve: Resolve) -> Observation:
    """Run a check's steps in order; stop at the first answer that is not a success."""
    host, port = resolve(check.host, check.port)
    netloc = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    token = ""
    previous = ""
    obs = Observation(status=None, error="no steps")
    for step in check.steps:
        path = step.path.replace(PREVIOUS, urllib.parse.quote(previous, safe=""))
        headers = dict(step.headers)
        if step.sends_token:
            headers[step.sends_token] = token
        obs = await _fetch(
            session, step.method, yarl.URL(f"http://{netloc}{path}", encoded=True), headers
        )
        if obs.status is None or not 200 <= obs.status < 300:
            return obs
        if step.reads_each:
            obs = await _read_entries(session, obs, url=f"http://{netloc}{path}", headers=headers)
        text = obs.body.decode("utf-8", "replace").strip()
        if step.saves_token:
            token = text
        lines = text.splitlines()
        previous = lines[0].strip() if lines else ""
    return obs


async def _read_entries(
    session: aiohttp.ClientSession, listing: Observation, *, url: str, headers: dict[str, str]
) -> Observation:
    """The listing, with the entries that answered 200 and a non-empty body as `served`."""
    lines = listing.body.decode("utf-8", "replace").splitlines()
    names = [line for line in lines if _ENTRY.fullmatch(line)][:MAX_ENTRIES]

    async def served(name: str) -> bool:
        obs = await _fetch(session, "GET", yarl.URL(url + name, encoded=True), headers)
        return obs.status == 200 and bool(obs.body.strip())

    answered = await asyncio.gather(*(served(name) for name in names))
    found = tuple(name for name, ok in zip(names, answered, strict=True) if ok)
    return Observation(status=listing.status, body=listing.body, served=found)


async def _fetch(
    session: aiohttp.ClientSession, method: str, url: yarl.URL, headers: dict[str, str]
) -> Observation:
    try:
        async with session.request(method, url, headers=headers, allow_redirects=False) as resp:
            body = await resp.content.read(BODY_LIMIT)
            return Observation(status=resp.status, body=body)
    except TimeoutError:
        return Observation(status=None, error="timed out")
    except aiohttp.ClientConnectorError as exc:
        return Observation(status=None, error=_os_error_text(exc.os_error))
    except aiohttp.ServerDisconnectedError:
        return Observation(status=None, error="connection closed without an answer")
    except aiohttp.ClientOSError as exc:
        return Observation(status=None, error=_os_error_text(exc))
    except aiohttp.ClientError as exc:
        return Observation(status=None, error=f"bad answer ({type(exc).__name__})")


def _os_error_text(exc: OSError) -> str:
    return {
        errno.ECONNREFUSED: "connection refused",
        errno.ECONNRESET: "connection reset",
        errno.ENETUNREACH: "network unreachable",
        errno.EHOSTUNREACH: "host unreachable",
        errno.ETIMEDOUT: "timed out",
    }.get(exc.errno or 0, f"connection failed ({exc.strerror or type(exc).__name__})")
