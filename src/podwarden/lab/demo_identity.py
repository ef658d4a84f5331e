"""The kube2iam walkthrough in the lab: kubectl annotates a pod, awscli in the pod follows.

A lab with moto (`Lab.start_sts`: IAM, STS, S3; seeded, then IAM
enforcement on). Its pods are Pod objects in the lab API server, and its
agent follows them with its identity flags (real netfilter: pod traffic to
169.254.169.254 is DNATed to the agent's proxy in the node namespace); it
assumes roles in moto with the node user's keys. The walkthrough permits two
roles in the `default` namespace, then, from pod-a:

1. `aws s3 ls s3://team-bucket` → "Unable to locate credentials";
2. `kubectl annotate pods pod-a iam.amazonaws.com/role=reader` → the listing works;
3. `kubectl annotate pods pod-a iam.amazonaws.com/role-` → it fails again;
4. role `no-list` (its policy lacks s3:ListBucket) → AccessDenied.

`Walkthrough` is used by the system test and by the demo act (`run`).
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from podwarden.api import metadata_addresses
from podwarden.lab import cluster, moto
from podwarden.lab.demo_model import ActContext, Row
from podwarden.lab.topology import Lab

ACT = "pod identity (kube2iam walkthrough)"
POD = "pod-a"
ROLE_KEY = "iam.amazonaws.com/role"
ALLOWED_ROLES_KEY = "iam.amazonaws.com/allowed-roles"


class WalkthroughError(Exception):
    """A step of the walkthrough's setup failed; the message says which."""


@dataclass
class Walkthrough:
    """The walkthrough's moving parts around a running lab (agent not yet started)."""

    lab: Lab
    workdir: Path

    def setup(self) -> None:
        """Start moto, permit the walkthrough's roles in the namespace, start the agent."""
        self.lab.start_sts()
        allowed = json.dumps(list(moto.ROLES))
        self.kubectl(
            "annotate",
            "--overwrite",
            "namespace",
            cluster.NAMESPACE,
            f"{ALLOWED_ROLES_KEY}={allowed}",
        )
        self.lab.start_proxy("aws")

    def kubectl(self, *args: str) -> str:
        """kubectl against the lab API server; WalkthroughError when it fails."""
        done = self.lab.kubectl(*args)
        if done.returncode != 0:
            raise WalkthroughError(
                f"kubectl {' '.join(args)} failed ({done.returncode}): {done.stderr.strip()[-500:]}"
            )
        return done.stdout

    def annotate(self, role: str | None) -> None:
        value = f"{ROLE_KEY}-" if role is None else f"{ROLE_KEY}={role}"
        self.kubectl("annotate", "--overwrite", "pods", POD, value)

    def ls(self) -> tuple[int, str]:
        """`aws s3 ls s3://team-bucket` in the pod: (exit code, stdout + stderr)."""
        aws = str(Path(sys.executable).with_name("aws"))
        done = self.lab.exec(
            POD,
            [aws, "--endpoint-url", moto.URL, "s3", "ls", f"s3://{moto.BUCKET}"],
            env={
                "AWS_ACCESS_KEY_ID": "",
                "AWS_SECRET_ACCESS_KEY": "",
                "AWS_SESSION_TOKEN": "",
                "AWS_SHARED_CREDENTIALS_FILE": str(self.workdir / "pod-none"),
                "AWS_CONFIG_FILE": str(self.workdir / "pod-none"),
                "AWS_DEFAULT_REGION": "us-east-1",
                "AWS_EC2_METADATA_SERVICE_ENDPOINT": f"http://{metadata_addresses.IMDS_V4}/",
                "AWS_METADATA_SERVICE_NUM_ATTEMPTS": "2",
            },
            timeout=60,
        )
        return done.returncode, done.stdout + done.stderr

    def ls_until(self, ok: Callable[[int, str], bool], *, timeout: float = 15.0) -> tuple[int, str]:
        """Repeat `ls` until `ok` holds (the watch event needs a moment), bounded."""
        deadline = time.monotonic() + timeout
        while True:
            code, out = self.ls()
            if ok(code, out) or time.monotonic() > deadline:
                return code, out
            time.sleep(0.3)


def outcome(code: int, out: str) -> str:
    """One short phrase for an `aws s3 ls` result."""
    if code == 0:
        return "listing works" if "report.csv" in out else "empty listing"
    for phrase in ("Unable to locate credentials", "AccessDenied"):
        if phrase in out:
            return phrase
    return f"exit {code}: {out.strip().splitlines()[-1][:60] if out.strip() else ''}"


STEPS: tuple[tuple[str, str | None, str], ...] = (
    (f"{POD}, no annotation", None, "Unable to locate credentials"),
    ("annotate role=reader", "reader", "listing works"),
    ("remove the annotation", None, "Unable to locate credentials"),
    ("annotate role=no-list", "no-list", "AccessDenied"),
)


def _expecting(expected: str) -> Callable[[int, str], bool]:
    return lambda code, out: outcome(code, out) == expected


def walk(
    ctx: ActContext, *, after_step: Callable[[Walkthrough, int], None] | None = None
) -> list[Row]:
    """Every step, as rows (used by the demo and the system test, which checks more)."""
    rows: list[Row] = []
    with ctx.lab(provider="aws", proxy=False) as the_lab, tempfile.TemporaryDirectory() as tmp:
        walkthrough = Walkthrough(the_lab, Path(tmp))
        walkthrough.setup()
        allowed = json.dumps(list(moto.ROLES))
        ctx.echo(
            f"$ kubectl annotate namespace {cluster.NAMESPACE} {ALLOWED_ROLES_KEY}='{allowed}'"
        )
        for index, (check, role, expected) in enumerate(STEPS):
            if index:
                value = f"{ROLE_KEY}-" if role is None else f"{ROLE_KEY}={role}"
                ctx.echo(f"$ kubectl annotate --overwrite pods {POD} {value}")
                walkthrough.annotate(role)
            code, out = walkthrough.ls_until(_expecting(expected))
            seen = outcome(code, out)
            ctx.echo(f"$ aws s3 ls s3://{moto.BUCKET}  # {check}: {seen}")
            if after_step is not None:
                after_step(walkthrough, index)
            rows.append(
                Row(
                    act=ACT,
                    check=check,
                    before="-",
                    after=seen,
                    expected=expected,
                    ok=seen == expected,
                )
            )
    return rows


def run(ctx: ActContext) -> list[Row]:
    """The demo act."""
    return walk(ctx)
