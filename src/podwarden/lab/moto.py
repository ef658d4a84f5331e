"""AWS for the lab (`podwarden lab up --sts moto`): moto's server with IAM, STS and S3.

moto runs on the cloud host. It is seeded once, then IAM enforcement is
switched on, so an assumed role can do only what its policy allows:

- user `node` may sts:AssumeRole/TagSession on anything: the node's own keys,
  written as a shared-credentials file the agent reads through the standard
  AWS chain (its environment points there), never shown to a pod;
- role `reader` (s3:ListBucket and s3:GetObject on `team-bucket`) and role
  `no-list` (s3:GetObject only), both trusting `node`;
- bucket `team-bucket` holding `report.csv`.

Seeding runs in the cloud namespace with boto3 (moto's own client path),
as a subprocess, so the lab process itself never imports the AWS stack.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from podwarden.lab import netns
from podwarden.lab import plan as lab_plan

PORT = 5000
URL = f"http://{lab_plan.CLOUD_V4}:{PORT}"
ACCOUNT = "123456789012"
BASE_ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/"
BUCKET = "team-bucket"
ROLES = ("reader", "no-list")
NODE_CREDENTIALS_NAME = "aws-node-credentials"  # in the lab's state directory

_SEED = r"""
import json, os, sys, urllib.request
for name in [k for k in os.environ if k.startswith("AWS_")]:  # the caller's profile, keys...
    del os.environ[name]
import boto3
url, acct, bucket = sys.argv[1:4]
def client(name):
    return boto3.client(name, endpoint_url=url, region_name="us-east-1",
                        aws_access_key_id="seed", aws_secret_access_key="seed")
iam, s3 = client("iam"), client("s3")
doc = lambda *st: json.dumps({"Version": "2012-10-17", "Statement": list(st)})
iam.create_user(UserName="node")
iam.put_user_policy(UserName="node", PolicyName="assume", PolicyDocument=doc(
    {"Effect": "Allow", "Action": ["sts:AssumeRole", "sts:TagSession"], "Resource": "*"}))
key = iam.create_access_key(UserName="node")["AccessKey"]
s3.create_bucket(Bucket=bucket)
s3.put_object(Bucket=bucket, Key="report.csv", Body=b"a,b\n")
trust = doc({"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{acct}:user/node"},
             "Action": ["sts:AssumeRole", "sts:TagSession"]})
arn = "arn:aws:s3:::" + bucket
for name, actions in (("reader", ["s3:ListBucket", "s3:GetObject"]), ("no-list", ["s3:GetObject"])):
    iam.create_role(RoleName=name, AssumeRolePolicyDocument=trust)
    iam.put_role_policy(RoleName=name, PolicyName="s3", PolicyDocument=doc(
        {"Effect": "Allow", "Action": actions, "Resource": [arn, arn + "/*"]}))
urllib.request.urlopen(urllib.request.Request(url + "/moto-api/reset-auth", data=b"0",
    method="POST", headers={"Content-Type": "text/plain"}), timeout=5).read()
print(json.dumps({"key": key["AccessKeyId"], "secret": key["SecretAccessKey"]}))
"""


class MotoError(Exception):
    """moto could not be seeded; the message carries the seeding script's error."""


def argv() -> list[str]:
    """moto's server on the cloud host's address (this venv's `moto_server`)."""
    server = Path(sys.executable).with_name("moto_server")
    return [str(server), "-H", lab_plan.CLOUD_V4, "-p", str(PORT)]


def seed(*, cloud_netns: str, credentials_file: Path) -> None:
    """Create the node user, the roles and the bucket; write the node's keys to `credentials_file`.

    The file is the AWS shared-credentials format (profile `default`), mode 0600.
    """
    done = netns.run(
        [sys.executable, "-c", _SEED, URL, ACCOUNT, BUCKET],
        netns=cloud_netns,
        timeout=60,
        check=False,
    )
    if done.returncode != 0:
        raise MotoError(f"seeding moto failed ({done.returncode}): {done.stderr.strip()[-500:]}")
    try:
        keys = json.loads(done.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError) as exc:
        raise MotoError(f"seeding moto printed no keys ({exc}): {done.stdout[-200:]!r}") from exc
    credentials_file.parent.mkdir(parents=True, exist_ok=True)
    credentials_file.touch(mode=0o600)
    credentials_file.chmod(0o600)
    credentials_file.write_text(
        f"[default]\naws_access_key_id = {keys['key']}\naws_secret_access_key = {keys['secret']}\n"
    )
