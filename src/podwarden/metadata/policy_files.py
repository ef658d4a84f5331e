"""Policy files: YAML rules that extend or replace a provider's strict preset.

```yaml
mode: extend            # or replace
imdsv2: required        # AWS only: optional (default) | required
allowedAttributes: [team-config]        # GCE only: shown beyond cluster-name/-location/-uid
allowedProjectAttributes: [team-region]  # GCE only: project attributes shown (none by default)
concealedAttributes: [cluster-uid]       # GCE only: concealed even when allowed
rules:                  # ordered, first match wins, before the preset when extending
  - id: allow-tags
    methods: [GET]      # GET implies HEAD
    path: /latest/meta-data/tags/instance/*   # glob: * one segment, ** any depth
    query: {recursive: "true"}                # value, "*" (any), or null (absent)
    headers: {}
    action: allow       # allow | deny | conceal
    status: 403         # deny only
    message: "..."      # deny only
    cacheTtl: 0
limits:                 # optional; requests beyond them get 400 with the reason
  maxTargetBytes: 4096  # request-target (path + query), 64..8190
  maxHeaderBytes: 8192  # all header lines together, 256..65536
  maxHeaders: 64        # header lines, 4..128
```

A file is validated completely at start (pydantic, through `podwarden.config`
so every error names its key) and compiled into immutable `policy.Rule`
values; nothing is read again while serving.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, NoReturn

from pydantic import BaseModel, ConfigDict, Field

from podwarden import config
from podwarden.metadata.model import ProviderName
from podwarden.metadata.policy import PatternError, Rule, RuleAction
from podwarden.metadata.providers import Options, Profile
from podwarden.metadata.request import Limits

Method = Literal["GET", "HEAD", "PUT", "POST", "DELETE", "OPTIONS", "PATCH"]
NAME = r"^[A-Za-z0-9][A-Za-z0-9._-]*$"


def _default_methods() -> list[Method]:
    return ["GET"]


class RuleSpec(BaseModel):
    """One rule as written in a policy file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=NAME, max_length=128)
    methods: list[Method] = Field(default_factory=_default_methods, min_length=1)
    path: str = Field(min_length=1, max_length=1024)
    query: dict[str, str | None] = Field(default_factory=dict)
    headers: dict[str, str | None] = Field(default_factory=dict)
    action: Literal["allow", "deny", "conceal"]
    status: int | None = Field(default=None, ge=400, le=599)
    message: str = Field(default="", max_length=1024)
    cacheTtl: float = Field(default=0.0, ge=0, le=86400)


class LimitsSpec(BaseModel):
    """Request size limits as written in a policy file (bounded by the HTTP layer's own)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    maxTargetBytes: int = Field(default=Limits.max_target_bytes, ge=64, le=8190)
    maxHeaderBytes: int = Field(default=Limits.max_header_bytes, ge=256, le=65536)
    maxHeaders: int = Field(default=Limits.max_headers, ge=4, le=128)


class PolicySpec(BaseModel):
    """A whole policy file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    mode: Literal["extend", "replace"] = "extend"
    imdsv2: Literal["optional", "required"] = "optional"
    concealedAttributes: list[str] = Field(default_factory=list)
    allowedAttributes: list[str] = Field(default_factory=list)
    allowedProjectAttributes: list[str] = Field(default_factory=list)
    rules: list[RuleSpec] = Field(default_factory=list)
    limits: LimitsSpec | None = None


@dataclass(frozen=True)
class LoadedPolicy:
    """A validated file: its options and its compiled rules, in order."""

    mode: Literal["extend", "replace"]
    options: Options
    rules: tuple[Rule, ...]
    limits: Limits | None = None


def load(path: Path, *, profile: Profile) -> LoadedPolicy:
    """Read and compile a policy file; every problem is a ConfigError naming the key."""
    return parse(config.read_yaml(path), source=str(path), profile=profile)


def parse(data: Any, *, source: str, profile: Profile) -> LoadedPolicy:
    """Validate already-parsed YAML for `profile`'s provider and compile its rules."""
    spec = config.validate(PolicySpec, data, source=source)
    provider = profile.name
    if spec.imdsv2 == "required" and provider is not ProviderName.AWS:
        _fail(source, "imdsv2", f"only applies to provider aws, not {provider.value}")
    for key in ("concealedAttributes", "allowedAttributes", "allowedProjectAttributes"):
        names: list[str] = getattr(spec, key)
        if names and provider is not ProviderName.GCE:
            _fail(source, key, f"only applies to provider gce, not {provider.value}")
        for index, name in enumerate(names):
            if not _is_name(name):
                _fail(
                    source,
                    f"{key}.{index}",
                    f"{name!r} is not an attribute name (letters, digits, '.', '_', '-')",
                )
    rules = tuple(
        _compile(rule, key=f"rules.{index}", source=source, profile=profile)
        for index, rule in enumerate(spec.rules)
    )
    options = Options(
        imdsv2_required=spec.imdsv2 == "required",
        concealed_attributes=tuple(spec.concealedAttributes),
        allowed_attributes=tuple(spec.allowedAttributes),
        allowed_project_attributes=tuple(spec.allowedProjectAttributes),
    )
    limits = (
        Limits(
            max_target_bytes=spec.limits.maxTargetBytes,
            max_header_bytes=spec.limits.maxHeaderBytes,
            max_headers=spec.limits.maxHeaders,
        )
        if spec.limits is not None
        else None
    )
    return LoadedPolicy(mode=spec.mode, options=options, rules=rules, limits=limits)


def _is_name(text: str) -> bool:
    return re.match(NAME, text) is not None


def _fail(source: str, key: str, reason: str) -> NoReturn:
    raise config.ConfigError(f"{source}: {key}: {reason}")


def _compile(spec: RuleSpec, *, key: str, source: str, profile: Profile) -> Rule:
    action = RuleAction(spec.action)
    if action is not RuleAction.DENY and (spec.status is not None or spec.message):
        _fail(source, f"{key}.status", "status and message only apply to action deny")
    accepted = profile.syntax.query_keys
    fold = profile.syntax.case_insensitive
    query = {(name.lower() if fold else name): value for name, value in spec.query.items()}
    for name in query:
        if name not in accepted:
            shown = ", ".join(sorted(accepted)) or "none"
            _fail(
                source,
                f"{key}.query.{name}",
                f"not a query parameter {profile.name.value} accepts (accepted: {shown})",
            )
    methods = set(spec.methods)
    if "GET" in methods:
        methods.add("HEAD")
    try:
        return Rule(
            id=spec.id,
            action=action,
            path=profile.rule_path(spec.path),
            methods=frozenset(methods),
            query=query,
            headers={name.lower(): value for name, value in spec.headers.items()},
            status=spec.status or 0,
            message=spec.message,
            cache_ttl=spec.cacheTtl,
        )
    except PatternError as exc:
        _fail(source, f"{key}.path", str(exc))
