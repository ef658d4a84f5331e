"""PodSecurityPolicy objects in the cluster, enforced by the webhook: kubectl applies
podwarden's CRD and policies to the lab API server, the webhook (over TLS, --kubeconfig)
follows them, and every edit or deletion changes its decisions."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiohttp import web
from click.testing import CliRunner

from podwarden import cli
from podwarden.kube import client as kube_client
from podwarden.lab.apiserver.server import LabApiServer, ServerThread
from podwarden.lab.ports import free_port
from podwarden.podsecurity.psp import engine
from podwarden.webhooks import access, app, certs, clusterpolicies, server, settings
from tests.integration.apiserver.test_kubectl import kubectl
from tests.integration.webhooks.conftest import (
    EXAMPLES,
    Client,
    load_example,
    may_use,
    review,
    sar_answers,
)

pytestmark = pytest.mark.peers("kubectl")

ROOT = Path(__file__).resolve().parents[3]
CRD_FILE = ROOT / "deploy" / "crds" / "policy.podwarden.io_podsecuritypolicies.yaml"
GROUP = "policy.podwarden.io"
NO_PROVIDERS = "no providers available to validate pod request"
PRIVILEGED_REFUSED = (
    "PodSecurityPolicy: unable to admit pod: [spec.containers[0].securityContext.privileged:"
    " Invalid value: true: Privileged containers are not allowed]"
)
HOST_ROOT_REFUSED = (
    "PodSecurityPolicy: unable to admit pod: [spec.volumes[0].hostPath.pathPrefix: "
    'Invalid value: "/": is not allowed to be used]'
)
# What the lab API server answers the webhook's SubjectAccessReviews (it evaluates no RBAC):
# alice may use the CRD policies (RBAC group policy.podwarden.io) and the file's
# policy/v1beta1 one (group policy). Nothing else is declared, so every other question
# (the pod's service account, other users) is denied. Only ops-admin may use aaa-privileged.
SAR_ANSWERS = (
    may_use("example", group=GROUP),
    may_use("aaa-open", group=GROUP),
    may_use("var-log-only", group="policy"),
    may_use(
        "aaa-privileged", group=GROUP, user="ops-admin", groups=("system:authenticated", "ops")
    ),
)
KUBECONFIG = """\
apiVersion: v1
kind: Config
clusters: [{{name: lab, cluster: {{server: "{url}"}}}}]
users: [{{name: lab, user: {{}}}}]
contexts: [{{name: lab, context: {{cluster: lab, user: lab, namespace: default}}}}]
current-context: lab
"""


def crd_form(example: str, **spec: Any) -> dict[str, Any]:
    """An example policy as podwarden's CRD object, optionally with spec changes."""
    policy = load_example(example)
    policy["apiVersion"] = f"{GROUP}/v1"
    policy["spec"].update(spec)
    return policy


@pytest.fixture
def lab() -> Any:
    with ServerThread(bookmark_interval=0.2, sar_answers=sar_answers(*SAR_ANSWERS)) as running:
        yield running


@pytest.fixture
def kubeconfig(lab: ServerThread, tmp_path: Path) -> Path:
    path = tmp_path / "kubeconfig"
    path.write_text(KUBECONFIG.format(url=lab.url), encoding="utf-8")
    return path


class Kubectl:
    """kubectl against the lab, run off the event loop (the webhook shares the test's loop)."""

    def __init__(self, kubeconfig: Path) -> None:
        self.kubeconfig = kubeconfig
        self._count = 0

    async def __call__(self, *args: str) -> str:
        result = await asyncio.to_thread(kubectl, self.kubeconfig, *args)
        return result.stdout

    async def apply(self, *docs: dict[str, Any]) -> str:
        self._count += 1
        path = self.kubeconfig.parent / f"apply-{self._count}.yaml"
        path.write_text(yaml.safe_dump_all(docs), encoding="utf-8")
        return await self("apply", "-f", str(path))

    async def install(self, *policies: dict[str, Any]) -> None:
        """The CRD, then the policies (who may use them is the lab's SAR_ANSWERS)."""
        await self("apply", "-f", str(CRD_FILE))
        if policies:
            await self.apply(*policies)


@pytest.fixture
def k(kubeconfig: Path) -> Kubectl:
    return Kubectl(kubeconfig)


Start = Callable[..., Awaitable[Client]]


@pytest.fixture
async def start(cert_dir: Path, kubeconfig: Path) -> AsyncIterator[Start]:
    started: list[Client] = []

    async def run(config: dict[str, Any]) -> Client:
        running = await server.start(
            host="127.0.0.1",
            port=free_port(),
            tls_cert=cert_dir / certs.TLS_CERT,
            tls_key=cert_dir / certs.TLS_KEY,
            settings=settings.from_data(config, source="test config", base=EXAMPLES),
            kubeconfig=kubeconfig,
            poll_interval=0.05,
            sync_timeout=5.0,
            policy_probe_interval=0.2,
        )
        started.append(Client(running, cert_dir / certs.CA_CERT))
        return started[-1]

    yield run
    for client in started:
        await client.close()
        await client.running.stop()


