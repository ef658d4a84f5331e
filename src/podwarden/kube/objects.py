"""Typed, read-only views over Pod and Namespace JSON as the API server sends it.

Why views and not lightkube's models: the reflector decodes thousands of watch
events per second and the identity layer reads only a dozen fields; wrapping
the parsed dict keeps decoding at `json.loads` speed and keeps every field the
server sent (nothing is lost for a later reader), while the properties give
typed, documented access to the fields podwarden decides on.
"""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from podwarden.api import pods

TERMINAL_PHASES = frozenset({"Succeeded", "Failed"})


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _str_map(value: Any) -> dict[str, str]:
    return {str(k): str(v) for k, v in _dict(value).items() if v is not None}


@functools.lru_cache(maxsize=65536)
def canonical_ip(text: str) -> str | None:
    """The normal text form of an IPv4/IPv6 address, or None for anything else."""
    try:
        return str(ipaddress.ip_address(text.strip()))
    except ValueError:
        return None


@dataclass(frozen=True)
class Meta:
    """The metadata every object shares."""

    raw: Mapping[str, Any]

    @property
    def _meta(self) -> dict[str, Any]:
        return _dict(self.raw.get("metadata"))

    @property
    def name(self) -> str:
        return str(self._meta.get("name") or "")

    @property
    def uid(self) -> str:
        return str(self._meta.get("uid") or "")

    @property
    def resource_version(self) -> str:
        return str(self._meta.get("resourceVersion") or "")

    @property
    def labels(self) -> dict[str, str]:
        return _str_map(self._meta.get("labels"))

    @property
    def annotations(self) -> dict[str, str]:
        return _str_map(self._meta.get("annotations"))

    @property
    def deletion_timestamp(self) -> str | None:
        value = self._meta.get("deletionTimestamp")
        return str(value) if value else None


@dataclass(frozen=True)
class Namespace(Meta):
    """A Namespace: podwarden reads its annotations (which roles it permits)."""

    @property
    def phase(self) -> str:
        return str(_dict(self.raw.get("status")).get("phase") or "Active")


@dataclass(frozen=True)
class Pod(Meta):
    """A Pod, with the fields identity decisions depend on."""

    @property
    def namespace(self) -> str:
        return str(self._meta.get("namespace") or "default")

    @property
    def key(self) -> str:
        """`namespace/name`, the usual cache key."""
        return f"{self.namespace}/{self.name}"

    @property
    def _spec(self) -> dict[str, Any]:
        return _dict(self.raw.get("spec"))

    @property
    def _status(self) -> dict[str, Any]:
        return _dict(self.raw.get("status"))

    @property
    def node_name(self) -> str:
        return str(self._spec.get("nodeName") or "")

    @property
    def host_network(self) -> bool:
        return self._spec.get("hostNetwork") is True

    @property
    def service_account(self) -> str:
        return pods.service_account(self.raw)

    @property
    def phase(self) -> str:
        return str(self._status.get("phase") or "Pending")

    @property
    def ips(self) -> tuple[str, ...]:
        """status.podIPs (falling back to status.podIP), canonical, de-duplicated, in order."""
        found: list[str] = []
        entries = self._status.get("podIPs")
        candidates = (
            [str(entry.get("ip", "")) for entry in entries if isinstance(entry, dict)]
            if isinstance(entries, list)
            else []
        )
        if self._status.get("podIP"):
            candidates.append(str(self._status["podIP"]))
        for text in candidates:
            ip = canonical_ip(text)
            if ip is not None and ip not in found:
                found.append(ip)
        return tuple(found)

    @property
    def is_terminal(self) -> bool:
        return self.phase in TERMINAL_PHASES

    @property
    def owns_its_ips(self) -> bool:
        """True when traffic from this pod's IPs can only be this pod.

        hostNetwork pods share the node's address, terminal pods have released
        theirs for reuse and a pod being deleted is on its way out: none of them
        may be identified by IP.
        """
        return (
            not self.host_network
            and not self.is_terminal
            and self.deletion_timestamp is None
            and bool(self.ips)
        )


def kind_of(raw: Mapping[str, Any]) -> str:
    """The object's `kind`, or "" when it has none."""
    return str(raw.get("kind") or "")
