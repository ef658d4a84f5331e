"""Settings of `podwarden rules` and the rule part of `podwarden agent`.

Declared once in `RulesConfig`: every field is a key of the `--config` YAML
and, but the `FILE_ONLY` keys, a flag (`podwarden.flags`; flags win over keys).
The merged values are then turned into a `RuleSpec` (errors name the key).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from podwarden import config
from podwarden.config import ConfigError
from podwarden.netfilter import cgroup_match, render
from podwarden.netfilter.backends import BackendName
from podwarden.netfilter.endpoints import RuleProvider


class RulesConfig(BaseModel):
    """The rule keys; all optional here, required ones checked in `rule_spec`."""

    model_config = ConfigDict(extra="forbid")

    provider: RuleProvider | None = Field(
        None,
        description="whose metadata addresses to intercept (the agent refuses alibaba with a "
        "pointer to `rules apply`: the proxy has no preset)",
    )
    pod_interface: list[str] = Field(default_factory=list, description="e.g. cali+ (repeat)")
    proxy: str | None = Field(None, description="HOST:PORT the pod traffic is redirected to")
    proxy6: str | None = Field(
        None, description="[ADDRESS]:PORT for IPv6 pod traffic (else refused)"
    )
    backend: BackendName = "nft"
    pod_cgroup: str | None = Field(
        None,
        description="pods' cgroup below the hierarchy root, e.g. kubepods.slice "
        "(v2; net_cls on v1)",
    )
    exempt_cgroups: list[str] = Field(
        default_factory=list,
        description="a subtree of --pod-cgroup that keeps node access, e.g. for aws-node "
        "(repeat): host-network system pods that need the node role",
    )
    fail_closed_only: bool = Field(False, description="refuse only, redirect nothing (boot)")
    # Config keys only (no flag): cgroup v1 nodes' net_cls classid, conntrack flushing.
    netcls_classid: int = Field(default=cgroup_match.DEFAULT_CLASSID, ge=1, le=0xFFFFFFFF)
    flush_conntrack: bool = True


# The keys that are config-file keys only, never flags.
FILE_ONLY = ("netcls_classid", "flush_conntrack")


def host_port(value: str, *, key: str) -> render.HostPort:
    """Parse `ADDRESS:PORT` / `[V6]:PORT` (an IP address, a port 1-65535) for rule `key`."""
    host, port = config.host_port(value, key=key, ip_only=True, lowest_port=1)
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