async def eventually(
    ask: Callable[[], Awaitable[dict[str, Any]]],
    done: Callable[[dict[str, Any]], bool],
    *,
    timeout: float = 5.0,
) -> dict[str, Any]:
    """Ask until `done(answer)`; the last answer (the assertion after it shows why not)."""
    deadline = asyncio.get_running_loop().time() + timeout
    answer = await ask()
    while not done(answer) and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(0.05)
        answer = await ask()
    return answer


def drops(pod: dict[str, Any], answer: dict[str, Any]) -> list[str]:
    ops = json.loads(base64.b64decode(answer["patch"]))
    added = next(op for op in ops if op["path"] == "/spec/containers/0/securityContext")
    return sorted(added["value"]["capabilities"]["drop"])


def metric(webhook: app.Webhook, name: str, labels: dict[str, str] | None = None) -> float:
    return webhook.metrics.registry.get_sample_value(name, labels or {}) or 0.0


def message(answer: dict[str, Any]) -> str:
    return str(answer.get("status", {}).get("message", ""))


async def test_a_kubectl_applied_policy_is_enforced_edited_and_deleted(
    k: Kubectl, start: Start
) -> None:
    await k.install()
    await k("apply", "-f", str(EXAMPLES / "policy-crd.yaml"))
    webhook = await start({"mode": "psp"})
    assert await webhook.get("/healthz") == (200, "ok\n")
    rootfs, privileged = load_example("pod-rootfs.yaml"), load_example("pod-privileged.yaml")

    admitted = await webhook.post("/mutate", review(rootfs))
    assert admitted["allowed"], admitted
    assert admitted["auditAnnotations"] == {"psp": "example"}
    assert drops(rootfs, admitted) == ["NET_RAW", "SYS_CHROOT"]
    refused = await webhook.post("/mutate", review(privileged))
    assert not refused["allowed"] and message(refused) == PRIVILEGED_REFUSED

    # the same policy, edited to allow host paths under /var/log only (read-only)
    await k.apply(
        crd_form("policy.yaml", allowedHostPaths=[{"pathPrefix": "/var/log", "readOnly": True}])
    )
    answer = await eventually(
        lambda: webhook.post("/mutate", review(rootfs)), lambda a: not a["allowed"]
    )
    assert message(answer) == HOST_ROOT_REFUSED

    await k(
        "patch",
        f"podsecuritypolicies.{GROUP}",
        "example",
        "--type=merge",
        "-p",
        '{"spec":{"privileged":true}}',
    )
    answer = await eventually(
        lambda: webhook.post("/mutate", review(privileged)), lambda a: a["allowed"]
    )
    assert answer["allowed"] and answer["auditAnnotations"] == {"psp": "example"}

    await k("delete", "pwpsp", "example")
    answer = await eventually(
        lambda: webhook.post("/mutate", review(privileged)), lambda a: not a["allowed"]
    )
    assert message(answer) == NO_PROVIDERS
    assert message(await webhook.post("/validate", review(rootfs))) == NO_PROVIDERS
    assert metric(webhook.running.webhook, "podwarden_psp_cluster_policies") == 0


async def test_a_malformed_policy_is_skipped_counted_and_never_allows(
    k: Kubectl, start: Start
) -> None:
    # Would admit privileged pods, and sorts first, but its ranges cannot be parsed. The
    # CRD's schema accepts it (min <= max is the engine's rule), so the API server stores it.
    broken = crd_form(
        "policy.yaml",
        privileged=True,
        runAsUser={"rule": "MustRunAs", "ranges": [{"min": 10, "max": 5}]},
    )
    broken["metadata"]["name"] = "aaa-open"
    await k.install(crd_form("policy.yaml"), broken)
    webhook = await start({"mode": "psp"})
    running = webhook.running.webhook
    privileged = load_example("pod-privileged.yaml")

    refused = await webhook.post("/mutate", review(privileged))
    assert not refused["allowed"] and message(refused) == PRIVILEGED_REFUSED
    assert running.cluster_policies is not None
    assert [p.name for p in running.policies()] == ["example"]
    reason = running.cluster_policies.skipped[f"{GROUP}/aaa-open"]
    assert "spec.runAsUser.ranges.0" in reason and "must not be greater than max" in reason
    rejected = {"group": GROUP}
    assert metric(running, "podwarden_psp_cluster_objects_rejected_total", rejected) == 1
    assert metric(running, "podwarden_psp_cluster_objects_skipped") == 1
    assert metric(running, "podwarden_psp_cluster_policies") == 1

    fixed = '{"spec":{"runAsUser":{"rule":"MustRunAs","ranges":[{"min":0,"max":65535}]}}}'
    await k("patch", "pwpsp", "aaa-open", "--type=merge", "-p", fixed)
    answer = await eventually(
        lambda: webhook.post("/mutate", review(privileged)), lambda a: a["allowed"]
    )
    assert answer["allowed"] and answer["auditAnnotations"] == {"psp": "aaa-open"}
    assert metric(running, "podwarden_psp_cluster_objects_skipped") == 0

    broken_again = '{"spec":{"runAsUser":{"rule":"MustRunAs","ranges":[]}}}'
    await k("patch", "pwpsp", "aaa-open", "--type=merge", "-p", broken_again)
    answer = await eventually(
        lambda: webhook.post("/mutate", review(privileged)), lambda a: not a["allowed"]
    )
    assert message(answer) == PRIVILEGED_REFUSED
    assert metric(running, "podwarden_psp_cluster_objects_rejected_total", rejected) == 2


