"""The emulator's fake secrets: fixed values, clearly marked FAKE/EMULATOR.

They are deterministic so that any test anywhere in the suite can assert that a
secret did NOT reach a pod: scan a response body (or a probe report, or a log)
for every value in `ALL`. None of them is a working credential anywhere.
"""

from __future__ import annotations

import base64

# AWS: the node's instance-profile role (IMDS iam/security-credentials/<role>).
NODE_AWS_ROLE_NAME = "emulator-node-role"
NODE_AWS_ACCESS_KEY_ID = "ASIAEMULATORNODE0001"
NODE_AWS_SECRET_ACCESS_KEY = "FAKEnodeSecretAccessKeyEmulator0000000001"
NODE_AWS_SESSION_TOKEN = "FAKE-NODE-SESSION-TOKEN-emulator-IQoJb3JpZ2luX2VjEFAKE"

# AWS: the instance identity credentials (identity-credentials/ec2/...).
EC2_IDENTITY_ACCESS_KEY_ID = "ASIAEMULATORIDENT001"
EC2_IDENTITY_SECRET_ACCESS_KEY = "FAKEec2IdentitySecretKeyEmulator000000001"
EC2_IDENTITY_SESSION_TOKEN = "FAKE-EC2-IDENTITY-SESSION-TOKEN-emulator"

# AWS: user-data carries a bootstrap secret, as EKS/kops node user-data does.
USER_DATA_SECRET = "FAKE-USERDATA-BOOTSTRAP-TOKEN-emulator-7d3f"

# AWS: the signed forms of the identity document (pkcs7, signature, rsa2048).
AWS_IDENTITY_PKCS7 = "FAKEPKCS7MIAGCSqGSIb3DQEHAqCAMIACAQExDzANBglghkgBZQMEAgEFADCABgkqEMULATOR"
AWS_IDENTITY_SIGNATURE = "FAKESIGNATUREdGhpcyBpcyBub3QgYSByZWFsIHNpZ25hdHVyZQEMULATOR"
AWS_IDENTITY_RSA2048 = "FAKERSA2048MIAGCSqGSIb3DQEHAqCAMIACAQExDzANBglghkgBZQMEAgEMULATOR"

# ECS / EKS Pod Identity container credentials (169.254.170.2, 169.254.170.23).
ECS_TASK_ACCESS_KEY_ID = "ASIAEMULATORECSTASK1"
ECS_TASK_SECRET_ACCESS_KEY = "FAKEecsTaskSecretAccessKeyEmulator0000001"
ECS_TASK_SESSION_TOKEN = "FAKE-ECS-TASK-SESSION-TOKEN-emulator"
EKS_POD_IDENTITY_ACCESS_KEY_ID = "ASIAEMULATOREKSPOD01"
EKS_POD_IDENTITY_SECRET_ACCESS_KEY = "FAKEeksPodIdentitySecretKeyEmulator000001"
EKS_POD_IDENTITY_SESSION_TOKEN = "FAKE-EKS-POD-IDENTITY-SESSION-TOKEN-emulator"

# Alibaba Cloud RAM role credentials (100.100.100.200).
ALIBABA_ACCESS_KEY_ID = "STS.FAKEEMULATORALIBABA01"
ALIBABA_ACCESS_KEY_SECRET = "FAKEalibabaAccessKeySecretEmulator0001"
ALIBABA_SECURITY_TOKEN = "FAKE-ALIBABA-SECURITY-TOKEN-emulator"

# GCE: kube-env holds the kubelet's bootstrap credentials on GKE nodes.
KUBE_ENV_SECRET = "FAKE-KUBELET-CERT-emulator-LS0tLS1CRUdJTi"
KUBE_ENV_KEY_SECRET = "FAKE-KUBELET-KEY-emulator-LS0tLS1CRUdJTiBSU0E"
GCE_NODE_TOKEN = "ya29.FAKE-GCE-NODE-SA-TOKEN-emulator"
GCE_IDENTITY_SIGNATURE = "FAKE-GCE-IDENTITY-SIGNATURE-emulator"

# Azure: managed identity tokens, user/custom data, the attested document.
AZURE_NODE_TOKEN = "eyFAKE.AZURE-NODE-SYSTEM-ASSIGNED-TOKEN.emulator"
AZURE_USER_ASSIGNED_TOKEN = "eyFAKE.AZURE-USER-ASSIGNED-TOKEN.emulator"
AZURE_USER_DATA_SECRET = "FAKE-AZURE-USERDATA-SECRET-emulator"
AZURE_CUSTOM_DATA_SECRET = "FAKE-AZURE-CUSTOMDATA-SECRET-emulator"
AZURE_ATTESTED_SIGNATURE = "FAKEATTESTEDMIIKXAYJKoZIhvcNAQcCoIIKTTCCEMULATOR"
WIRESERVER_BOOTSTRAP_TOKEN = "fake01.emulatorwiresrv"

# Azure serves userData and customData base64-encoded: the encoded forms leak too.
AZURE_USER_DATA_BASE64 = base64.b64encode(
    f"#!/bin/sh\n# emulator user data (FAKE)\nBOOTSTRAP_TOKEN={AZURE_USER_DATA_SECRET}\n".encode()
).decode()
AZURE_CUSTOM_DATA_BASE64 = base64.b64encode(
    f"#cloud-config\n# emulator custom data (FAKE)\ntoken: {AZURE_CUSTOM_DATA_SECRET}\n".encode()
).decode()

ALL: frozenset[str] = frozenset(
    value
    for name, value in dict(globals()).items()
    if name.isupper() and isinstance(value, str) and name != "NODE_AWS_ROLE_NAME"
)
"""Every fake secret above (the role name is an identifier, not a secret)."""


def leaked(text: str) -> list[str]:
    """The fake secrets that appear in `text` (a body, a report, a log), sorted."""
    return sorted(value for value in ALL if value in text)
