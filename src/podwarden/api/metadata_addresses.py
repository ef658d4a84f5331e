"""Where the cloud metadata services answer: one list for every part.

The interception rules refuse or redirect these addresses, the probe knocks
on them, and the lab's cloud host owns them inside its own namespace. Each
of those used to keep its own copy, so a new address (EKS Pod Identity's
IPv6 one, say) could reach the lab and stay open in the rules. They all
import this module instead.

Pure constants: the lowest layer, importable by the pure engines and the lab
alike.
"""

from __future__ import annotations

IMDS_V4 = "169.254.169.254"
"""AWS IMDS; also GCE's and Azure's metadata server (and GKE's DNS on port 53)."""
IMDS_V6 = "fd00:ec2::254"
IMDS_MAPPED = "::ffff:169.254.169.254"
"""IMDS as an IPv4-mapped IPv6 address: what a dual-stack socket sends to. No host
owns it, but rules must match it, or a pod could reach IMDS through an IPv6 socket."""
ECS_V4 = "169.254.170.2"
"""ECS task credentials (`AWS_CONTAINER_CREDENTIALS_RELATIVE_URI`)."""
EKS_POD_IDENTITY_V4 = "169.254.170.23"
EKS_POD_IDENTITY_V6 = "fd00:ec2::23"
WIRESERVER_V4 = "168.63.129.16"
"""Azure WireServer (:80) and its HostGAPlugin (:32526); also Azure's DNS on 53."""
ALIBABA_V4 = "100.100.100.200"

GCE_HOSTNAME = "metadata.google.internal"
"""The name GCE clients use; it resolves to IMDS_V4."""

HOSTGAPLUGIN_PORT = 32526

HOSTS_V4: tuple[str, ...] = (
    ALIBABA_V4,
    WIRESERVER_V4,
    IMDS_V4,
    ECS_V4,
    EKS_POD_IDENTITY_V4,
)
"""Every IPv4 address a metadata service owns."""
HOSTS_V6: tuple[str, ...] = (EKS_POD_IDENTITY_V6, IMDS_V6)
"""Every IPv6 address a metadata service owns (IMDS_MAPPED is no host's address)."""
