"""What the emulated node looks like: identifiers, identities and secrets, per cloud.

One `EmulatorState` feeds every provider app in a process, so a lab run (or a
test) describes the node once. Every field has a default that makes a plausible
node whose secrets are the fakes in `secrets`; `--state FILE` (YAML) overrides
any of them, e.g. the node's AWS keys so moto can accept them.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from podwarden import config
from podwarden.lab.cloud import secrets


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AwsState(_Strict):
    """An EC2 node as IMDS describes it."""

    account_id: str = "123456789012"
    region: str = "us-east-1"
    availability_zone: str = "us-east-1a"
    availability_zone_id: str = "use1-az1"
    instance_id: str = "i-0emulator0000001"
    instance_type: str = "m5.large"
    ami_id: str = "ami-0emulator000001"
    hostname: str = "ip-10-0-1-23.ec2.internal"
    local_ipv4: str = "10.0.1.23"
    mac: str = "0e:49:61:0f:c3:11"
    vpc_id: str = "vpc-0emulator00001"
    subnet_id: str = "subnet-0emulator0001"
    vpc_cidr: str = "10.0.0.0/16"
    subnet_cidr: str = "10.0.1.0/24"
    security_group: str = "eks-node-sg"
    security_group_id: str = "sg-0emulator000001"
    interface_id: str = "eni-0emulator000001"
    node_role_name: str = secrets.NODE_AWS_ROLE_NAME
    access_key_id: str = secrets.NODE_AWS_ACCESS_KEY_ID
    secret_access_key: str = secrets.NODE_AWS_SECRET_ACCESS_KEY
    session_token: str = secrets.NODE_AWS_SESSION_TOKEN
    user_data: str | None = (
        "#!/bin/bash\n# emulator user data (FAKE)\n"
        f"/etc/eks/bootstrap.sh emulator-cluster --bootstrap-token {secrets.USER_DATA_SECRET}\n"
    )


class GceServiceAccount(_Strict):
    """One service account attached to the instance."""

    email: str
    aliases: list[str] = Field(default_factory=list)
    scopes: list[str] = Field(
        default_factory=lambda: [
            "https://www.googleapis.com/auth/cloud-platform",
            "https://www.googleapis.com/auth/userinfo.email",
        ]
    )
    token: str = secrets.GCE_NODE_TOKEN


def _default_kube_env() -> str:
    return (
        "CLUSTER_NAME: emulator-cluster\n"
        "ENABLE_NODE_PROBLEM_DETECTOR: standalone\n"
        f"KUBELET_CERT: {secrets.KUBE_ENV_SECRET}\n"
        f"KUBELET_KEY: {secrets.KUBE_ENV_KEY_SECRET}\n"
        "KUBERNETES_MASTER_NAME: 10.128.0.2\n"
    )


class GceState(_Strict):
    """A GKE node as the GCE metadata server describes it."""

    project_id: str = "emulator-project"
    numeric_project_id: int = 123456789012
    instance_id: int = 4520031799277581759
    zone: str = "us-central1-a"
    machine_type: str = "e2-standard-4"
    name: str = "gke-emulator-default-pool-0a1b2c3d-xyz1"
    hostname: str = "gke-emulator-default-pool-0a1b2c3d-xyz1.c.emulator-project.internal"
    network_ip: str = "10.128.0.23"
    attributes: dict[str, str] = Field(
        default_factory=lambda: {
            "cluster-name": "emulator-cluster",
            "cluster-location": "us-central1",
            "cluster-uid": "0e1d2c3b4a5f6e7d8c9b0a1f2e3d4c5b6a7f8e9d0c1b2a3f4e5d6c7b8a9f0e1d",
            "kube-env": _default_kube_env(),
            "kube-labels": "cloud.google.com/gke-nodepool=default-pool",
            "gci-update-strategy": "update_disabled",
        }
    )
    project_attributes: dict[str, str] = Field(default_factory=lambda: {"enable-oslogin": "false"})
    service_accounts: list[GceServiceAccount] = Field(
        default_factory=lambda: [
            GceServiceAccount(
                email="123456789012-compute@developer.gserviceaccount.com",
                aliases=["default"],
            )
        ]
    )
    legacy_endpoints: bool = True


class AzureIdentity(_Strict):
    """A managed identity the VM holds (system-assigned when `msi_res_id` is None)."""

    client_id: str
    object_id: str
    msi_res_id: str | None = None
    token: str


class AzureState(_Strict):
    """An AKS node as Azure IMDS describes it."""

    subscription_id: str = "00000000-0000-0000-0000-00000000e001"
    resource_group: str = "MC_emulator_emulator-aks_eastus"
    location: str = "eastus"
    vm_name: str = "aks-nodepool1-12345678-vmss_0"
    vm_id: str = "5c08b38e-4d57-4c23-ac45-aca6103e0001"
    vm_size: str = "Standard_D4s_v3"
    zone: str = "1"
    private_ip: str = "10.224.0.4"
    mac: str = "000D3A0E0001"
    user_data: str = secrets.AZURE_USER_DATA_BASE64
    custom_data: str = secrets.AZURE_CUSTOM_DATA_BASE64
    system_identity: AzureIdentity | None = Field(
        default_factory=lambda: AzureIdentity(
            client_id="11111111-0000-0000-0000-00000000e001",
            object_id="22222222-0000-0000-0000-00000000e001",
            token=secrets.AZURE_NODE_TOKEN,
        )
    )
    user_identities: list[AzureIdentity] = Field(
        default_factory=lambda: [
            AzureIdentity(
                client_id="33333333-0000-0000-0000-00000000e002",
                object_id="44444444-0000-0000-0000-00000000e002",
                msi_res_id=(
                    "/subscriptions/00000000-0000-0000-0000-00000000e001/resourcegroups/"
                    "MC_emulator_emulator-aks_eastus/providers/"
                    "Microsoft.ManagedIdentity/userAssignedIdentities/emulator-agentpool"
                ),
                token=secrets.AZURE_USER_ASSIGNED_TOKEN,
            )
        ]
    )


class ExtrasState(_Strict):
    """The other credential hosts a pod could reach (ECS/EKS, Alibaba, WireServer)."""

    ecs_relative_id: str = "emulator-task-0001"
    ecs_role_arn: str = "arn:aws:iam::123456789012:role/emulator-ecs-task-role"
    eks_pod_identity_token: str = "emulator-eks-pod-identity-sa-token"
    eks_account_id: str = "123456789012"
    alibaba_role_name: str = "emulator-ecs-ram-role"
    alibaba_instance_id: str = "i-emulator0alibaba01"
    alibaba_region_id: str = "cn-hangzhou"


class EmulatorState(_Strict):
    """The whole node: one section per cloud plus the extra hosts."""

    aws: AwsState = Field(default_factory=AwsState)
    gce: GceState = Field(default_factory=GceState)
    azure: AzureState = Field(default_factory=AzureState)
    extras: ExtrasState = Field(default_factory=ExtrasState)


def load(path: Path) -> EmulatorState:
    """Read a `--state` YAML file; errors name the file and the bad key."""
    return config.load_yaml(path, EmulatorState)
