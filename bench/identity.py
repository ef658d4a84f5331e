"""bench/identity: pod identity — cached answers, first request, STS economy, memory, churn.

Rows (all on 127.0.0.1, bounded in time and count, stopped by themselves):

- cached credentials: wrk at 50 connections on `.../security-credentials/<role>`
  (served from the credential cache) — req/s, p50, p99 — in the two view
  configurations: a cluster file (no consistent read: the view alone decides)
  and an API view (the real reflector on a lab API server, each answer
  confirmed by a consistent read); the peer in the same run is the proxy's own
  cached plain metadata path (`instance-id`), i.e. what identity costs over the
  firewall alone;
- first request after a pod appears: p50/p99 with prefetch (podwarden) vs
  on-demand AssumeRole (prefetch off, the kube2iam way), against moto's STS
  when moto_server is installed, each pod's container "starting" 100 ms after
  its ADDED event;
- STS calls per role per refresh period under constant concurrent demand
  (fake clock over 6 simulated hours; target 1);
- session scope: 50 pods on one role, STS calls per refresh period with
  `--session-scope pod` (one session per pod, CloudTrail names the pod) and
  `role` (one shared session; must be 1);
- memory of the cluster view per 1,000 pods (tracemalloc), with minimal pod
  objects and with realistic ones (~8 KB of JSON each: managedFields, three
  containers with env and mounts, volumes, conditions) decoded from JSON as
  the reflector receives them — the store keeps whole objects, managedFields
  included;
- 1,000-pod churn with address reuse and delayed events: wrong credentials (target 0);
- what the consistent read before credentials costs (a lab API server in its own
  process; the proxy's view follows it with the real reflector): sequential
  credential requests with and without verification (the added latency), and
  wrk at 50 connections from one address with the read interval 0 and the
  default 0.25 s.

Run: `python -m bench identity` (or `make bench`).
"""

from __future__ import annotations

import asyncio
import functools
import json
import os
import random
import re
import shutil
import subprocess
import sys
import time
import tracemalloc
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp

from bench import report
from podwarden.api import keys
from podwarden.kube import client, lookup, reflector, store
from podwarden.lab.cloud import server as cloud_server
from podwarden.lab.ports import free_port, wait_listening
from podwarden.metadata import firewall, proxy
from podwarden.metadata.identity import service
from podwarden.metadata.identity.assign import AwsRole
from podwarden.metadata.identity.cache import CredentialCache
from podwarden.metadata.identity.settings import IdentitySettings, SessionScope
from podwarden.metadata.identity.sts import AwsCredentials
from podwarden.metadata.model import ProviderName
from podwarden.metadata.settings import ProxySettings

SECONDS = float(os.environ.get("BENCH_IDENTITY_SECONDS", "5"))
ROLE = "arn:aws:iam::123456789012:role/reader"
CREDS = "/latest/meta-data/iam/security-credentials/"
FIRST_PODS = 100
SEQUENTIAL = 300
START_DELAY = 0.1


def _ns() -> dict[str, Any]:
    return {
        "kind": "Namespace",
        "metadata": {"name": "team", "annotations": {keys.AWS_ALLOWED_ROLES: json.dumps(["*"])}},
    }


def _pod(name: str, ip: str, role: str | None = ROLE, ns: str = "team") -> dict[str, Any]:
    return {
        "kind": "Pod",
        "apiVersion": "v1",
        "metadata": {
            "name": name,
            "namespace": ns,
            "uid": str(uuid.uuid4()),
            "annotations": {keys.AWS_ROLE: role} if role else {},
            "labels": {"app": name.rsplit("-", 1)[0]},
            "creationTimestamp": "2026-11-23T00:00:00Z",
            "resourceVersion": "1",
        },
        "spec": {
            "nodeName": "node-a",
            "serviceAccountName": "default",
            "containers": [
                {
                    "name": "app",
                    "image": "registry.example/app:1.2.3",
                    "resources": {"requests": {"cpu": "100m"}},
                }
            ],
        },
        "status": {
            "phase": "Running",
            "podIP": ip,
            "podIPs": [{"ip": ip}],
            "hostIP": "10.0.0.1",
            "qosClass": "Burstable",
        },
    }