async def test_only_policies_the_authorizer_allows_are_tried(k: Kubectl, start: Start) -> None:
    # `aaa-privileged` sorts first and would admit a privileged pod, but the API server
    # lets only ops-admin use it: alice's pod meets `example` alone, ops-admin's is admitted.
    open_policy = crd_form("policy.yaml", privileged=True)
    open_policy["metadata"]["name"] = "aaa-privileged"
    await k.install(crd_form("policy.yaml"), open_policy)
    webhook = await start({"mode": "psp"})
    assert [p.name for p in webhook.running.webhook.policies()] == ["aaa-privileged", "example"]
    privileged = load_example("pod-privileged.yaml")
    refused = await webhook.post("/mutate", review(privileged))
    assert not refused["allowed"] and message(refused) == PRIVILEGED_REFUSED
    as_ops = review(privileged, user="ops-admin", groups=("system:authenticated", "ops"))
    admitted = await webhook.post("/mutate", as_ops)
    assert admitted["allowed"] and admitted["auditAnnotations"] == {"psp": "aaa-privileged"}


async def test_the_crd_may_come_after_the_webhook(k: Kubectl, start: Start) -> None:
    webhook = await start({"mode": "psp"})  # no policy files, no CRD yet
    assert await webhook.get("/healthz") == (200, "ok\n")
    running = webhook.running.webhook
    assert running.cluster_policies is not None
    assert running.cluster_policies.sources() == []  # the lab serves no policy/v1beta1 either
    rootfs = load_example("pod-rootfs.yaml")
    assert message(await webhook.post("/mutate", review(rootfs))) == NO_PROVIDERS

    await k.install(crd_form("policy.yaml"))
    answer = await eventually(
        lambda: webhook.post("/mutate", review(rootfs)), lambda a: a["allowed"]
    )
    assert answer["allowed"] and drops(rootfs, answer) == ["NET_RAW", "SYS_CHROOT"]
    assert running.cluster_policies.sources() == [f"{GROUP}/v1"]


async def test_file_and_cluster_policies_together(k: Kubectl, start: Start) -> None:
    # the cluster's `var-log-only` would allow privileged pods, but the name is the file's
    clash = crd_form("policy.yaml", privileged=True)
    clash["metadata"]["name"] = "var-log-only"
    await k.install(crd_form("policy.yaml"), clash)
    config = {"mode": "psp", "psp": {"policies": ["policy-var-log.yaml"]}}
    webhook = await start(config)
    running = webhook.running.webhook
    assert [(p.name, p.api_version) for p in running.policies()] == [
        ("example", f"{GROUP}/v1"),
        ("var-log-only", "policy/v1beta1"),
    ]
    assert running.cluster_policies is not None
    assert "is already a policy file" in running.cluster_policies.skipped[f"{GROUP}/var-log-only"]
    rootfs, privileged = load_example("pod-rootfs.yaml"), load_example("pod-privileged.yaml")
    admitted = await webhook.post("/mutate", review(rootfs))  # the file's policy refuses it
    assert admitted["allowed"] and admitted["auditAnnotations"] == {"psp": "example"}
    refused = await webhook.post("/mutate", review(privileged))  # both policies refuse it
    assert not refused["allowed"]
    assert message(refused).count("Privileged containers are not allowed") == 2
    # `use` of a CRD policy is asked of RBAC in the CRD's group, of a v1beta1 one in `policy`
    assert [access.rbac_group(p) for p in running.policies()] == [GROUP, "policy"]

    files_only = await start(dict(config, psp={**config["psp"], "clusterPolicies": False}))
    assert files_only.running.webhook.cluster_policies is None
    refused = await files_only.post("/mutate", review(rootfs))
    assert message(refused) == HOST_ROOT_REFUSED


