"""AWS EC2 instance metadata service (IMDS v1 and v2), as SDKs see it.

Written by hand because no maintained library serves IMDS with its exact
status codes, token rules and listings (moto serves a few credentials paths
only). What is reproduced, from the IMDS documentation and botocore's client:
`/` lists the API versions; `latest` and every dated version are the same tree;
directories list their entries one per line (sub-directories with a trailing
`/`), and answer with or without the trailing slash, as leaves do; unknown paths
are 404 with IMDS's HTML page; `PUT /latest/api/token` needs
`X-aws-ec2-metadata-token-ttl-seconds` in 1..21600 (400 otherwise) and is
refused with 403 when it carries `X-Forwarded-For`; a GET with a bad or expired
token is 401, and so is a token-less GET in `imdsv2 required` mode.
"""

from __future__ import annotations

import functools
import json
import secrets as random_secrets
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from aiohttp import web

from podwarden.lab.cloud import secrets
from podwarden.lab.cloud.state import AwsState

Leaf = str | Callable[[], str]
Tree = dict[str, "Leaf | Tree"]

VERSIONS = [
    "1.0",
    "2007-01-19",
    "2007-03-01",
    "2007-08-29",
    "2007-10-10",
    "2007-12-15",
    "2008-02-01",
    "2008-09-01",
    "2009-04-04",
    "2011-01-01",
    "2011-05-01",
    "2012-01-12",
    "2014-02-25",
    "2014-11-05",
    "2015-10-20",
    "2016-04-19",
    "2016-06-30",
    "2016-09-02",
    "2018-03-28",
    "2018-08-17",
    "2018-09-24",
    "2019-10-01",
    "2020-10-27",
    "2021-01-03",
    "2021-03-23",
    "2021-07-15",
    "2022-09-24",
    "latest",
]
TOKEN_PATH = "/latest/api/token"
TTL_REQUEST_HEADER = "X-aws-ec2-metadata-token-ttl-seconds"
TOKEN_HEADER = "X-aws-ec2-metadata-token"
TTL_RESPONSE_HEADER = "X-Aws-Ec2-Metadata-Token-Ttl-Seconds"
MAX_TTL = 21600
CREDENTIALS_LIFETIME = timedelta(hours=6)
_IMDS_TIME = "%Y-%m-%dT%H:%M:%SZ"
_KEY = "emulator-key"

_ERROR_PAGE = """<?xml version="1.0" encoding="iso-8859-1"?>
<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Transitional//EN"
\t"http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd">
<html xmlns="http://www.w3.org/1999/xhtml" xml:lang="en" lang="en">
 <head>
  <title>{status} - {reason}</title>
 </head>
 <body>
  <h1>{status} - {reason}</h1>
 </body>
</html>
"""


def error(status: int, reason: str) -> web.Response:
    """IMDS's XHTML error page (the body botocore logs on failures)."""
    return web.Response(
        status=status,
        text=_ERROR_PAGE.format(status=status, reason=reason),
        content_type="text/html",
        headers={"Server": "EC2ws"},
    )


@functools.lru_cache(maxsize=64)
def imds_credentials(
    *, access_key_id: str, secret_access_key: str, token: str, now: datetime
) -> str:
    """The IMDS credentials JSON: botocore requires all four keys plus Expiration.

    `now` is the issue time; callers pass the start of the hour, so the answer
    stays the same until the next rotation, as IMDS's does, and is cached.
    """
    return json.dumps(
        {
            "Code": "Success",
            "LastUpdated": now.strftime(_IMDS_TIME),
            "Type": "AWS-HMAC",
            "AccessKeyId": access_key_id,
            "SecretAccessKey": secret_access_key,
            "Token": token,
            "Expiration": (now + CREDENTIALS_LIFETIME).strftime(_IMDS_TIME),
        },
        indent=2,
    )


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def _issued() -> datetime:
    """Credentials rotate hourly here: always 5-6 hours of validity left."""
    return datetime.now(UTC).replace(minute=0, second=0, microsecond=0)


