"""The catalogue of doors a pod could try: every metadata endpoint worth abusing.

Pure data. A check is a short chain of HTTP steps (discover the role name,
then read its keys; or take an IMDSv2 token, then use it) and what its last
answer would expose. `run.py` walks the chains; `findings.py` reads answers.
The paths are the ones the public walkthroughs use with curl.
"""

from __future__ import annotations

from dataclasses import dataclass

from podwarden.api import metadata_addresses
from podwarden.probe.findings import Exposure, Reading, Severity

PREVIOUS = "{prev}"  # replaced by the first line of the previous answer (a role name)

_AWS_TOKEN_TTL = ("X-aws-ec2-metadata-token-ttl-seconds", "21600")
_AWS_TOKEN_HEADER = "X-aws-ec2-metadata-token"
_GOOGLE = (("Metadata-Flavor", "Google"),)
_AZURE = (("Metadata", "true"),)


@dataclass(frozen=True)
class Step:
    """One HTTP request of a check.

    `saves_token`: the answer is a session token for later steps;
    `sends_token`: the header that carries the saved token;
    `reads_each`: the answer is a directory listing, and each entry is read too
    (GCE attributes: which of them does the server hand out?).
    """

    method: str
    path: str
    headers: tuple[tuple[str, str], ...] = ()
    saves_token: bool = False
    sends_token: str | None = None
    reads_each: bool = False


