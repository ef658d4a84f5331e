"""Every metric and label the chart's alerts and dashboard name exists in real scrapes.

Started for real: the agent (its proxy on loopback, its rules in the lab's node
namespace, pod identity against the lab API server and moto as STS, seeded as in the
identity tests), a second `podwarden proxy` whose STS endpoint and metadata service
refuse connections (identity and upstream errors), `podwarden webhook` over TLS
following the lab API server, and `podwarden nodeauth serve` over TLS following a
cluster file. Each is driven until the series the alerts read have samples: allowed,
denied and answered metadata requests, a metadata service that is down, a credential
fetch that works and one that fails, rules flushed by hand (a repair), a reconcile that
fails, a new pod (the view's lag), admission reviews, SubjectAccessReviews from a node
(allowed and refused) and a NodeRestriction review. Families that still have no sample
(a labelled counter that never fired, e.g. internal errors) are checked by the label
names they declare. Then /metrics of each is parsed with prometheus_client's parser and
every PromQL selector, matcher, grouping label and template label of the PrometheusRule
and the Grafana dashboard is looked up. A name the product does not expose fails the
test.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from deploytools import helm, promql
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from podwarden.agent import run as agent_run
from podwarden.agent.settings import AgentConfig
from podwarden.lab.apiserver.server import ServerThread
from podwarden.lab.cloud import server as cloud_server
from podwarden.lab.ports import free_port, wait_listening
from podwarden.netfilter.runner import Runner
from podwarden.testing import netlab
from podwarden.testing.netlab import Lab
from podwarden.webhooks import app as webhook_app
from podwarden.webhooks import authz_app, certs
from tests.integration.apiserver.conftest import KUBECONFIG
from tests.integration.deploy.conftest import CERT_MANAGER, MONITORING, helm_or_skip
from tests.integration.identity.conftest import ACCOUNT, Moto
from tests.integration.nodeauth.conftest import sar, write_cluster
from tests.integration.nodeauth.test_serve import admission_review

PODWARDEN = str(Path(sys.executable).with_name("podwarden"))
GATE = 'while [ ! -e "$0" ]; do sleep 0.02; done; [ ! -e "$0.fail" ] || exit 1; exec "$@"'
# Labels Prometheus (and the chart's PodMonitor / ServiceMonitor) add to every scraped series.
TARGET_LABELS = frozenset(
    {"job", "instance", "node", "namespace", "pod", "container", "service", "endpoint"}
)
# Series Prometheus makes itself, with their labels.
SYNTHETIC = {"up": TARGET_LABELS}

Seen = dict[str, set[str]]


# --- what the alerts and the dashboard read --------------------------------------------


def references() -> list[tuple[str, str, frozenset[str]]]:
    """(where, PromQL, labels its templates name) for every alert and dashboard target."""
    stream = helm.template(
        api_versions=[CERT_MANAGER, MONITORING],
        set_values={"monitoring.prometheusRule.enabled": "true",
                    "nodeAuthorization.enabled": "true"},
    )  # fmt: skip
    (rule,) = [o for o in helm.objects(stream) if o["kind"] == "PrometheusRule"]
    found = []
    for group in rule["spec"]["groups"]:
        for item in group["rules"]:
            texts = " ".join(item.get("annotations", {}).values())
            found.append((f"alert {item['alert']}", item["expr"], promql.template_labels(texts)))
    dashboard = json.loads((helm.CHART / "dashboards" / "podwarden.json").read_text())
    for panel in dashboard["panels"]:
        for target in panel["targets"]:
            legend = promql.template_labels(target.get("legendFormat", ""))
            found.append((f"panel {panel['title']!r}", target["expr"], legend))
    return found


def problems(refs: list[tuple[str, str, frozenset[str]]], seen: Seen) -> list[str]:
    """Every metric or label named by `refs` that `seen` (name -> label names) lacks."""
    out = []
    for where, expr, templated in refs:
        parsed = promql.reads(expr)
        available: set[str] = set(TARGET_LABELS)
        for selector in parsed.selectors:
            labels = SYNTHETIC.get(selector.metric, seen.get(selector.metric))
            if labels is None:
                out.append(f"{where}: metric {selector.metric} is not exposed")
                continue
            available |= labels
            for label in sorted(selector.labels - labels - TARGET_LABELS):
                out.append(f"{where}: {selector.metric} has no label {label!r}")
        for label in sorted(parsed.grouping - available):
            out.append(f"{where}: groups by {label!r}, which no series it reads has")
        kept = parsed.grouping or available
        for label in sorted(templated - kept):
            out.append(f"{where}: its text names label {label!r}, absent after aggregation")
    return out


def test_the_checker_catches_a_wrong_metric_or_label() -> None:
    """Not vacuous: misspelt names and labels lost in aggregation are reported."""
    seen: Seen = {"podwarden_requests_total": {"decision", "rule", "provider"}}
    refs = [
        ("a", 'rate(podwarden_request_total{decision="deny"}[5m])', frozenset()),
        ("b", 'rate(podwarden_requests_total{decison="deny"}[5m])', frozenset()),
        ("c", "sum by (rul) (rate(podwarden_requests_total[5m]))", frozenset()),
        ("d", "sum by (rule) (rate(podwarden_requests_total[5m]))", frozenset({"provider"})),
        ("e", "sum by (rule, node) (rate(podwarden_requests_total[5m]))", frozenset({"node"})),
    ]
    assert problems(refs, seen) == [
        "a: metric podwarden_request_total is not exposed",
        "b: podwarden_requests_total has no label 'decison'",
        "c: groups by 'rul', which no series it reads has",
        "d: its text names label 'provider', absent after aggregation",
    ]


# --- the running parts -----------------------------------------------------------------


def scrape(text: str, seen: Seen, families: dict[str, int]) -> None:
    """Sample names -> label names into `seen`; family -> sample count into `families`."""
    for family in text_string_to_metric_families(text):
        families[family.name] = families.get(family.name, 0) + len(family.samples)
        for sample in family.samples:
            seen.setdefault(sample.name, set()).update(sample.labels)


def declared_labels(family: str) -> tuple[str, ...] | None:
    """Label names of a collector that exists but has no sample yet (a labelled counter
    that never fired), from the product's own registries."""
    for registry in (REGISTRY, webhook_app.Metrics().registry, authz_app.Metrics().registry):
        for collector, names in registry._collector_to_names.items():
            if family in names or f"{family}_total" in names:
                return tuple(getattr(collector, "_labelnames", ()))
    return None