class _Counts:
    def __init__(self) -> None:
        self.rejected: list[str] = []

    def policy_rejected(self, source: str) -> None:
        self.rejected.append(source)

    def policy_counts(self, *, in_use: int, skipped: int) -> None:
        pass


async def test_not_ready_until_the_api_server_has_been_listed(tmp_path: Path) -> None:
    port = free_port()
    api = kube_client.from_url(f"http://127.0.0.1:{port}")
    file_policy = engine.load_policies([load_example("policy-var-log.yaml")])
    policies = clusterpolicies.ClusterPolicies(
        api, file_policies=file_policy, metrics=_Counts(), probe_interval=0.1
    )
    task = asyncio.create_task(policies.run())
    lab = LabApiServer(bookmark_interval=60.0)
    try:
        await asyncio.sleep(0.5)  # nothing listens yet: discovery fails, no readiness
        assert not policies.synced.is_set()
        assert [p.name for p in policies.effective] == ["var-log-only"]
        crd = yaml.safe_load(CRD_FILE.read_text())
        lab.storage.create(
            lab.storage_type("customresourcedefinitions", "apiextensions.k8s.io"), None, crd
        )
        served = lab.storage.registry.by_path(GROUP, "v1", "podsecuritypolicies")
        assert served is not None
        lab.storage.create(served, None, crd_form("policy.yaml"))
        await lab.start("127.0.0.1", port)
        await asyncio.wait_for(policies.synced.wait(), 10.0)
        assert [p.name for p in policies.effective] == ["example", "var-log-only"]
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await lab.stop()
        await api.close()


def test_check_accepts_the_crd_form_policy() -> None:
    result = CliRunner().invoke(
        cli.main,
        [
            "check",
            "--policy",
            str(EXAMPLES / "policy-crd.yaml"),
            "--format",
            "json",
            str(EXAMPLES / "pod-rootfs.yaml"),
            str(EXAMPLES / "pod-privileged.yaml"),
        ],
    )
    assert result.exit_code == 1, result.output  # the privileged pod is refused
    rootfs, privileged = json.loads(result.stdout)
    assert rootfs["allowed"] and rootfs["policy"] == "example"
    container_patch = next(op for op in rootfs["patch"] if "containers" in op["path"])
    assert sorted(container_patch["value"]["capabilities"]["drop"]) == ["NET_RAW", "SYS_CHROOT"]
    assert not privileged["allowed"]
    assert privileged["reasons"] == [PRIVILEGED_REFUSED.split("[", 1)[1].rstrip("]")]


async def test_a_forbidden_collection_is_skipped_not_waited_for() -> None:
    """An API server (a faithful stand-in: discovery, then 403 Forbidden on the list, as
    when the webhook's ClusterRole lacks list/watch) must not keep the webhook unready."""
    forbidden = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": 'podsecuritypolicies.policy.podwarden.io is forbidden: User "x" cannot list '
        'resource "podsecuritypolicies" in API group "policy.podwarden.io" at the cluster scope',
        "reason": "Forbidden",
        "code": 403,
    }
    version = {"groupVersion": f"{GROUP}/v1", "version": "v1"}
    routes = {
        f"/apis/{GROUP}": (
            200,
            {"kind": "APIGroup", "name": GROUP, "versions": [version], "preferredVersion": version},
        ),
        f"/apis/{GROUP}/v1": (
            200,
            {
                "kind": "APIResourceList",
                "groupVersion": f"{GROUP}/v1",
                "resources": [{"name": "podsecuritypolicies"}],
            },
        ),
        f"/apis/{GROUP}/v1/podsecuritypolicies": (403, forbidden),
    }
    lists: list[str] = []

    async def handle(request: web.Request) -> web.Response:
        status, body = routes.get(request.path, (404, {"kind": "Status", "code": 404}))
        if request.path.endswith("podsecuritypolicies"):
            lists.append(request.path)
        return web.json_response(body, status=status)

    fake = web.Application()
    fake.router.add_get("/{tail:.*}", handle)
    runner = web.AppRunner(fake)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    api = kube_client.from_url(f"http://127.0.0.1:{port}")
    policies = clusterpolicies.ClusterPolicies(
        api, file_policies=(), metrics=_Counts(), probe_interval=0.1
    )
    task = asyncio.create_task(policies.run())
    try:
        await asyncio.wait_for(policies.synced.wait(), 5.0)
        assert policies.sources() == [] and policies.effective == ()
        await asyncio.sleep(0.35)
        assert len(lists) >= 2  # asked again later: RBAC may be granted meanwhile
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await api.close()
        await runner.cleanup()