@dataclass(frozen=True)
class Check:
    """An endpoint, how to reach its secret, and what that secret is."""

    id: str
    service: str
    host: str
    port: int
    steps: tuple[Step, ...]
    looks_for: Exposure
    reading: Reading = Reading.LEAF
    reachable_severity: Severity = Severity.INFO

    @property
    def endpoint(self) -> str:
        """The address and the final path, as a reader would type it into curl."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        port = "" if self.port == 80 else f":{self.port}"
        return f"{host}{port}{self.steps[-1].path.replace(PREVIOUS, '<role>')}"


def _imds_role_chain(*, v2: bool, base: str) -> tuple[Step, ...]:
    token = (Step("PUT", "/latest/api/token", (_AWS_TOKEN_TTL,), saves_token=True),) if v2 else ()
    send = _AWS_TOKEN_HEADER if v2 else None
    return (
        *token,
        Step("GET", base, sends_token=send),
        Step("GET", base + PREVIOUS, sends_token=send),
    )


def _imds_leaf(path: str, *, v2: bool) -> tuple[Step, ...]:
    if not v2:
        return (Step("GET", path),)
    return (
        Step("PUT", "/latest/api/token", (_AWS_TOKEN_TTL,), saves_token=True),
        Step("GET", path, sends_token=_AWS_TOKEN_HEADER),
    )


_ROLE_BASE = "/latest/meta-data/iam/security-credentials/"
_EC2_IDENTITY = "/latest/meta-data/identity-credentials/ec2/security-credentials/ec2-instance"
_GCE_SA = "/computeMetadata/v1/instance/service-accounts/default"
_GCE_ATTRIBUTES = "/computeMetadata/v1/{scope}/attributes/"
_AZURE_TOKEN = (
    "/metadata/identity/oauth2/token?api-version=2018-02-01&resource=https://management.azure.com/"
)


def _aws() -> list[Check]:
    creds, leaf, secret = Exposure.CREDENTIALS, Reading.LEAF, Reading.CREDENTIALS_JSON
    checks: list[Check] = []
    for version, v2 in (("v1", False), ("v2", True)):
        checks += [
            Check(
                f"aws-imds{version}-node-credentials",
                "aws",
                metadata_addresses.IMDS_V4,
                80,
                _imds_role_chain(v2=v2, base=_ROLE_BASE),
                creds,
                secret,
            ),
            Check(
                f"aws-imds{version}-user-data",
                "aws",
                metadata_addresses.IMDS_V4,
                80,
                _imds_leaf("/latest/user-data", v2=v2),
                Exposure.USER_DATA,
                leaf,
            ),
        ]
    checks += [
        Check(  # a dated version is the same tree: a filter on `latest` alone misses it
            "aws-imds-dated-node-credentials",
            "aws",
            metadata_addresses.IMDS_V4,
            80,
            _imds_role_chain(v2=False, base=_ROLE_BASE.replace("/latest/", "/2009-04-04/")),
            creds,
            secret,
        ),
        Check(
            "aws-imdsv1-identity-credentials",
            "aws",
            metadata_addresses.IMDS_V4,
            80,
            _imds_leaf(_EC2_IDENTITY, v2=False),
            creds,
            secret,
        ),
        Check(
            "aws-imds-ipv6-node-credentials",
            "aws",
            metadata_addresses.IMDS_V6,
            80,
            _imds_role_chain(v2=False, base=_ROLE_BASE),
            creds,
            secret,
        ),
        Check(
            "aws-imds-ipv6-v2-node-credentials",
            "aws",
            metadata_addresses.IMDS_V6,
            80,
            _imds_role_chain(v2=True, base=_ROLE_BASE),
            creds,
            secret,
        ),
    ]
    return checks


def _gce() -> list[Check]:
    kube_env = "/instance/attributes/kube-env"
    return [
        Check(
            "gce-kube-env",
            "gce",
            metadata_addresses.IMDS_V4,
            80,
            (Step("GET", "/computeMetadata/v1" + kube_env, _GOOGLE),),
            Exposure.KUBE_ENV,
        ),
        Check(
            "gce-legacy-kube-env",
            "gce",
            metadata_addresses.IMDS_V4,
            80,
            (Step("GET", "/computeMetadata/v1beta1" + kube_env),),
            Exposure.KUBE_ENV,
        ),
        Check(
            "gce-legacy-0.1-kube-env",
            "gce",
            metadata_addresses.IMDS_V4,
            80,
            (Step("GET", "/0.1/meta-data/attributes/kube-env"),),
            Exposure.KUBE_ENV,
        ),
        Check(  # the whole instance tree holds every attribute, kube-env included
            "gce-recursive-kube-env",
            "gce",
            metadata_addresses.IMDS_V4,
            80,
            (Step("GET", "/computeMetadata/v1/instance/?recursive=true&alt=json", _GOOGLE),),
            Exposure.KUBE_ENV,
            Reading.GCE_TREE,
        ),
        *(
            Check(  # every attribute served beyond GKE's cluster-name/-location/-uid
                f"gce-{scope}-attributes",
                "gce",
                metadata_addresses.IMDS_V4,
                80,
                (Step("GET", _GCE_ATTRIBUTES.format(scope=scope), _GOOGLE, reads_each=True),),
                Exposure.ATTRIBUTES,
                Reading.GCE_ATTRIBUTES,
            )
            for scope in ("instance", "project")
        ),
        Check(
            "gce-recursive-attributes",
            "gce",
            metadata_addresses.IMDS_V4,
            80,
            (
                Step(
                    "GET",
                    _GCE_ATTRIBUTES.format(scope="instance") + "?recursive=true&alt=json",
                    _GOOGLE,
                ),
            ),
            Exposure.ATTRIBUTES,
            Reading.GCE_ATTRIBUTE_TREE,
        ),
        Check(
            "gce-node-sa-token",
            "gce",
            metadata_addresses.IMDS_V4,
            80,
            (Step("GET", _GCE_SA + "/token", _GOOGLE),),
            Exposure.CREDENTIALS,
            Reading.CREDENTIALS_JSON,
        ),
        Check(
            "gce-node-identity",
            "gce",
            metadata_addresses.IMDS_V4,
            80,
            (Step("GET", _GCE_SA + "/identity?audience=https://probe.podwarden.invalid", _GOOGLE),),
            Exposure.IDENTITY_TOKEN,
        ),
    ]


def _azure() -> list[Check]:
    return [
        Check(
            "azure-managed-identity-token",
            "azure",
            metadata_addresses.IMDS_V4,
            80,
            (Step("GET", _AZURE_TOKEN, _AZURE),),
            Exposure.CREDENTIALS,
            Reading.CREDENTIALS_JSON,
        ),
        Check(  # IMDS matches paths case-insensitively: so must any filter in front of it
            "azure-token-mixed-case",
            "azure",
            metadata_addresses.IMDS_V4,
            80,
            (
                Step(
                    "GET",
                    _AZURE_TOKEN.replace("/identity/oauth2/token", "/Identity/OAuth2/Token"),
                    _AZURE,
                ),
            ),
            Exposure.CREDENTIALS,
            Reading.CREDENTIALS_JSON,
        ),
        Check(
            "azure-user-data",
            "azure",
            metadata_addresses.IMDS_V4,
            80,
            (
                Step(
                    "GET",
                    "/metadata/instance/compute/userData?api-version=2021-01-01&format=text",
                    _AZURE,
                ),
            ),
            Exposure.USER_DATA,
        ),
        Check(
            "azure-instance-document",
            "azure",
            metadata_addresses.IMDS_V4,
            80,
            (Step("GET", "/metadata/instance?api-version=2021-02-01", _AZURE),),
            Exposure.USER_DATA,
            Reading.INSTANCE_DOCUMENT,
        ),
        Check(
            "azure-wireserver",
            "azure",
            metadata_addresses.WIRESERVER_V4,
            80,
            (Step("GET", "/?comp=versions"),),
            Exposure.BOOTSTRAP_TOKEN,
            Reading.VM_SETTINGS,
            Severity.MEDIUM,
        ),
        Check(
            "azure-wireserver-hostgaplugin",
            "azure",
            metadata_addresses.WIRESERVER_V4,
            32526,
            (Step("GET", "/vmSettings"),),
            Exposure.BOOTSTRAP_TOKEN,
            Reading.VM_SETTINGS,
            Severity.MEDIUM,
        ),
    ]


def _containers(ecs_relative_uri: str | None, eks_token: str | None) -> list[Check]:
    ecs_path = (
        ecs_relative_uri
        if ecs_relative_uri and ecs_relative_uri.startswith("/")
        else "/v2/credentials/"
    )
    auth = (("Authorization", eks_token),) if eks_token else ()
    return [
        Check(
            "ecs-task-credentials",
            "ecs",
            metadata_addresses.ECS_V4,
            80,
            (Step("GET", ecs_path),),
            Exposure.CREDENTIALS,
            Reading.CREDENTIALS_JSON,
        ),
        Check(
            "eks-pod-identity",
            "eks",
            metadata_addresses.EKS_POD_IDENTITY_V4,
            80,
            (Step("GET", "/v1/credentials", auth),),
            Exposure.CREDENTIALS,
            Reading.CREDENTIALS_JSON,
        ),
        Check(
            "eks-pod-identity-ipv6",
            "eks",
            metadata_addresses.EKS_POD_IDENTITY_V6,
            80,
            (Step("GET", "/v1/credentials", auth),),
            Exposure.CREDENTIALS,
            Reading.CREDENTIALS_JSON,
        ),
    ]


def _alibaba() -> list[Check]:
    base = "/latest/meta-data/ram/security-credentials/"
    return [
        Check(
            "alibaba-ram-credentials",
            "alibaba",
            metadata_addresses.ALIBABA_V4,
            80,
            (Step("GET", base), Step("GET", base + PREVIOUS)),
            Exposure.CREDENTIALS,
            Reading.CREDENTIALS_JSON,
        ),
        Check(
            "alibaba-user-data",
            "alibaba",
            metadata_addresses.ALIBABA_V4,
            80,
            (Step("GET", "/latest/user-data"),),
            Exposure.USER_DATA,
        ),
    ]


def catalogue(*, ecs_relative_uri: str | None = None, eks_token: str | None = None) -> list[Check]:
    """Every check, in report order; the container variables come from the pod's env."""
    return [*_aws(), *_gce(), *_azure(), *_containers(ecs_relative_uri, eks_token), *_alibaba()]