def new_pod(kubeconfig: Path) -> None:
    server = kubeconfig.read_text().split('server: "', 1)[1].split('"', 1)[0]
    pod = {
        "metadata": {"name": "pod-b"},
        "spec": {"nodeName": "lab-node", "containers": [{"name": "c", "image": "app:1"}]},
    }
    assert requests.post(f"{server}/api/v1/namespaces/team/pods", json=pod, timeout=5).ok


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Path]:
    with ServerThread(bookmark_interval=0.2) as server:
        session = requests.Session()
        namespace = {
            "metadata": {
                "name": "team",
                "annotations": {"iam.amazonaws.com/allowed-roles": '["reader"]'},
            }
        }
        assert session.post(f"{server.url}/api/v1/namespaces", json=namespace).ok
        pod = {
            "metadata": {"name": "pod-a", "annotations": {"iam.amazonaws.com/role": "reader"}},
            "spec": {"nodeName": "lab-node", "containers": [{"name": "c", "image": "app:1"}]},
            "status": {"phase": "Running", "podIP": "127.0.0.1"},
        }
        assert session.post(f"{server.url}/api/v1/namespaces/team/pods", json=pod).ok
        path = tmp_path / "kubeconfig"
        path.write_text(KUBECONFIG.format(url=server.url), encoding="utf-8")
        yield path


def start(*args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [PODWARDEN, *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=os.environ,
        start_new_session=True,  # netlab.stop ends its process group
    )


async def get(url: str, **options: Any) -> str:
    def fetch() -> str:
        return requests.get(url, timeout=5, **options).text

    return await asyncio.to_thread(fetch)


async def until(check: Any, what: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await check():
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"never happened: {what}")


def review(uid: str, *, privileged: bool) -> dict[str, Any]:
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": uid, "namespace": "team"},
        "spec": {
            "containers": [
                {"name": "c", "image": "app:1", "securityContext": {"privileged": privileged}}
            ]
        },
    }
    return {
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": uid,
            "kind": {"group": "", "version": "v1", "kind": "Pod"},
            "resource": {"group": "", "version": "v1", "resource": "pods"},
            "namespace": "team",
            "operation": "CREATE",
            "userInfo": {"username": "dev"},
            "object": pod,
        },
    }


