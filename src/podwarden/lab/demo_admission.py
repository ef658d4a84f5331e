"""The demo's admission act: the classic PodSecurityPolicy walkthrough, end to end.

Three reviews go to a real `podwarden webhook` over TLS, its certificates from
`podwarden webhook certs` in a temporary directory: the pod mounting the host's /
at /rootfs is admitted by the walkthrough's policy with SYS_CHROOT and NET_RAW
dropped by the patch; a privileged pod is refused with PSP's message; and the
rootfs pod is refused under the policy allowing only /var/log (read-only). Then
the admitted pod's process starts in a lab pod's namespace holding the
capability set a runtime would give the patched pod: chroot and ping fail with
EPERM, while the same commands with the unpatched pod's set succeed.

The webhook listens on 127.0.0.1 (the node's loopback, where a cluster's API
server would reach it through its Service); only the pod process runs in the lab.
"""

from __future__ import annotations

import base64
import json
import re
import ssl
import subprocess
import tempfile
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml

from podwarden.lab import capabilities, launch
from podwarden.lab.demo_model import ActContext, Row
from podwarden.lab.ports import free_port, wait_listening
from podwarden.lab.topology import Lab
from podwarden.podsecurity.psp import patch

ACT = "pod security admission"
POD = "pod-a"
EXAMPLES = Path(__file__).resolve().parents[3] / "examples" / "psp-walkthrough"
_PRIVILEGED_REFUSAL = (
    "spec.containers[0].securityContext.privileged: Invalid value: true: "
    "Privileged containers are not allowed"
)
_VAR_LOG_REFUSAL = (
    'spec.volumes[0].hostPath.pathPrefix: Invalid value: "/": is not allowed to be used'
)
_CHROOT = ["chroot", "/", "/bin/true"]
_PING = ["ping", "-c", "1", "-W", "2", "127.0.0.1"]


def _example(name: str) -> dict[str, Any]:
    path = EXAMPLES / name
    if not path.exists():
        raise FileNotFoundError(f"{path}: the walkthrough examples ship with the source tree")
    loaded: dict[str, Any] = yaml.safe_load(path.read_text())
    return loaded


