"""The kube2iam walkthrough in the lab: kubectl annotates a pod, awscli in the pod follows.

Inside a lab (real netfilter: pod traffic to 169.254.169.254 is DNATed to
the agent's proxy in the node namespace), the cloud host additionally runs the lab
API server and moto (IAM, STS, S3; seeded, then IAM enforcement on). The
agent runs with its identity flags: it watches the API server for node-a's
pods and assumes roles in moto with the node user's keys (environment, the
first link of the standard chain). Then, from pod-a:

1. `aws s3 ls s3://team-bucket` → "Unable to locate credentials";
2. `kubectl annotate pods mypod iam.amazonaws.com/role=reader` → the listing works;
3. `kubectl annotate pods mypod iam.amazonaws.com/role-` → it fails again;
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
from typing import Any

from podwarden.lab import netns, processes, topology
from podwarden.lab import plan as lab_plan
from podwarden.lab.demo_model import ActContext, Row
from podwarden.lab.topology import Lab

ACT = "pod identity (kube2iam walkthrough)"
POD = "pod-a"
BUCKET = "team-bucket"
ACCOUNT = "123456789012"
BASE_ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/"
APISERVER_PORT = 6443
MOTO_PORT = 5000
ROLE_KEY = "iam.amazonaws.com/role"

SEED = r"""
import json, sys, boto3, urllib.request
url = sys.argv[1]
def client(name):
    return boto3.client(name, endpoint_url=url, region_name="us-east-1",
                        aws_access_key_id="seed", aws_secret_access_key="seed")
iam, s3 = client("iam"), client("s3")
acct = sys.argv[2]
iam.create_user(UserName="node")
doc = lambda *st: json.dumps({"Version": "2012-10-17", "Statement": list(st)})
iam.put_user_policy(UserName="node", PolicyName="assume", PolicyDocument=doc(
    {"Effect": "Allow", "Action": ["sts:AssumeRole", "sts:TagSession"], "Resource": "*"}))
key = iam.create_access_key(UserName="node")["AccessKey"]
s3.create_bucket(Bucket=sys.argv[3])
s3.put_object(Bucket=sys.argv[3], Key="report.csv", Body=b"a,b\n")
trust = doc({"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{acct}:user/node"},
             "Action": ["sts:AssumeRole", "sts:TagSession"]})
arn = "arn:aws:s3:::" + sys.argv[3]
for name, actions in (("reader", ["s3:ListBucket", "s3:GetObject"]), ("no-list", ["s3:GetObject"])):
    iam.create_role(RoleName=name, AssumeRolePolicyDocument=trust)
    iam.put_role_policy(RoleName=name, PolicyName="s3", PolicyDocument=doc(
        {"Effect": "Allow", "Action": actions, "Resource": [arn, arn + "/*"]}))
urllib.request.urlopen(urllib.request.Request(url + "/moto-api/reset-auth", data=b"0",
    method="POST", headers={"Content-Type": "text/plain"}), timeout=5).read()
print(json.dumps({"key": key["AccessKeyId"], "secret": key["SecretAccessKey"]}))
"""

KUBECONFIG = """apiVersion: v1
kind: Config
clusters: [{name: lab, cluster: {server: "%s"}}]
users: [{name: lab, user: {}}]
contexts: [{name: lab, context: {cluster: lab, user: lab, namespace: team}}]
current-context: lab
"""


class WalkthroughError(Exception):
    """A step of the walkthrough's setup failed; the message says which."""


def _checked(proc: Any, what: str) -> str:
    if proc.returncode != 0:
        raise WalkthroughError(f"{what} failed ({proc.returncode}): {proc.stderr.strip()[-500:]}")
    return str(proc.stdout)


