"""The exact bodies each metadata protocol expects for identity paths (pure).

AWS IMDS: credentials JSON with Code, LastUpdated, Type "AWS-HMAC",
AccessKeyId, SecretAccessKey, Token and Expiration as `%Y-%m-%dT%H:%M:%SZ`
(botocore requires the four key fields plus Expiration); `iam/info` with
Code, LastUpdated, InstanceProfileArn and InstanceProfileId; errors as IMDS's
XHTML pages. A role that cannot be assumed gets IMDS's own document for an
instance profile whose role EC2 cannot assume: HTTP 200 with Code
`AssumeRoleUnauthorizedAccess`, a Message and LastUpdated, no keys (botocore
reads a 200 with Code and Message as "no credentials"); a source that could
not be asked gets the same shape with its short code. Neither carries the
source's own message: STS's names the node's IAM principal. Container credentials (the
AWS_CONTAINER_CREDENTIALS_FULL_URI protocol): AccessKeyId, SecretAccessKey,
Token, Expiration (ISO 8601) and RoleArn. GCE: the token JSON
(access_token, expires_in, token_type) and the service-account directory.
"""

from __future__ import annotations

import functools
import hashlib
import json
import time
from datetime import UTC, datetime

from podwarden.metadata.identity.assign import AwsRole
from podwarden.metadata.identity.iam_credentials import AccessToken
from podwarden.metadata.identity.sts import AwsCredentials
from podwarden.metadata.model import Outcome, Respond
from podwarden.metadata.providers import aws as aws_provider

IMDS_TIME = "%Y-%m-%dT%H:%M:%SZ"
JSON = "application/json"
TEXT = "text/plain"
GCE_TEXT = "application/text"


def _stamp(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime(IMDS_TIME)


def served(rule_id: str, body: str | bytes, *, content_type: str = TEXT) -> Respond:
    """A pod's own identity answer (credentials, a listing): counted as an answer."""
    data = body.encode() if isinstance(body, str) else body
    return Respond(
        rule_id=rule_id, status=200, body=data, content_type=content_type, outcome=Outcome.ANSWER
    )


def refused(rule_id: str, body: str | bytes, *, status: int, content_type: str = TEXT) -> Respond:
    """An identity request the pod gets nothing for (no role, another role, a failure)."""
    data = body.encode() if isinstance(body, str) else body
    return Respond(rule_id=rule_id, status=status, body=data, content_type=content_type)


def imds_page(rule_id: str, status: int) -> Respond:
    """IMDS's own XHTML error page (404 for everything the pod may not see)."""
    return refused(rule_id, aws_provider.page(status), status=status, content_type="text/html")


@functools.lru_cache(maxsize=4096)
def imds_credentials(creds: AwsCredentials) -> str:
    return json.dumps(
        {
            "Code": "Success",
            "LastUpdated": _stamp(creds.issued),
            "Type": "AWS-HMAC",
            "AccessKeyId": creds.access_key_id,
            "SecretAccessKey": creds.secret_access_key,
            "Token": creds.token,
            "Expiration": _stamp(creds.expiration),
        },
        indent=2,
    )


UNASSUMABLE = "AssumeRoleUnauthorizedAccess"


def imds_failure(role: AwsRole, *, code: str, refused: bool) -> str:
    """What a pod reads when its role cannot be assumed (refused) or not right now."""
    if refused:
        code, message = UNASSUMABLE, f"The role {role.name} cannot be assumed for this pod."
    else:
        message = f"Credentials for the role {role.name} are unavailable; try again later."
    return json.dumps(
        {"Code": code, "Message": message, "LastUpdated": _stamp(time.time())}, indent=2
    )


def instance_profile_id(arn: str) -> str:
    """A stable, plausible InstanceProfileId (AIPA + 17 uppercase hex-ish characters)."""
    return "AIPA" + hashlib.sha256(arn.encode()).hexdigest()[:17].upper()


def imds_info(role: AwsRole) -> str:
    partition = role.arn.split(":")[1]
    profile = f"arn:{partition}:iam::{role.account}:instance-profile/{role.name}"
    return json.dumps(
        {
            "Code": "Success",
            "LastUpdated": _stamp(time.time()),
            "InstanceProfileArn": profile,
            "InstanceProfileId": instance_profile_id(role.arn),
        },
        indent=2,
    )


@functools.lru_cache(maxsize=4096)
def container_credentials(creds: AwsCredentials) -> str:
    return json.dumps(
        {
            "AccessKeyId": creds.access_key_id,
            "SecretAccessKey": creds.secret_access_key,
            "Token": creds.token,
            "Expiration": _stamp(creds.expiration),
            "RoleArn": creds.role_arn,
        }
    )


def container_error(code: str, message: str) -> str:
    return json.dumps({"code": code, "message": message[:300]})


def gce_token(token: AccessToken, *, now: float) -> str:
    return json.dumps(
        {
            "access_token": token.token,
            "expires_in": max(0, int(token.expiry - now)),
            "token_type": "Bearer",
        }
    )


def gce_account(email: str, scopes: tuple[str, ...]) -> str:
    """`service-accounts/<sa>/?recursive=true`: what google-auth reads for e-mail and scopes."""
    return json.dumps({"aliases": ["default"], "email": email, "scopes": list(scopes)})


GCE_ACCOUNT_LISTING = "aliases\nemail\nidentity\nscopes\ntoken\n"