def _review(pod: dict[str, Any]) -> bytes:
    request = {
        "uid": str(uuid.uuid4()),
        "kind": {"group": "", "version": "v1", "kind": "Pod"},
        "resource": {"group": "", "version": "v1", "resource": "pods"},
        "namespace": "default",
        "name": pod["metadata"]["name"],
        "operation": "CREATE",
        "userInfo": {"username": "alice", "groups": ["system:authenticated"]},
        "object": pod,
    }
    body = {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": request}
    return json.dumps(body).encode()


class _Webhook:
    """A `podwarden webhook` process with one policy file; POSTs reviews over TLS."""

    def __init__(self, *, port: int, context: ssl.SSLContext) -> None:
        self.port = port
        self.context = context

    def mutate(self, pod: dict[str, Any]) -> dict[str, Any]:
        request = urllib.request.Request(
            f"https://127.0.0.1:{self.port}/mutate",
            data=_review(pod),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, context=self.context, timeout=15) as response:
            answer: dict[str, Any] = json.loads(response.read())["response"]
        return answer


def _issue_certs(workdir: Path, ctx: ActContext) -> ssl.SSLContext:
    argv = [*launch.podwarden_argv(), "webhook", "certs", "--service", "podwarden-webhook",
            "--namespace", "podwarden", "--out", str(workdir), "--ip", "127.0.0.1"]  # fmt: skip
    ctx.echo("$ podwarden webhook certs --service podwarden-webhook --namespace podwarden "
              "--out DIR --ip 127.0.0.1")  # fmt: skip
    subprocess.run(argv, check=True, capture_output=True, timeout=60)
    return ssl.create_default_context(cafile=str(workdir / "ca.crt"))


@contextmanager
def _webhook(workdir: Path, policy: str, context: ssl.SSLContext) -> Iterator[_Webhook]:
    cluster = workdir / "cluster.yaml"
    cluster.write_text(yaml.safe_dump({"kind": "Namespace", "metadata": {"name": "default"}}))
    config = workdir / f"webhook-{Path(policy).stem}.yaml"
    config.write_text(
        yaml.safe_dump({"mode": "psp", "psp": {"policies": [str(EXAMPLES / policy)]}})
    )
    port = free_port()
    argv = [*launch.podwarden_argv(), "webhook", "--listen", f"127.0.0.1:{port}",
            "--tls-cert", str(workdir / "tls.crt"), "--tls-key", str(workdir / "tls.key"),
            "--cluster-file", str(cluster), "--config", str(config)]  # fmt: skip
    process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_listening("127.0.0.1", port, timeout=30)
        yield _Webhook(port=port, context=context)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


_PSP_REASON = re.compile(r"Invalid value: (?P<value>.*?): (?P<reason>[^\]]*)")


def _verdict(answer: dict[str, Any], *, full: bool = False) -> str:
    """ "admitted", or "refused: " and PSP's reason (the whole message with `full`)."""
    if answer.get("allowed"):
        return "admitted"
    message = str((answer.get("status") or {}).get("message", ""))
    found = _PSP_REASON.search(message)
    if full or found is None:
        return f"refused: {message}"
    value = found["value"]
    shown = f"{value} " if value.startswith('"') else ""
    return f"refused: {shown}{found['reason']}"


def _admission_rows(ctx: ActContext) -> tuple[list[Row], dict[str, Any] | None]:
    """The three reviews; also the patched rootfs pod (None when it was not admitted)."""
    rootfs = _example("pod-rootfs.yaml")
    rows: list[Row] = []
    patched: dict[str, Any] | None = None
    with tempfile.TemporaryDirectory(prefix="pw-demo-admission-") as tmp:
        workdir = Path(tmp)
        context = _issue_certs(workdir, ctx)
        ctx.echo("$ podwarden webhook --config (policy.yaml) … ; POST /mutate rootfs, privileged")
        with _webhook(workdir, "policy.yaml", context) as webhook:
            answer = webhook.mutate(rootfs)
            ops = json.loads(base64.b64decode(answer["patch"])) if answer.get("patch") else []
            if answer.get("allowed"):
                patched = patch.apply(rootfs, ops)
            drops = _dropped(patched)
            ctx.echo(f"  rootfs pod: {_verdict(answer)}; patch drops {', '.join(drops) or '-'}")
            rows.append(
                Row(
                    act=ACT,
                    check="hostPath / pod under the walkthrough PSP",
                    before="admitted as is",
                    after=f"{_verdict(answer)}, drop {'+'.join(drops) or 'nothing'}",
                    expected="admitted, drop NET_RAW+SYS_CHROOT",
                    ok=bool(answer.get("allowed")) and {"NET_RAW", "SYS_CHROOT"} <= set(drops),
                )
            )
            refused = webhook.mutate(_example("pod-privileged.yaml"))
            ctx.echo(f"  privileged pod: {_verdict(refused, full=True)}")
            rows.append(
                Row(
                    act=ACT,
                    check="privileged pod under the walkthrough PSP",
                    before="admitted",
                    after=_verdict(refused),
                    expected="refused: Privileged containers are not allowed",
                    ok=not refused.get("allowed")
                    and _PRIVILEGED_REFUSAL in _verdict(refused, full=True),
                )
            )
        ctx.echo("$ podwarden webhook --config (policy-var-log.yaml) … ; POST /mutate rootfs")
        with _webhook(workdir, "policy-var-log.yaml", context) as webhook:
            var_log = webhook.mutate(rootfs)
            ctx.echo(f"  rootfs pod: {_verdict(var_log, full=True)}")
            rows.append(
                Row(
                    act=ACT,
                    check="hostPath / pod under allowedHostPaths /var/log",
                    before="admitted",
                    after=_verdict(var_log),
                    expected='refused: "/" is not allowed to be used',
                    ok=not var_log.get("allowed")
                    and _VAR_LOG_REFUSAL in _verdict(var_log, full=True),
                )
            )
    return rows, patched


def _dropped(pod: dict[str, Any] | None) -> list[str]:
    """The first container's dropped capabilities (where the walkthrough's patch puts them)."""
    if pod is None:
        return []
    context = pod["spec"]["containers"][0].get("securityContext") or {}
    return sorted(str(name) for name in (context.get("capabilities") or {}).get("drop") or [])


def _outcome(done: subprocess.CompletedProcess[str]) -> str:
    if done.returncode == 0:
        return "works"
    if "Operation not permitted" in done.stderr:
        return "EPERM"
    return f"fails (exit {done.returncode}: {done.stderr.strip()[:60]})"


def _process_rows(
    ctx: ActContext, lab: Lab, original: dict[str, Any], patched: dict[str, Any]
) -> list[Row]:
    admitted = capabilities.container_capabilities(patched["spec"]["containers"][0])
    unpatched = capabilities.container_capabilities(original["spec"]["containers"][0])
    rows = []
    for label, argv in (("chroot /", _CHROOT), ("ping (raw socket)", _PING)):
        before = _outcome(lab.exec(POD, capabilities.setpriv_argv(unpatched, argv)))
        after = _outcome(lab.exec(POD, capabilities.setpriv_argv(admitted, argv)))
        ctx.echo(f"$ {' '.join(argv)}  # in {POD}: unpatched {before}, admitted {after}")
        rows.append(
            Row(
                act=ACT,
                check=f"{label} in the admitted pod's process",
                before=before,
                after=after,
                expected="works before, EPERM after",
                ok=before == "works" and after == "EPERM",
            )
        )
    return rows


def run(ctx: ActContext) -> list[Row]:
    """Three reviews through the webhook, then the admitted capability set in a lab pod."""
    rows, patched = _admission_rows(ctx)
    if patched is None:
        return rows
    with ctx.lab(provider="aws", proxy=False) as lab:
        rows += _process_rows(ctx, lab, _example("pod-rootfs.yaml"), patched)
    return rows
