"""Which cloud identity may this pod have? Pure: pod and namespace in, answer out.

The answer is an assignment (the key the credential cache is indexed by), a
refusal (the pod asked for something it may not have: a Kubernetes Event says
why), or None (the pod asked for nothing: it simply has no identity). The
namespace rule is `api.rolepolicy.role_permitted`, shared with admission, and
it fails closed: an unknown namespace permits nothing.

STS constraints honoured here (AssumeRole API reference): RoleSessionName is
2-64 characters of `[\\w+=,.@-]`; session tag keys are at most 128 and values
at most 256 characters of letters, digits, spaces and `_.:/=+-@`.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass

from podwarden.api import iamroles, keys, rolepolicy
from podwarden.kube.objects import Pod
from podwarden.metadata.identity.settings import IdentitySettings

MAX_SESSION_NAME = 64
_SESSION_BAD = re.compile(r"[^\w+=,.@-]", re.ASCII)
_TAG_BAD = re.compile(r"[^\w .:/=+@-]", re.ASCII)
GCP_EMAIL = re.compile(r"^[a-z0-9][a-z0-9-]{4,61}[a-z0-9]@[a-z0-9.-]+\.gserviceaccount\.com$")
AZURE_CLIENT_ID = re.compile(r"^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")
TAG_KEYS = ("kubernetes-namespace", "kubernetes-pod", "kubernetes-service-account")


@dataclass(frozen=True, slots=True)
class AwsRole:
    """An AssumeRole call's inputs; equal values share cached credentials."""

    arn: str
    external_id: str
    session_name: str
    tags: tuple[tuple[str, str], ...] = ()

    @property
    def name(self) -> str:
        """The role's name (last ARN segment), as IMDS lists it."""
        return self.arn.rsplit("/", 1)[-1]

    @property
    def account(self) -> str:
        return self.arn.split(":")[4]


@dataclass(frozen=True, slots=True)
class GcpAccount:
    """The Google service account a pod impersonates."""

    email: str


@dataclass(frozen=True, slots=True)
class AzureClient:
    """The user-assigned managed identity a pod's token requests name."""

    client_id: str


@dataclass(frozen=True, slots=True)
class Refusal:
    """The pod asked for an identity it may not have; `reason` is for the pod's Event.

    `report` is False for a refusal that may only mean "not yet" (the
    namespace's watch event has not arrived): logged, but no Event is raised.
    """

    reason: str
    message: str
    report: bool = True


def session_name(namespace: str, pod: str) -> str:
    """`namespace.pod`, made valid for STS; long names keep a hash so they stay distinct."""
    wanted = _SESSION_BAD.sub("-", f"{namespace}.{pod}")
    if len(wanted) < 2:
        wanted = (wanted + "--")[:2]
    if len(wanted) <= MAX_SESSION_NAME:
        return wanted
    digest = hashlib.sha256(f"{namespace}/{pod}".encode()).hexdigest()[:10]
    return wanted[: MAX_SESSION_NAME - 11] + "-" + digest


def role_session_name(arn: str) -> str:
    """The shared session's name when sessions are per role (scope "role")."""
    digest = hashlib.sha256(arn.encode()).hexdigest()[:10]
    name = _SESSION_BAD.sub("-", arn.rsplit("/", 1)[-1])
    return f"podwarden-{name}"[: MAX_SESSION_NAME - 11] + "-" + digest


def session_tags(pod: Pod) -> tuple[tuple[str, str], ...]:
    """Namespace, pod and service account as STS session tags (values cut to 256)."""
    values = (pod.namespace, pod.name, pod.service_account)
    return tuple(
        (key, _TAG_BAD.sub("_", value)[:256]) for key, value in zip(TAG_KEYS, values, strict=True)
    )


def role_arn(role: str, base_role_arn: str | None) -> str | None:
    """The role's full ARN (a name is joined to `base_role_arn`), or None when unusable."""
    try:
        return iamroles.resolve(role, base_role_arn).arn
    except iamroles.RoleValueError:
        return None


def _permitted(
    kind: rolepolicy.Kind,
    value: str,
    namespace: Mapping[str, str] | None,
    settings: IdentitySettings,
) -> Refusal | None:
    if not settings.restrict_namespaces:
        return None
    if namespace is None:
        return Refusal(
            "IdentityNotPermitted", "the pod's namespace is not known (yet)", report=False
        )
    allowed, why = rolepolicy.role_permitted(
        kind, value, namespace, base_role_arn=settings.base_role_arn
    )
    return None if allowed else Refusal("IdentityNotPermitted", why)


def aws(
    pod: Pod, namespace: Mapping[str, str] | None, settings: IdentitySettings
) -> AwsRole | Refusal | None:
    """The role `pod` may assume (annotation, else `--default-role`), or why not."""
    annotations = pod.annotations
    wanted = annotations.get(keys.AWS_ROLE) or settings.default_role
    if wanted is None or not wanted.strip():
        return None
    try:
        arn = iamroles.resolve(wanted, settings.base_role_arn).arn
    except iamroles.RoleValueError as exc:
        return Refusal("InvalidIdentity", str(exc))
    refused = _permitted("aws", wanted.strip(), namespace, settings)
    if refused is not None:
        return refused
    if settings.session_scope == "role":
        return AwsRole(arn, annotations.get(keys.AWS_EXTERNAL_ID, ""), role_session_name(arn))
    return AwsRole(
        arn=arn,
        external_id=annotations.get(keys.AWS_EXTERNAL_ID, ""),
        session_name=session_name(pod.namespace, pod.name),
        tags=session_tags(pod) if settings.session_tags else (),
    )


def gcp(
    pod: Pod, namespace: Mapping[str, str] | None, settings: IdentitySettings
) -> GcpAccount | Refusal | None:
    """The service account `pod` may impersonate (Workload Identity's annotation), or why not."""
    email = pod.annotations.get(keys.GCP_SERVICE_ACCOUNT, "").strip()
    if not email:
        return None
    if not GCP_EMAIL.match(email):
        return Refusal("InvalidIdentity", f"{email!r} is not a service-account e-mail")
    refused = _permitted("gcp", email, namespace, settings)
    return refused if refused is not None else GcpAccount(email)


def azure(
    pod: Pod, namespace: Mapping[str, str] | None, settings: IdentitySettings
) -> AzureClient | Refusal | None:
    """The managed identity's client ID `pod` may use, or why not."""
    client_id = pod.annotations.get(keys.AZURE_CLIENT_ID, "").strip()
    if not client_id:
        return None
    if not AZURE_CLIENT_ID.match(client_id):
        return Refusal("InvalidIdentity", f"{client_id!r} is not a client ID (a GUID)")
    refused = _permitted("azure", client_id, namespace, settings)
    return refused if refused is not None else AzureClient(client_id.lower())