def meta_data_tree(node: AwsState) -> Tree:
    """The `meta-data/` tree; credentials are leaves computed at request time."""
    mac_tree: Tree = {
        "device-number": "0",
        "interface-id": node.interface_id,
        "local-hostname": node.hostname,
        "local-ipv4s": node.local_ipv4,
        "mac": node.mac,
        "owner-id": node.account_id,
        "security-group-ids": node.security_group_id,
        "security-groups": node.security_group,
        "subnet-id": node.subnet_id,
        "subnet-ipv4-cidr-block": node.subnet_cidr,
        "vpc-id": node.vpc_id,
        "vpc-ipv4-cidr-block": node.vpc_cidr,
        "vpc-ipv4-cidr-blocks": node.vpc_cidr,
    }

    def node_credentials() -> str:
        return imds_credentials(
            access_key_id=node.access_key_id,
            secret_access_key=node.secret_access_key,
            token=node.session_token,
            now=_issued(),
        )

    def identity_credentials() -> str:
        return imds_credentials(
            access_key_id=secrets.EC2_IDENTITY_ACCESS_KEY_ID,
            secret_access_key=secrets.EC2_IDENTITY_SECRET_ACCESS_KEY,
            token=secrets.EC2_IDENTITY_SESSION_TOKEN,
            now=_issued(),
        )

    def iam_info() -> str:
        return json.dumps(
            {
                "Code": "Success",
                "LastUpdated": _now().strftime(_IMDS_TIME),
                "InstanceProfileArn": (
                    f"arn:aws:iam::{node.account_id}:instance-profile/{node.node_role_name}"
                ),
                "InstanceProfileId": "AIPAEMULATORPROFILE01",
            },
            indent=2,
        )

    def identity_info() -> str:
        return json.dumps(
            {
                "Code": "Success",
                "LastUpdated": _now().strftime(_IMDS_TIME),
                "AccountId": node.account_id,
            },
            indent=2,
        )

    return {
        "ami-id": node.ami_id,
        "ami-launch-index": "0",
        "ami-manifest-path": "(unknown)",
        "block-device-mapping": {"ami": "/dev/xvda", "root": "/dev/xvda"},
        "events": {"maintenance": {"history": "[]", "scheduled": "[]"}},
        "hostname": node.hostname,
        "iam": {
            "info": iam_info,
            "security-credentials": {node.node_role_name: node_credentials},
        },
        "identity-credentials": {
            "ec2": {
                "info": identity_info,
                "security-credentials": {"ec2-instance": identity_credentials},
            }
        },
        "instance-action": "none",
        "instance-id": node.instance_id,
        "instance-life-cycle": "on-demand",
        "instance-type": node.instance_type,
        "local-hostname": node.hostname,
        "local-ipv4": node.local_ipv4,
        "mac": node.mac,
        "metrics": {"vhostmd": '<?xml version="1.0" encoding="UTF-8"?>'},
        "network": {"interfaces": {"macs": {node.mac: mac_tree}}},
        "placement": {
            "availability-zone": node.availability_zone,
            "availability-zone-id": node.availability_zone_id,
            "region": node.region,
        },
        "profile": "default-hvm",
        "public-keys": {"0": {"openssh-key": f"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5EMULATOR {_KEY}"}},
        "reservation-id": "r-0emulator00000001",
        "security-groups": node.security_group,
        "services": {"domain": "amazonaws.com", "partition": "aws"},
    }


def identity_document(node: AwsState) -> str:
    """dynamic/instance-identity/document, with the fields the real one has."""
    return json.dumps(
        {
            "accountId": node.account_id,
            "architecture": "x86_64",
            "availabilityZone": node.availability_zone,
            "billingProducts": None,
            "devpayProductCodes": None,
            "marketplaceProductCodes": None,
            "imageId": node.ami_id,
            "instanceId": node.instance_id,
            "instanceType": node.instance_type,
            "kernelId": None,
            "pendingTime": "2026-01-01T00:00:00Z",
            "privateIp": node.local_ipv4,
            "ramdiskId": None,
            "region": node.region,
            "version": "2017-09-30",
        },
        indent=2,
    )


