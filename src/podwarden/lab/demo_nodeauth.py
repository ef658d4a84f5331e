"""The demo's node-authorization act: node A's credentials, node B's data.

The lab API server starts as the careless cluster of issue 10 (nodes.py): every
node may do anything, the log-shipper DaemonSet's account may read every pod and no
NodeRestriction runs. From the node's namespace, with node A's kubelet token, and
from a pod on node A, with the log shipper's node-bound token, the act tries:

1. node A reads the secret of a pod on A, and the secret of a pod on B;
2. node A relabels node B (server-side dry run: nothing is written);
3. the node-scoped log shipper on A lists the pods of B, and those of A;
4. `podwarden nodeauth verify` asks the API server about node A.

Then `podwarden nodeauth serve --mode deny` starts in the node (certificates from
`podwarden webhook certs`), and the API server's configuration puts it first in the
authorizer chain and in admission — what an AuthorizationConfiguration and a
ValidatingWebhookConfiguration do in a cluster — and the same commands run again.
"""

from __future__ import annotations

import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from podwarden.lab import cluster, files, launch, netns, nodes, processes
from podwarden.lab import plan as lab_plan
from podwarden.lab.demo_model import ActContext, Row
from podwarden.lab.state import ProcessRecord
from podwarden.lab.topology import Lab

ACT = "node authorization"
PORT = 9443
API = f"http://{lab_plan.NODE_POD_SIDE_V4}:{cluster.APISERVER_PORT}"