async def test_alerts_and_panels_name_only_metrics_and_labels_that_exist(
    lab: Lab, tmp_path: Path, api: Path, node_env: Moto
) -> None:
    helm_or_skip()
    cloud = await cloud_server.start("aws", "127.0.0.1", 0)
    upstream = f"http://127.0.0.1:{int(cloud.addresses[0][1])}"
    identity = [
        "--kubeconfig",
        str(api),
        "--node",
        "lab-node",
        "--base-role-arn",
        f"arn:aws:iam::{ACCOUNT}:role/",
    ]
    gate = tmp_path / "gate"
    gate.touch()
    runner = Runner(prefix=("sh", "-c", GATE, str(gate), "nsenter", f"--net=/run/netns/{lab.node}"))
    listen, health, metrics = (f"127.0.0.1:{free_port()}" for _ in range(3))
    config = AgentConfig(
        provider="aws",
        upstream=upstream,
        listen=listen,
        pod_interface=["cali+"],
        backend="nft",
        reconcile_period=0.3,
        health_listen=health,
        metrics_listen=metrics,
        kubeconfig=api,
        node="lab-node",
        base_role_arn=f"arn:aws:iam::{ACCOUNT}:role/",
        sts_endpoint=node_env.url,
    )
    stop_agent = asyncio.Event()
    agent = asyncio.create_task(agent_run.run(config, stop=stop_agent, runner=runner))
    failing_sts = f"http://127.0.0.1:{free_port()}"  # nothing listens: identity errors
    proxy_metrics, proxy_listen = f"127.0.0.1:{free_port()}", f"127.0.0.1:{free_port()}"
    closed = f"http://127.0.0.1:{free_port()}"  # its metadata service is down: upstream errors
    proxy = start(
        "proxy",
        "--provider",
        "aws",
        "--upstream",
        closed,
        "--listen",
        proxy_listen,
        "--metrics-listen",
        proxy_metrics,
        "--sts-endpoint",
        failing_sts,
        *identity,
    )
    out = tmp_path / "certs"
    certs.issue(
        service="podwarden-webhook", namespace="podwarden", out=out, ip_addresses=["127.0.0.1"]
    )
    webhook_port = free_port()
    webhook = start(
        "webhook",
        "--listen",
        f"127.0.0.1:{webhook_port}",
        "--tls-cert",
        str(out / "tls.crt"),
        "--tls-key",
        str(out / "tls.key"),
        "--kubeconfig",
        str(api),
    )
    nodeauth_port = free_port()
    nodeauth = start(
        "nodeauth",
        "serve",
        "--listen",
        f"127.0.0.1:{nodeauth_port}",
        "--tls-cert",
        str(out / "tls.crt"),
        "--tls-key",
        str(out / "tls.key"),
        "--cluster-file",
        str(write_cluster(tmp_path / "cluster.yaml")),
        "--mode",
        "deny",
    )
    seen: Seen = {}
    families: dict[str, int] = {}
    try:
        wait_listening("127.0.0.1", webhook_port, timeout=30)
        wait_listening("127.0.0.1", nodeauth_port, timeout=30)
        base = f"http://{listen}"
        await until(lambda: _ok(f"http://{health}/readyz"), "agent ready")
        await asyncio.to_thread(new_pod, api)  # an ADDED event after the list: the view's lag
        for path in (
            "/latest/meta-data/instance-id",
            "/latest/user-data",
            "/latest/meta-data/iam/security-credentials/",
        ):
            await get(base + path)
        await get(base + "/latest/meta-data/iam/security-credentials/reader")
        await asyncio.to_thread(
            subprocess.run, ["ip", "netns", "exec", lab.node, "nft", "flush", "ruleset"], check=True
        )
        await until(
            lambda: _has(f"http://{metrics}/metrics", "podwarden_rules_repairs_total{"),
            "a repair after the flush",
        )
        Path(f"{gate}.fail").touch()  # every netfilter command fails: a reconcile error
        await until(
            lambda: _has(f"http://{metrics}/metrics", "podwarden_rules_reconcile_errors_total{"),
            "a failed reconcile",
        )
        Path(f"{gate}.fail").unlink()
        await until(
            lambda: _has(
                f"http://{proxy_metrics}/metrics", "podwarden_identity_fetch_errors_total{"
            ),
            "an identity error in the proxy with the refusing STS",
        )
        wait_listening(*proxy_listen.split(":"), timeout=10)  # type: ignore[arg-type]
        await get(f"http://{proxy_listen}/latest/meta-data/instance-id")  # 502: upstream down
        ca = str(out / "ca.crt")
        for endpoint in ("validate", "mutate"):
            for index, privileged in enumerate((False, True)):
                await asyncio.to_thread(
                    requests.post,
                    f"https://127.0.0.1:{webhook_port}/{endpoint}",
                    json=review(f"{endpoint}-{index}", privileged=privileged),
                    verify=ca,
                    timeout=10,
                )
        nodeauth_url = f"https://127.0.0.1:{nodeauth_port}"
        await until(lambda: _ok(f"{nodeauth_url}/readyz", verify=ca), "nodeauth ready")
        for secret in ("secret-a", "secret-b"):  # its own pod's secret, and another node's
            body = sar("system:node:node-a", "get", "secrets", name=secret, namespace="default")
            await asyncio.to_thread(
                requests.post, f"{nodeauth_url}/authorize", json=body, verify=ca, timeout=10
            )
        old = {"kind": "Node", "metadata": {"name": "node-b", "labels": {}}}
        new = {"kind": "Node", "metadata": {"name": "node-b", "labels": {"x": "y"}}}
        relabel = admission_review("UPDATE", "nodes", name="node-b", obj=new, old=old)
        await asyncio.to_thread(
            requests.post, f"{nodeauth_url}/admit", json=relabel, verify=ca, timeout=10
        )
        for url, options in (
            (f"{nodeauth_url}/metrics", {"verify": ca}),
            (f"http://{metrics}/metrics", {}),
            (f"http://{health}/metrics", {}),
            (f"http://{proxy_metrics}/metrics", {}),
            (f"https://127.0.0.1:{webhook_port}/metrics", {"verify": ca}),
        ):
            scrape(await get(url, **options), seen, families)
    finally:
        stop_agent.set()
        gate.touch()
        await asyncio.wait_for(agent, timeout=15)
        for proc in (proxy, webhook, nodeauth):
            netlab.stop(proc)
        await cloud.cleanup()
    # families exposed without a sample in any scrape: their declared label names stand in
    empty = sorted(name for name, count in families.items() if count == 0)
    for family in empty:
        declared = declared_labels(family)
        assert declared is not None, family
        for suffix, extra in (
            ("", ()),
            ("_total", ()),
            ("_count", ()),
            ("_sum", ()),
            ("_bucket", ("le",)),
        ):
            seen.setdefault(family + suffix, set()).update((*declared, *extra))
    refs = references()
    assert len(refs) >= 16 + 14
    found = problems(refs, seen)
    assert found == [], "\n".join(found)
    for must in (
        "podwarden_agent_ready",
        "podwarden_requests_total",
        "podwarden_rules_repairs_total",
        "podwarden_identity_fetch_seconds_bucket",
        "podwarden_identity_fetch_errors_total",
        "podwarden_admission_seconds_bucket",
        "podwarden_kube_relists_total",
        "podwarden_kube_event_lag_seconds_bucket",
        "podwarden_webhook_certificate_expiry_timestamp_seconds",
        "podwarden_nodeauth_seconds_bucket",
        "podwarden_nodeauth_decisions_total",
    ):
        assert must in seen, must  # really scraped, with samples
    print("families with no sample, checked by declared labels:", empty)


async def _ok(url: str, **options: Any) -> bool:
    try:
        return await asyncio.to_thread(
            lambda: requests.get(url, timeout=2, **options).status_code == 200
        )
    except requests.RequestException:
        return False


async def _has(url: str, text: str) -> bool:
    try:
        return text in await get(url)
    except requests.RequestException:
        return False