def fake_sts(
    calls: list[AwsRole], *, delay: float = 0.0
) -> Callable[[AwsRole], Awaitable[AwsCredentials]]:
    async def assume(role: AwsRole) -> AwsCredentials:
        calls.append(role)
        if delay:
            await asyncio.sleep(delay)
        now = time.time()
        return AwsCredentials(
            f"ASIA{len(calls):012d}",
            f"{role.arn}|{role.session_name}",
            "token",
            now + 3600,
            now,
            role.arn,
        )

    return assume


async def _stack(view: store.ClusterView, upstream: str, **kw: Any) -> tuple[Any, Any]:
    fetch = kw.pop("aws_fetch", None)
    verify_lookup = kw.pop("verify_lookup", None)
    settings = IdentitySettings(provider=ProviderName.AWS, **kw)
    extra: dict[str, Any] = {"aws_fetch": fetch} if fetch is not None else {}
    if verify_lookup is not None:
        extra["verify_lookup"] = verify_lookup
    identity = await service.start(settings, view=view, upstream_url=upstream, **extra)
    fw = identity.firewall(firewall.build(ProviderName.AWS))
    running = await proxy.start(
        ProxySettings(provider=ProviderName.AWS, upstream_url=upstream),
        identity=identity.handlers,
        fw=fw,
    )
    return identity, running