class Scene:
    """The commands of the act, run against the lab as it is configured now."""

    def __init__(self, lab: Lab, ctx: ActContext) -> None:
        self.lab = lab
        self.ctx = ctx
        auth = files.auth_config_path(lab.state_dir)
        self.node_token = nodes.token(auth, f"system:node:{nodes.NODE_A}")
        shipper_ns, shipper = nodes.SHIPPER
        self.shipper_token = nodes.token(auth, f"system:serviceaccount:{shipper_ns}:{shipper}")

    def _curl(self, where: str, token: str, method: str, path: str, body: str = "") -> str:
        """HTTP status (or curl's exit) of one request; the response body is never shown."""
        argv = ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-m", "10", "-X", method,
                "-H", f"Authorization: Bearer {token}"]  # fmt: skip
        if body:
            argv += ["-H", "Content-Type: application/merge-patch+json", "--data", body]
        argv.append(f"{API}{path}")
        if where == "node":
            done = subprocess.run(
                netns.pid_netns_argv(self.lab.plan.node, argv),
                capture_output=True, text=True, timeout=30, check=False,
            )  # fmt: skip
        else:
            done = self.lab.exec(where, argv)
        code = done.stdout.strip()
        self.ctx.echo(f"  HTTP {code}" if code else f"  curl exit {done.returncode}")
        return code or f"curl exit {done.returncode}"

    def as_node(self, what: str, method: str, path: str, body: str = "") -> tuple[bool, str]:
        self.ctx.echo(f"$ (node A, kubelet's token) {what}: curl -X {method} {API}{path}")
        code = self._curl("node", self.node_token, method, path, body)
        return code.startswith("2"), f"HTTP {code}"

    def shipper_lists(self, node: str) -> tuple[bool, str]:
        path = f"/api/v1/pods?fieldSelector=spec.nodeName%3D{node}"
        self.ctx.echo(f"$ (pod-a, log shipper's token bound to lab-node) curl {API}{path}")
        code = self._curl("pod-a", self.shipper_token, "GET", path)
        return code == "200", f"HTTP {code}"

    def verify(self) -> tuple[bool, str]:
        self.ctx.echo(
            f"$ podwarden nodeauth verify --node {nodes.NODE_A} --other-node {nodes.NODE_B}"
        )
        argv = [*launch.podwarden_argv(), "nodeauth", "verify", "--kubeconfig",
                str(self.lab.kubeconfig), "--node", nodes.NODE_A,
                "--other-node", nodes.NODE_B]  # fmt: skip
        done = subprocess.run(
            netns.pid_netns_argv(self.lab.plan.node, argv),
            capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        for line in done.stdout.splitlines():
            self.ctx.echo(f"  {line[:110]}")
        verdicts = [line.split()[0].lower() for line in done.stdout.splitlines() if line.strip()]
        counted = [f"{verdicts.count(v)} {v}" for v in ("exposed", "protected", "inconclusive")]
        summary = ", ".join(c for c in counted if not c.startswith("0 "))
        return (
            done.returncode == 0,
            f"exit {done.returncode}: {summary or done.stderr.strip()[:60]}",
        )

    def run(self) -> dict[str, tuple[bool, str]]:
        secrets = f"/api/v1/namespaces/{nodes.NAMESPACE}/secrets"
        return {
            "own": self.as_node("get A's secret", "GET", f"{secrets}/{nodes.SECRET_A}"),
            "other": self.as_node("get B's secret", "GET", f"{secrets}/{nodes.SECRET_B}"),
            "relabel": self.as_node(
                "relabel node B (server dry run)",
                "PATCH",
                f"/api/v1/nodes/{nodes.NODE_B}?dryRun=All",
                '{"metadata":{"labels":{"owned-by":"lab-node"}}}',
            ),
            "list-b": self.shipper_lists(nodes.NODE_B),
            "list-a": self.shipper_lists(nodes.NODE_A),
            "verify": self.verify(),
        }


def _start_podwarden(lab: Lab, ctx: ActContext) -> tuple[ProcessRecord, Path]:
    workdir = files.nodeauth_path(lab.state_dir)
    workdir.mkdir(exist_ok=True)
    ctx.echo(
        "$ podwarden webhook certs --service podwarden-nodeauth --namespace podwarden "
        "--ip 127.0.0.1"
    )
    subprocess.run(
        [*launch.podwarden_argv(), "webhook", "certs", "--service", "podwarden-nodeauth",
         "--namespace", "podwarden", "--out", str(workdir), "--ip", "127.0.0.1"],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    argv = [*launch.podwarden_argv(), "nodeauth", "serve", "--listen", f"127.0.0.1:{PORT}",
            "--tls-cert", str(workdir / "tls.crt"), "--tls-key", str(workdir / "tls.key"),
            "--kubeconfig", str(lab.kubeconfig), "--mode", "deny"]  # fmt: skip
    ctx.echo(f"$ podwarden nodeauth serve --listen 127.0.0.1:{PORT} --kubeconfig … --mode deny")
    record = lab._spawn("nodeauth", lab.plan.node, argv)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        probe = subprocess.run(
            netns.pid_netns_argv(lab.plan.node, ["curl", "-s", "--cacert", str(workdir / "ca.crt"),
                                                 f"https://127.0.0.1:{PORT}/readyz"]),
            capture_output=True, text=True, timeout=10, check=False,
        )  # fmt: skip
        if probe.stdout.strip() == "ok":
            return record, workdir / "ca.crt"
        time.sleep(0.1)
    raise RuntimeError(f"podwarden nodeauth serve not ready in 30 s; see {record.log}")


def _put_podwarden_in_front(lab: Lab, ca: Path) -> None:
    path = files.auth_config_path(lab.state_dir)
    config = nodes.read(path)
    url = f"https://127.0.0.1:{PORT}"
    who = {"groups": ["system:nodes"], "userPrefixes": ["system:serviceaccount:"]}
    config["authorizers"] = [
        {"type": "Webhook", "url": f"{url}/authorize", "caFile": str(ca), **who},
        nodes.careless_authorizer(),
    ]
    config["admission"] = [
        {"type": "Webhook", "url": f"{url}/admit", "caFile": str(ca), "groups": ["system:nodes"]}
    ]
    nodes.write(path, config)


CHECKS = (
    ("own", "node A reads the secret of its pod", True, True),
    ("other", "node A reads the secret of a pod on B", True, False),
    ("relabel", "node A relabels node B (dry run)", True, False),
    ("list-b", "node-scoped DaemonSet pod on A lists B's pods", True, False),
    ("list-a", "node-scoped DaemonSet pod on A lists A's pods", True, True),
    ("verify", "podwarden nodeauth verify --node lab-node", False, True),
)
"""(key, check, allowed without podwarden, allowed with it)."""


def _shown(result: tuple[bool, str]) -> str:
    ok, text = result
    if text.startswith("HTTP"):
        return f"{'allowed' if ok else 'refused'} ({text})"
    return text


def _word(allowed: bool) -> str:
    return "allowed" if allowed else "refused"


def run(ctx: ActContext) -> list[Row]:
    with ctx.lab(provider="aws", proxy=False) as lab:
        ctx.echo(
            f"nodes: {nodes.NODE_A} (A) and {nodes.NODE_B} (B); "
            "the cluster's RBAC lets nodes do anything"
        )
        # podwarden's certificates and first list take seconds: they start now, beside the
        # "without" scene (the API server does not send it anything until it is put in front)
        with ThreadPoolExecutor(max_workers=1) as pool:
            starting = pool.submit(_start_podwarden, lab, ctx)
            before = Scene(lab, ctx).run()
            record, ca = starting.result(timeout=60)
        try:
            _put_podwarden_in_front(lab, ca)
            ctx.echo("API server: podwarden first in the authorizer chain and in admission")
            after = Scene(lab, ctx).run()
        finally:
            processes.stop(record)
    rows = []
    for key, check, allowed_before, allowed_after in CHECKS:
        got_before, got_after = before[key], after[key]
        rows.append(
            Row(
                act=ACT,
                check=check,
                before=_shown(got_before),
                after=_shown(got_after),
                expected=(
                    "exit 1 -> exit 0"
                    if key == "verify"
                    else f"{_word(allowed_before)} -> {_word(allowed_after)}"
                ),
                ok=got_before[0] == allowed_before and got_after[0] == allowed_after,
            )
        )
    return rows