@dataclass
class Walkthrough:
    """The walkthrough's moving parts around a running lab (proxy not yet started)."""

    lab: Lab
    workdir: Path

    @property
    def cloud_url(self) -> str:
        return f"http://{lab_plan.CLOUD_V4}"

    @property
    def kubeconfig(self) -> Path:
        return self.workdir / "kubeconfig"

    def setup(self) -> None:
        """Start API server and moto on the cloud host, seed them, start the proxy."""
        bin_dir = Path(sys.executable).parent
        cloud = self.lab.plan.cloud
        api = self.lab._spawn(
            "apiserver",
            cloud,
            [
                *topology.podwarden_argv(),
                "lab",
                "apiserver",
                "--listen",
                f"{lab_plan.CLOUD_V4}:{APISERVER_PORT}",
            ],
        )
        moto = self.lab._spawn(
            "moto",
            cloud,
            [str(bin_dir / "moto_server"), "-H", lab_plan.CLOUD_V4, "-p", str(MOTO_PORT)],
        )
        processes.wait_listening(api, [APISERVER_PORT], timeout=30)
        processes.wait_listening(moto, [MOTO_PORT], timeout=30)
        moto_url = f"{self.cloud_url}:{MOTO_PORT}"
        seeded = _checked(
            netns.run(
                [sys.executable, "-c", SEED, moto_url, ACCOUNT, BUCKET],
                netns=cloud,
                timeout=60,
                check=False,
            ),
            "seeding moto",
        )
        keys = json.loads(seeded.strip().splitlines()[-1])
        self.kubeconfig.write_text(KUBECONFIG % f"{self.cloud_url}:{APISERVER_PORT}")
        namespace = {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {
                "name": "team",
                "annotations": {
                    "iam.amazonaws.com/allowed-roles": json.dumps(["reader", "no-list"])
                },
            },
        }
        self._apply(namespace)
        pod = self.lab.plan.pods[0]
        body = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "mypod", "namespace": "team"},
            "spec": {"nodeName": "node-a", "containers": [{"name": "c", "image": "aws-cli"}]},
            "status": {
                "phase": "Running",
                "podIP": pod.ipv4,
                "podIPs": [{"ip": pod.ipv4}, {"ip": pod.ipv6}],
            },
        }
        _checked(
            netns.run(
                [
                    "curl",
                    "-sS",
                    "--fail",
                    "-X",
                    "POST",
                    "-H",
                    "Content-Type: application/json",
                    "--data",
                    json.dumps(body),
                    f"{self.cloud_url}:{APISERVER_PORT}/api/v1/namespaces/team/pods",
                ],
                netns=self.lab.plan.node,
                check=False,
            ),
            "creating the pod",
        )
        # The node's own keys (the first link of the standard chain) and the identity flags,
        # for the agent (or the proxy, with the other interception modes) alike.
        self.lab.service_env = {
            "AWS_ACCESS_KEY_ID": keys["key"],
            "AWS_SECRET_ACCESS_KEY": keys["secret"],
            "AWS_SESSION_TOKEN": "",
            "AWS_SHARED_CREDENTIALS_FILE": str(self.workdir / "none"),
            "AWS_CONFIG_FILE": str(self.workdir / "none"),
        }
        self.lab.service_flags = [
            "--kubeconfig",
            str(self.kubeconfig),
            "--node",
            "node-a",
            "--base-role-arn",
            BASE_ROLE_ARN,
            "--sts-endpoint",
            moto_url,
        ]
        self.lab.start_proxy("aws")

    def _apply(self, obj: dict[str, Any]) -> None:
        path = self.workdir / f"{obj['kind'].lower()}.json"
        path.write_text(json.dumps(obj))
        self.kubectl("apply", "-f", str(path))

    def kubectl(self, *args: str) -> str:
        return _checked(
            netns.run(
                ["kubectl", "--kubeconfig", str(self.kubeconfig), *args],
                netns=self.lab.plan.node,
                check=False,
            ),
            "kubectl " + " ".join(args),
        )

    def annotate(self, role: str | None) -> None:
        value = f"{ROLE_KEY}-" if role is None else f"{ROLE_KEY}={role}"
        self.kubectl("annotate", "--overwrite", "pods", "mypod", value)

    def ls(self) -> tuple[int, str]:
        """`aws s3 ls s3://team-bucket` in the pod: (exit code, stdout + stderr)."""
        aws = str(Path(sys.executable).with_name("aws"))
        done = self.lab.exec(
            POD,
            [aws, "--endpoint-url", f"{self.cloud_url}:{MOTO_PORT}", "s3", "ls", f"s3://{BUCKET}"],
            env={
                "AWS_ACCESS_KEY_ID": "",
                "AWS_SECRET_ACCESS_KEY": "",
                "AWS_SESSION_TOKEN": "",
                "AWS_SHARED_CREDENTIALS_FILE": str(self.workdir / "pod-none"),
                "AWS_CONFIG_FILE": str(self.workdir / "pod-none"),
                "AWS_DEFAULT_REGION": "us-east-1",
                "AWS_EC2_METADATA_SERVICE_ENDPOINT": f"http://{lab_plan.IMDS_V4}/",
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
    ("mypod, no annotation", None, "Unable to locate credentials"),
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
        for index, (check, role, expected) in enumerate(STEPS):
            if index:
                walkthrough.annotate(role)
            code, out = walkthrough.ls_until(_expecting(expected))
            seen = outcome(code, out)
            ctx.echo(f"$ aws s3 ls s3://{BUCKET}  # {check}: {seen}")
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