async def _wrk(url: str) -> dict[str, Any]:
    argv = ["wrk", "-t1", "-c50", f"-d{SECONDS:g}s", "--latency", url]
    done = await asyncio.create_subprocess_exec(
        *argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    out = (await done.communicate())[0].decode()
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]

    def pct(p: str) -> float:
        found = re.search(rf"\s{p}%\s+([\d.]+)(us|ms|s)", out)
        if not found:
            return float("nan")
        return float(found.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[found.group(2)]

    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {
        "req_s": rps,
        "p50_ms": pct("50"),
        "p99_ms": pct("99"),
        "non_2xx": int(errors.group(1)) if errors else 0,
    }


async def cached(upstream: str) -> list[dict[str, Any]]:
    if shutil.which("wrk") is None:
        return [{"row": "cached credentials", "note": "skipped: wrk not installed"}]
    view = store.ClusterView()
    await view.apply(_ns())
    await view.apply(_pod("bench-0", "127.0.0.1"))
    identity, running = await _stack(view, upstream, aws_fetch=fake_sts([]))
    try:
        await identity.cache.idle()
        base = f"http://127.0.0.1:{running.port}"
        rows = []
        for name, path in (
            ("cached credentials, cluster-file (no consistent read)", CREDS + "reader"),
            ("peer: cached instance-id (firewall only)", "/latest/meta-data/instance-id"),
        ):
            rows.append({"row": name, **await _wrk(base + path)})
        return rows
    finally:
        await running.stop(drain_timeout=1)
        await identity.close()


def _moto() -> tuple[subprocess.Popen[bytes] | None, str | None]:
    script = Path(sys.executable).with_name("moto_server")
    if not script.exists():
        return None, None
    port = free_port()
    proc = subprocess.Popen(
        [str(script), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_listening("127.0.0.1", port, timeout=30)
    return proc, f"http://127.0.0.1:{port}"


async def first_request(upstream: str, sts_url: str | None) -> list[dict[str, Any]]:
    rows = []
    for prefetch in (True, False):
        view = store.ClusterView()
        await view.apply(_ns())
        calls: list[AwsRole] = []
        kw: dict[str, Any] = {"prefetch": prefetch}
        if sts_url:
            kw["sts_endpoint"] = sts_url
        else:
            kw["aws_fetch"] = fake_sts(calls, delay=0.03)
        identity, running = await _stack(view, upstream, **kw)
        latencies = []
        try:
            async with aiohttp.ClientSession() as client:
                for i in range(-1, FIRST_PODS):  # pod -1 warms the STS client up
                    obj = _pod(f"first-{i}", "127.0.0.1")
                    await view.apply(obj)
                    await asyncio.sleep(START_DELAY)  # the container starts
                    started = time.perf_counter()
                    url = f"http://127.0.0.1:{running.port}{CREDS}reader"
                    async with client.get(url) as response:
                        await response.read()
                        assert response.status == 200, response.status
                    if i >= 0:
                        latencies.append((time.perf_counter() - started) * 1000)
                    await view.delete(obj)
        finally:
            await running.stop(drain_timeout=1)
            await identity.close()
        latencies.sort()
        rows.append(
            {
                "row": "first request, "
                + ("prefetch (podwarden)" if prefetch else "on-demand AssumeRole (kube2iam way)"),
                "sts": "moto" if sts_url else "fake 30 ms",
                "p50_ms": latencies[len(latencies) // 2],
                "p99_ms": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))],
            }
        )
    return rows


async def sts_economy() -> dict[str, Any]:
    now = [1_000_000.0]
    calls: list[AwsRole] = []
    settings = IdentitySettings(provider=ProviderName.AWS)
    cache: CredentialCache[AwsRole, AwsCredentials] = CredentialCache(
        fetch=_clocked_sts(calls, now),
        expiry=lambda c: c.expiration,
        min_validity=settings.min_validity,
        refresh_before=settings.refresh_before,
        clock=lambda: now[0],
    )
    role = AwsRole(ROLE, "", "team.bench")
    hours = 6
    for _ in range(hours * 60):  # one simulated minute per step, 200 concurrent requests
        await asyncio.gather(*(cache.get(role) for _ in range(200)))
        await cache.idle()
        now[0] += 60
    period = settings.session_duration - settings.refresh_before
    return {
        "row": "STS calls per role per refresh period",
        "calls": len(calls),
        "periods": round(hours * 3600 / period, 2),
        "per_period": round(len(calls) / (hours * 3600 / period), 2),
    }


def _clocked_sts(
    calls: list[AwsRole], now: list[float]
) -> Callable[[AwsRole], Awaitable[AwsCredentials]]:
    async def assume(role: AwsRole) -> AwsCredentials:
        calls.append(role)
        return AwsCredentials("ASIA", "s", "t", now[0] + 3600, now[0], role.arn)

    return assume


def _realistic_pod(name: str, ip: str, role: str | None, ns: str) -> str:
    """A pod as a real API server returns it (~8 KB of JSON), as the reflector decodes it."""
    obj = _pod(name, ip, role=role, ns=ns)
    meta, spec, status = obj["metadata"], obj["spec"], obj["status"]
    meta["labels"].update({"pod-template-hash": "7d9f8c6b5", "tier": "backend"})
    meta["ownerReferences"] = [
        {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": name + "-7d9f8c6b5",
         "uid": str(uuid.uuid4()), "controller": True, "blockOwnerDeletion": True}
    ]  # fmt: skip
    fields = {f"f:{k}": {} for k in ("image", "imagePullPolicy", "name", "resources", "env")}
    meta["managedFields"] = [
        {"manager": "kube-controller-manager", "operation": "Update", "apiVersion": "v1",
         "time": "2026-11-23T00:00:00Z", "fieldsType": "FieldsV1",
         "fieldsV1": {"f:metadata": {"f:labels": {"f:app": {}, "f:tier": {}}},
                      "f:spec": {f'k:{{"name":"c{i}"}}': fields for i in range(3)}}},
        {"manager": "kubelet", "operation": "Update", "apiVersion": "v1",
         "time": "2026-11-23T00:00:05Z", "fieldsType": "FieldsV1", "subresource": "status",
         "fieldsV1": {"f:status": {f"f:{k}": {} for k in
                                   ("conditions", "containerStatuses", "hostIP", "phase",
                                    "podIP", "podIPs", "startTime")}}},
    ]  # fmt: skip
    spec["containers"] = [
        {"name": f"c{i}", "image": f"registry.example/team/app-{i}:1.2.{i}",
         "imagePullPolicy": "IfNotPresent", "ports": [{"containerPort": 8080 + i}],
         "env": [{"name": f"SETTING_{j}", "value": f"value-{j}-" + "x" * 20} for j in range(8)],
         "resources": {"requests": {"cpu": "100m", "memory": "128Mi"},
                       "limits": {"memory": "256Mi"}},
         "volumeMounts": [{"name": "config", "mountPath": "/etc/app"},
                          {"name": "kube-api-access", "mountPath":
                           "/var/run/secrets/kubernetes.io/serviceaccount", "readOnly": True}],
         "terminationMessagePath": "/dev/termination-log",
         "terminationMessagePolicy": "File"}
        for i in range(3)
    ]  # fmt: skip
    spec["volumes"] = [
        {"name": "config", "configMap": {"name": "app-config", "defaultMode": 420}},
        {"name": "kube-api-access", "projected": {"defaultMode": 420, "sources": [
            {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
            {"configMap": {"name": "kube-root-ca.crt",
                           "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
            {"downwardAPI": {"items": [{"path": "namespace", "fieldRef": {
                "apiVersion": "v1", "fieldPath": "metadata.namespace"}}]}}]}},
    ]  # fmt: skip
    spec["tolerations"] = [
        {"key": f"node.kubernetes.io/{k}", "operator": "Exists", "effect": "NoExecute",
         "tolerationSeconds": 300} for k in ("not-ready", "unreachable")
    ]  # fmt: skip
    status["conditions"] = [
        {"type": t, "status": "True", "lastTransitionTime": "2026-11-23T00:00:05Z"}
        for t in ("PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady",
                  "PodScheduled")
    ]  # fmt: skip
    status["containerStatuses"] = [
        {"name": f"c{i}", "ready": True, "restartCount": 0, "started": True,
         "image": f"registry.example/team/app-{i}:1.2.{i}",
         "imageID": "registry.example/team/app@sha256:" + "ab" * 32,
         "containerID": "containerd://" + uuid.uuid4().hex * 2,
         "state": {"running": {"startedAt": "2026-11-23T00:00:05Z"}}}
        for i in range(3)
    ]  # fmt: skip
    return json.dumps(obj)


async def memory() -> list[dict[str, Any]]:
    rows = []
    variants = (
        ("minimal pods", False, False),
        ("realistic pods", True, False),
        ("realistic pods, managedFields dropped before the store (not done today)", True, True),
    )
    for label, realistic, strip in variants:
        sizes = []
        tracemalloc.start()
        before = tracemalloc.get_traced_memory()[0]
        view = store.ClusterView()
        for i in range(1000):
            name, ip = f"app-{i}", f"10.1.{i // 250}.{i % 250 + 1}"
            role, ns = (ROLE if i % 2 else None), f"ns-{i % 20}"
            if realistic:
                text = _realistic_pod(name, ip, role, ns)
                sizes.append(len(text))
                decoded = json.loads(text)
                if strip:
                    decoded["metadata"].pop("managedFields")
                await view.apply(decoded)
            else:
                await view.apply(_pod(name, ip, role=role, ns=ns))
        after = tracemalloc.get_traced_memory()[0]
        tracemalloc.stop()
        row: dict[str, Any] = {
            "row": f"cluster view memory per 1,000 pods, {label}",
            "MiB": round((after - before) / 2**20, 2),
        }
        if sizes:
            row["pod_json_kb"] = round(sum(sizes) / len(sizes) / 1024, 1)
            row["note"] = "" if strip else "store keeps managedFields"
        rows.append(row)
        del view
    return rows


async def scope_economy(scope: SessionScope) -> dict[str, Any]:
    """50 pods on one role: STS calls per refresh period for one session scope."""
    now = [1_000_000.0]
    calls: list[AwsRole] = []
    view = store.ClusterView()
    await view.apply(_ns())
    for i in range(50):
        await view.apply(_pod(f"scope-{i}", f"10.2.0.{i + 1}"))
    settings = IdentitySettings(provider=ProviderName.AWS, session_scope=scope)
    identity = await service.start(
        settings,
        view=view,
        upstream_url="http://127.0.0.1:9",  # never used: STS is the fake below
        aws_fetch=_clocked_sts(calls, now),
        clock=lambda: now[0],
        maintenance=False,
    )
    hours = 6
    try:
        for _ in range(hours * 60):  # the maintenance pass, once a simulated minute
            identity.maintain()
            assert identity.cache is not None
            await identity.cache.idle()
            now[0] += 60
    finally:
        await identity.close()
    periods = hours * 3600 / (settings.session_duration - settings.refresh_before)
    return {
        "row": f"STS calls per refresh period, 50 pods on one role, --session-scope {scope}",
        "calls": len(calls),
        "periods": round(periods, 2),
        "per_period": round(len(calls) / periods, 2),
        "sessions": len({c.session_name for c in calls}),
    }


async def churn(upstream: str) -> dict[str, Any]:
    rng = random.Random(7)
    view = store.ClusterView()
    await view.apply(
        {
            "kind": "Namespace",
            "metadata": {
                "name": "churn",
                "annotations": {keys.AWS_ALLOWED_ROLES: json.dumps(["*/r1", "*/r2"])},
            },
        }
    )
    identity, running = await _stack(view, upstream, aws_fetch=fake_sts([]), address_wait=0.5)
    roles = (
        "arn:aws:iam::123456789012:role/r1",
        "arn:aws:iam::123456789012:role/r2",
        "arn:aws:iam::123456789012:role/r3",
        None,
    )
    queue: asyncio.Queue[tuple[float, str, dict[str, Any], asyncio.Future[None]]] = asyncio.Queue()
    last = [0.0]
    counters = {"wrong": 0, "served": 0, "requests": 0}

    def send(kind: str, obj: dict[str, Any]) -> asyncio.Future[None]:
        last[0] = max(last[0], time.monotonic() + rng.uniform(0, 0.04))
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        queue.put_nowait((last[0], kind, json.loads(json.dumps(obj)), done))
        return done

    async def deliver() -> None:
        while True:
            at, kind, obj, done = await queue.get()
            await asyncio.sleep(max(0.0, at - time.monotonic()))
            await (view.delete(obj) if kind == "DELETED" else view.apply(obj))
            done.set_result(None)

    pods = iter(range(1000))

    async def lane(n: int) -> None:
        address = f"127.0.2.{n + 1}"
        connector = aiohttp.TCPConnector(local_addr=(address, 0), force_close=True)
        async with aiohttp.ClientSession(connector=connector) as client:
            for i in pods:
                role = roles[i % 4]
                obj = _pod(f"c-{i}", address, role=role, ns="churn")
                send("ADDED", obj)
                for _ in range(rng.randint(1, 3)):
                    await asyncio.sleep(rng.uniform(0, 0.05))
                    counters["requests"] += 1
                    async with client.get(f"http://127.0.0.1:{running.port}{CREDS}") as r:
                        name = await r.text()
                    if r.status != 200:
                        continue
                    async with client.get(f"http://127.0.0.1:{running.port}{CREDS}{name}") as r:
                        body = await r.text()
                    if r.status != 200:
                        continue
                    counters["served"] += 1
                    secret = json.loads(body)["SecretAccessKey"]
                    ok = (
                        role is not None
                        and not role.endswith("r3")
                        and (secret == f"{role}|churn.c-{i}")
                    )
                    counters["wrong"] += 0 if ok else 1
                await send("DELETED", obj)
                await asyncio.sleep(0.06)

    deliverer = asyncio.create_task(deliver())
    started = time.monotonic()
    try:
        await asyncio.wait_for(asyncio.gather(*(lane(n) for n in range(40))), timeout=120)
    finally:
        deliverer.cancel()
        await running.stop(drain_timeout=1)
        await identity.close()
    return {
        "row": "1,000-pod churn, address reuse, delayed events",
        **counters,
        "seconds": round(time.monotonic() - started, 1),
    }


async def _post(session: aiohttp.ClientSession, url: str, body: dict[str, Any]) -> None:
    async with session.post(url, json=body) as response:
        assert response.status < 300, (response.status, await response.text())


async def verification(upstream: str) -> list[dict[str, Any]]:
    """The cost of a consistent read per credential request, against a real (lab) API process."""
    port = free_port()
    script = Path(sys.executable).with_name("podwarden")
    argv = [str(script), "lab", "apiserver", "--listen", f"127.0.0.1:{port}"]
    proc = subprocess.Popen(
        [*argv, "--bookmark-interval", "60"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    rows: list[dict[str, Any]] = []
    api = None
    task = None
    try:
        wait_listening("127.0.0.1", port, timeout=30)
        url = f"http://127.0.0.1:{port}"
        async with aiohttp.ClientSession() as session:
            await _post(session, url + "/api/v1/namespaces", {k: v for k, v in _ns().items()})
            body = _pod("verified-0", "127.0.0.1")
            body["metadata"] = {
                "name": "verified-0",
                "annotations": body["metadata"]["annotations"],
            }
            await _post(session, url + "/api/v1/namespaces/team/pods", body)
        api = client.from_url(url)
        view = store.ClusterView()
        task = reflector.run(view, api=api, node_name="node-a")
        await asyncio.wait_for(view.synced.wait(), 10)
        check = functools.partial(lookup.pods_with_ip, api, node="node-a")
        for label, kw in (
            ("no verification (watch only)", {}),
            ("verified (consistent read)", {"verify_lookup": check, "verify_interval": 0.0}),
        ):
            identity, running = await _stack(view, upstream, aws_fetch=fake_sts([]), **kw)
            try:
                await identity.cache.idle()
                target = f"http://127.0.0.1:{running.port}{CREDS}reader"
                latencies = []
                async with aiohttp.ClientSession() as session:
                    for _ in range(SEQUENTIAL):
                        started = time.perf_counter()
                        async with session.get(target) as response:
                            await response.read()
                            assert response.status == 200, response.status
                        latencies.append((time.perf_counter() - started) * 1000)
                latencies.sort()
                rows.append(
                    {
                        "row": f"credential request, sequential, {label}",
                        "p50_ms": round(latencies[len(latencies) // 2], 3),
                        "p99_ms": round(latencies[int(len(latencies) * 0.99)], 3),
                    }
                )
            finally:
                await running.stop(drain_timeout=1)
                await identity.close()
        if shutil.which("wrk") is not None:
            for interval in (0.0, IdentitySettings(provider=ProviderName.AWS).verify_interval):
                identity, running = await _stack(
                    view,
                    upstream,
                    aws_fetch=fake_sts([]),
                    verify_lookup=check,
                    verify_interval=interval,
                )
                try:
                    await identity.cache.idle()
                    target = f"http://127.0.0.1:{running.port}{CREDS}reader"
                    result = await _wrk(target)
                    assert identity.verifier is not None
                    rows.append(
                        {
                            "row": "cached credentials, API view (verified, consistent "
                            f"read interval {interval:g}s)",
                            **result,
                            "calls": identity.verifier.reads,
                        }
                    )
                finally:
                    await running.stop(drain_timeout=1)
                    await identity.close()
    finally:
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        if api is not None:
            await api.close()
        proc.terminate()
        proc.wait(timeout=10)
    return rows


async def _main() -> None:
    runner = await cloud_server.start("aws", "127.0.0.1", 0)
    upstream = f"http://127.0.0.1:{int(runner.addresses[0][1])}"
    moto, sts_url = _moto()
    try:
        rows: list[dict[str, Any]] = []
        measured = await cached(upstream) + await verification(upstream)
        # the cached-credential rows of both view configurations side by side, then the rest
        rows += [r for r in measured if str(r["row"]).startswith("cached credentials")]
        rows += [r for r in measured if not str(r["row"]).startswith("cached credentials")]
        rows += await first_request(upstream, sts_url)
        rows.append(await sts_economy())
        rows += [await scope_economy("pod"), await scope_economy("role")]
        rows += await memory()
        rows.append(await churn(upstream))
    finally:
        if moto is not None:
            moto.terminate()
            moto.wait(timeout=10)
        await runner.cleanup()
    columns = sorted({k for row in rows for k in row}, key=lambda k: (k != "row", k))
    table_rows = [{k: row.get(k) for k in columns} for row in rows]
    print(report.table("identity", table_rows))
    report.save("identity", table_rows)


def main() -> None:
    from podwarden import logs

    logs.configure(level="error")
    asyncio.run(_main())
