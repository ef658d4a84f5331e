"""Who may do what on the lab API server: identities, an authorizer chain, admission webhooks.

kube-apiserver authenticates (a static token file here, `--token-auth-file`'s role),
authorizes with a chain (`--authorization-config`) and runs admission, calling webhooks
over HTTPS. The lab does the same, configured by one YAML file (`--auth-config`), re-read
when it changes so a demo can put podwarden in front and take it away:

```yaml
users:            # bearer token -> identity (extra: what a bound service-account token carries)
- {token: t-node-a, user: "system:node:lab-node", groups: [system:nodes, system:authenticated]}
authorizers:      # asked in order; the first allow or deny wins, no opinion goes on
- type: Webhook   # SubjectAccessReview v1 POSTed to url, trusting caFile
  url: https://127.0.0.1:9443/authorize
  caFile: /run/podwarden-lab/nodeauth/ca.crt
  groups: [system:nodes]              # stand-in for CEL matchConditions: who is sent
  userPrefixes: ["system:serviceaccount:kube-system:"]
  failurePolicy: Deny                 # Deny | NoOpinion when the webhook cannot answer
- type: Table     # the fixture's answer table: the cluster's "RBAC" as declared data
  rules:
  - {groups: [system:nodes], verbs: ["*"], resources: ["*"], decision: allow}
admission:        # validating webhooks (AdmissionReview v1) and the lab's own NodeLabels guard
- {type: Webhook, url: https://127.0.0.1:9443/admit, caFile: ..., groups: [system:nodes]}
- {type: NodeLabels}
```

Requests without a token are the lab's administrator (as before: kubectl with the lab
kubeconfig): never authorized or admitted, and the only ones that may impersonate
(`Impersonate-User`, `Impersonate-Group`). No file: everything as before.

The Table and NodeLabels answers are the lab's own, declared here or written in
lab/apiserver (never podwarden.nodeauth), so the lab never grades the product with the
product's code.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from podwarden import config


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class User(_Strict):
    token: str = Field(min_length=8)
    user: str
    groups: list[str] = Field(default_factory=list)
    extra: dict[str, list[str]] = Field(default_factory=dict)


class Selection(_Strict):
    """Which identities an authorizer or webhook is asked about (empty: everyone)."""

    groups: list[str] = Field(default_factory=list)
    userPrefixes: list[str] = Field(default_factory=list)

    def selects(self, user: str, groups: tuple[str, ...]) -> bool:
        if not self.groups and not self.userPrefixes:
            return True
        return any(g in groups for g in self.groups) or any(
            user.startswith(p) for p in self.userPrefixes
        )


class TableRule(_Strict):
    users: list[str] = Field(default_factory=list)
    groups: list[str] = Field(default_factory=list)
    verbs: list[str]
    resources: list[str]
    apiGroups: list[str] = Field(default_factory=lambda: ["*"])
    decision: Literal["allow", "deny"] = "allow"
    reason: str = ""


class TableAuthorizer(Selection):
    type: Literal["Table"]
    rules: list[TableRule] = Field(default_factory=list)


class WebhookAuthorizer(Selection):
    type: Literal["Webhook"]
    url: str
    caFile: Path
    failurePolicy: Literal["Deny", "NoOpinion"] = "Deny"
    timeout: float = 3.0


class WebhookAdmission(Selection):
    type: Literal["Webhook"]
    url: str
    caFile: Path
    failurePolicy: Literal["Fail", "Ignore"] = "Fail"
    timeout: float = 5.0


class NodeLabelsAdmission(Selection):
    type: Literal["NodeLabels"]


class AuthConfig(_Strict):
    users: list[User] = Field(default_factory=list)
    authorizers: list[TableAuthorizer | WebhookAuthorizer] = Field(default_factory=list)
    admission: list[WebhookAdmission | NodeLabelsAdmission] = Field(default_factory=list)

    def user(self, token: str) -> User | None:
        return next((u for u in self.users if u.token == token), None)


EMPTY = AuthConfig()


@dataclass
class Following:
    """The config in `path`, re-read when the file's stat changes (a bad edit keeps the old)."""

    path: Path | None
    current: AuthConfig = EMPTY
    _seen: tuple[int, int, int] | None = None

    def get(self) -> AuthConfig:
        if self.path is None:
            return EMPTY
        try:
            stat = os.stat(self.path)
        except OSError:
            return self.current
        signature = (stat.st_mtime_ns, stat.st_size, stat.st_ino)
        if signature != self._seen:
            try:
                self.current = config.load_yaml(self.path, AuthConfig)
            except config.ConfigError:
                if self._seen is None:
                    raise
            self._seen = signature
        return self.current
