"""`podwarden nodeauth serve --config FILE`: the node authorizer's settings, declared once.

The pydantic model is the one declaration: the YAML keys, the defaults and the help
of the command-line flags that override them (`--mode`, `--kubernetes-version`,
`--node-scoped`) all come from it; a bad value is a ConfigError naming the key
(exit 2).

```yaml
mode: deny                    # no-opinion (upstream's answer) | deny
kubernetesVersion: latest     # the rules of this release (v1.29 … v1.35, latest)
nodeScopedServiceAccounts:    # in addition to those annotated podwarden.io/node-scoped=true
- kube-system/fluent-bit
audienceGrantsFromRbac: true  # NodeRestriction: RBAC verb request-serviceaccounts-token-audience
drainSeconds: 5               # on SIGTERM: not ready at once, listener closed this much later
```
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from podwarden import config
from podwarden.nodeauth import versions
from podwarden.nodeauth.versions import Rules


class NodeAuthSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)

    mode: Literal["no-opinion", "deny"] = Field(
        "no-opinion",
        description="Answer for a node on a graph-governed resource the graph does not allow: "
        "no-opinion (upstream) or deny (so broad RBAC for nodes cannot win).",
    )
    kubernetes_version: str = Field(
        "latest",
        alias="kubernetesVersion",
        description="Apply the node-authorization rules of this Kubernetes release "
        f"(v1.{versions.OLDEST} to v1.{versions.LATEST}, or latest).",
    )
    node_scoped_service_accounts: list[str] = Field(
        default_factory=list,
        alias="nodeScopedServiceAccounts",
        description="NAMESPACE/NAME of service accounts confined to their node (besides those "
        "annotated podwarden.io/node-scoped=true).",
    )
    audience_grants_from_rbac: bool = Field(
        True,
        alias="audienceGrantsFromRbac",
        description="Let RBAC grants of verb request-serviceaccounts-token-audience widen the "
        "token audiences a node may request (as upstream asks its authorizer).",
    )
    drain_seconds: float = Field(
        5.0,
        alias="drainSeconds",
        ge=0,
        le=300,
        description="On SIGTERM, seconds between turning /readyz off and closing the listener.",
    )

    @field_validator("kubernetes_version")
    @classmethod
    def _known_version(cls, value: str) -> str:
        versions.parse(value)  # VersionError is a ValueError: pydantic names the key
        return value

    @field_validator("node_scoped_service_accounts")
    @classmethod
    def _namespaced(cls, value: list[str]) -> list[str]:
        for account in value:
            namespace, sep, name = account.partition("/")
            if not sep or not namespace or not name or "/" in name:
                raise ValueError(f"{account!r} is not NAMESPACE/NAME")
        return value

    @property
    def rules(self) -> Rules:
        return versions.parse(self.kubernetes_version)


def load(path: Path | None, **overrides: Any) -> NodeAuthSettings:
    """The file's settings (defaults without one) with the flags that were given on top."""
    data = config.read_yaml(path) if path is not None else {}
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise config.ConfigError(f"{path}: expected a mapping of settings")
    source = str(path) if path is not None else "flags"
    merged = {**data}
    for field_name, value in overrides.items():
        if value is not None and value != ():
            alias = NodeAuthSettings.model_fields[field_name].alias or field_name
            merged.pop(alias, None)
            merged[field_name] = list(value) if isinstance(value, tuple) else value
    return config.validate(NodeAuthSettings, merged, source=source)


def help_of(field_name: str) -> str:
    """A flag's help, from the model."""
    return NodeAuthSettings.model_fields[field_name].description or ""
