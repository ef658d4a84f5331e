"""Settings of `podwarden rules` and the rule part of `podwarden agent`.

Every flag is also a key of the `--config` YAML (same name, dashes as
underscores); flags win over keys. The file is validated on its own first, so
an error names the key in the file, then the merged values are turned into a
`RuleSpec` (errors name the flag/key both spell).
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from podwarden import config
from podwarden.config import ConfigError
from podwarden.netfilter import cgroup_match, render
from podwarden.netfilter.backends import BackendName
from podwarden.netfilter.endpoints import RuleProvider


class RulesConfig(BaseModel):
    """The rule keys; all optional here, required ones checked in `rule_spec`."""

    model_config = ConfigDict(extra="forbid")

    provider: RuleProvider | None = None
    pod_interface: list[str] = Field(default_factory=list)
    proxy: str | None = None
    proxy6: str | None = None
    backend: BackendName = "nft"
    pod_cgroup: str | None = None
    # Subtrees of pod_cgroup that keep the node's metadata access (aws-node, CSI node
    # plugins: host-network system pods that need the node role).
    exempt_cgroups: list[str] = Field(default_factory=list)
    # cgroup v1 nodes only: the net_cls classid the pod cgroups are tagged with.
    netcls_classid: int = Field(default=cgroup_match.DEFAULT_CLASSID, ge=1, le=0xFFFFFFFF)
    fail_closed_only: bool = False
    flush_conntrack: bool = True


def merge(model: type[RulesConfig], config_file: Path | None, flags: dict[str, Any]) -> Any:
    """File values overridden by the flags that were given (None / () = not given)."""
    data: dict[str, Any] = {}
    if config_file is not None:
        raw = config.read_yaml(config_file)
        if raw is not None and not isinstance(raw, dict):
            raise ConfigError(f"{config_file}: expected a mapping of settings at the top level")
        data = config.validate(model, raw, source=str(config_file)).model_dump(exclude_unset=True)
    given = {key: value for key, value in flags.items() if value not in (None, (), False)}
    given = {
        key: list(value) if isinstance(value, tuple) else value for key, value in given.items()
    }
    return config.validate(model, {**data, **given}, source="settings")


def host_port(value: str, *, key: str) -> render.HostPort:
    """Parse `HOST:PORT` / `[V6]:PORT` for rule `key`."""
    host, sep, port_text = value.rpartition(":")
    host = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    try:
        ipaddress.ip_address(host)
        port = int(port_text)
    except ValueError:
        raise ConfigError(
            f"{key}: {value!r} is not ADDRESS:PORT with an IP address "
            "(e.g. 127.0.0.1:8181 or [fd00::1]:8181)"
        ) from None
    if not sep or not 1 <= port <= 65535:
        raise ConfigError(f"{key}: {value!r} needs a port in 1-65535")
    return render.HostPort(host, port)


def rule_spec(settings: RulesConfig, *, exempt_self: bool = False) -> render.RuleSpec:
    """Validate the merged settings into a RuleSpec; every failure is a ConfigError."""
    if settings.provider is None:
        raise ConfigError("provider: required (--provider or key `provider`)")
    if not settings.pod_interface:
        raise ConfigError("pod_interface: required (--pod-interface or key `pod_interface`)")
    proxy4 = proxy6 = None
    if settings.proxy is not None:
        parsed = host_port(settings.proxy, key="proxy")
        if parsed.family == 6:
            proxy6 = parsed
        else:
            proxy4 = parsed
    if settings.proxy6 is not None:
        proxy6 = host_port(settings.proxy6, key="proxy6")
    cgroup: render.CgroupMatch | render.ClassidMatch | None = None
    exempt: tuple[render.CgroupMatch, ...] = ()
    if settings.exempt_cgroups and not settings.pod_cgroup:
        raise ConfigError("exempt_cgroups: needs pod_cgroup (exemptions are subtrees of it)")
    if settings.pod_cgroup:
        try:
            cgroup, exempt = cgroup_match.pod_match(
                settings.pod_cgroup,
                classid=settings.netcls_classid,
                exempt_self=exempt_self,
                exempt=tuple(settings.exempt_cgroups),
            )
        except (cgroup_match.CgroupError, OSError) as exc:
            raise ConfigError(str(exc)) from None
    try:
        return render.RuleSpec(
            provider=settings.provider,
            pod_interfaces=tuple(settings.pod_interface),
            proxy4=proxy4,
            proxy6=proxy6,
            pod_cgroup=cgroup,
            exempt_cgroups=exempt,
            fail_closed_only=settings.fail_closed_only,
        )
    except render.RuleSpecError as exc:
        raise ConfigError(str(exc)) from None