def version_tree(node: AwsState) -> Tree:
    """One API version's root: meta-data, dynamic, and user-data when the node has some."""
    tree: Tree = {
        "meta-data": meta_data_tree(node),
        "dynamic": {
            "instance-identity": {
                "document": identity_document(node),
                "pkcs7": secrets.AWS_IDENTITY_PKCS7,
                "signature": secrets.AWS_IDENTITY_SIGNATURE,
                "rsa2048": secrets.AWS_IDENTITY_RSA2048,
            }
        },
    }
    if node.user_data is not None:
        tree["user-data"] = node.user_data
    return tree


def listing(tree: Tree, *, public_keys: bool = False) -> str:
    """IMDS directory listing: one entry a line, directories with a trailing slash.

    `public-keys/` is the exception: it lists `index=key-name`.
    """
    if public_keys:
        return "\n".join(f"{index}={_KEY}" for index in sorted(tree))
    return "\n".join(
        f"{name}/" if isinstance(child, dict) else name for name, child in sorted(tree.items())
    )


class Imds:
    """The IMDS application logic; `handle` answers any request under `/`."""

    def __init__(
        self,
        node: AwsState,
        *,
        imdsv2_required: bool = False,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.node = node
        self.imdsv2_required = imdsv2_required
        self._clock = clock
        self._tokens: dict[str, float] = {}
        self._tree = version_tree(node)

    def issue_token(self, ttl: int) -> str:
        """A fresh random session token valid for `ttl` seconds."""
        now = self._clock()
        self._tokens = {t: exp for t, exp in self._tokens.items() if exp > now}
        token = "AQAEA" + random_secrets.token_urlsafe(40)
        self._tokens[token] = now + ttl
        return token

    def token_ttl_left(self, token: str) -> int | None:
        """Whole seconds left on a token, or None if unknown or expired."""
        expiry = self._tokens.get(token)
        left = None if expiry is None else expiry - self._clock()
        return None if left is None or left <= 0 else max(1, int(left))

    async def handle(self, request: web.Request) -> web.StreamResponse:
        if request.path == TOKEN_PATH:
            return self._token(request)
        if request.method == "PUT" and request.path.endswith("/api/token"):
            return error(403, "Forbidden")  # tokens come from /latest only, as documented
        if request.method not in ("GET", "HEAD"):
            return error(405, "Method Not Allowed")
        headers = {"Server": "EC2ws"}
        token = request.headers.get(TOKEN_HEADER)
        if token is not None:
            left = self.token_ttl_left(token)
            if left is None:
                return error(401, "Unauthorized")
            headers[TTL_RESPONSE_HEADER] = str(left)
        elif self.imdsv2_required:
            return error(401, "Unauthorized")
        body = self._lookup(request.path)
        if body is None:
            return error(404, "Not Found")
        content_type = "application/octet-stream" if "/user-data" in request.path else "text/plain"
        return web.Response(body=body.encode(), content_type=content_type, headers=headers)

    def _token(self, request: web.Request) -> web.Response:
        if request.method != "PUT":
            return error(405, "Method Not Allowed")
        if "X-Forwarded-For" in request.headers:
            return error(403, "Forbidden")
        raw = request.headers.get(TTL_REQUEST_HEADER, "")
        ttl = int(raw) if raw.isdigit() else 0
        if not 1 <= ttl <= MAX_TTL:
            return error(400, "Missing or Invalid Parameters")
        return web.Response(
            text=self.issue_token(ttl),
            content_type="text/plain",
            headers={TTL_RESPONSE_HEADER: str(ttl), "Server": "EC2ws"},
        )

    def _lookup(self, path: str) -> str | None:
        if path == "/":
            return "\n".join(VERSIONS)
        parts = path.strip("/").split("/")
        if parts[0] not in VERSIONS or "" in parts:
            return None
        node: Leaf | Tree = self._tree
        for part in parts[1:]:
            if not isinstance(node, dict) or part not in node:
                return None
            node = node[part]
        if isinstance(node, dict):
            # A version's root names its parts without trailing slashes, as IMDS does.
            if len(parts) == 1:
                return "\n".join(sorted(node))
            return listing(node, public_keys=parts[-1] == "public-keys")
        return node() if callable(node) else node
