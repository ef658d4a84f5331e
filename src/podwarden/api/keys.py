"""Label and annotation keys podwarden reads or writes, in one place."""

from __future__ import annotations

AWS_ROLE = "iam.amazonaws.com/role"
AWS_EXTERNAL_ID = "iam.amazonaws.com/external-id"
AWS_ALLOWED_ROLES = "iam.amazonaws.com/allowed-roles"
AWS_PERMITTED = "iam.amazonaws.com/permitted"
GCP_SERVICE_ACCOUNT = "iam.gke.io/gcp-service-account"
GCP_ALLOWED_SERVICE_ACCOUNTS = "podwarden.io/allowed-gcp-service-accounts"
AZURE_CLIENT_ID = "podwarden.io/azure-client-id"
AZURE_ALLOWED_CLIENT_IDS = "podwarden.io/allowed-azure-client-ids"
PSP_CHOSEN = "podwarden.io/psp"
PSA_PREFIX = "pod-security.kubernetes.io/"
