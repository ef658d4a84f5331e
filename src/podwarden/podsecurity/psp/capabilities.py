"""Capabilities: defaultAddCapabilities, requiredDropCapabilities, allowedCapabilities.

Generation merges the policy's default adds (unless the container drops them) and
required drops into the container's own lists; when that changes nothing the
container's capabilities are left exactly as written, otherwise both lists are
rewritten sorted and de-duplicated, as PSP's set arithmetic produced them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from podwarden.podsecurity.psp.fielderr import NULL, FieldError, GoSlice, invalid
from podwarden.podsecurity.psp.model import PodSecurityPolicySpec


def _names(values: Any) -> set[str]:
    return {str(v) for v in values} if isinstance(values, list) else set()


def generate(
    spec: PodSecurityPolicySpec, capabilities: Mapping[str, Any] | None
) -> dict[str, Any] | None:
    """The capabilities the container should have; the input itself when unchanged."""
    container_add = _names(capabilities.get("add")) if capabilities else set()
    container_drop = _names(capabilities.get("drop")) if capabilities else set()
    default_add = set(spec.default_add_capabilities) - container_drop
    combined_add = default_add | container_add
    combined_drop = set(spec.required_drop_capabilities) | container_drop
    if len(combined_add) == len(container_add) and len(combined_drop) == len(container_drop):
        return dict(capabilities) if capabilities is not None else None
    result: dict[str, Any] = {}
    if combined_add:
        result["add"] = sorted(combined_add)
    if combined_drop:
        result["drop"] = sorted(combined_drop)
    return result


def validate(
    spec: PodSecurityPolicySpec, path: str, capabilities: Mapping[str, Any] | None
) -> list[FieldError]:
    """Adds must be default or allowed (or `*` allowed); required drops must be dropped."""
    if capabilities is None:
        if not spec.default_add_capabilities and not spec.required_drop_capabilities:
            return []
        return [invalid(path, NULL, "required capabilities are not set on the securityContext")]
    errors: list[FieldError] = []
    if "*" not in spec.allowed_capabilities:
        permitted = set(spec.default_add_capabilities) | set(spec.allowed_capabilities)
        for cap in capabilities.get("add") or []:
            if str(cap) not in permitted:
                errors.append(invalid(f"{path}.add", str(cap), "capability may not be added"))
    drops = capabilities.get("drop")
    dropped = _names(drops)
    for cap in spec.required_drop_capabilities:
        if cap not in dropped:
            value = GoSlice("core.Capability", [str(d) for d in drops] if drops else None)
            errors.append(
                invalid(f"{path}.drop", value, f"{cap} is required to be dropped but was not found")
            )
    return errors
