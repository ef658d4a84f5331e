"""Choosing a backend and the operations every backend offers.

The rest of the package talks to `Backend` only, so the reconcile loop, the
CLI and the tests run unchanged over nft and iptables.
"""

from __future__ import annotations

from typing import Any, Literal, Protocol

from podwarden.netfilter.iptables import IptablesBackend, Variant
from podwarden.netfilter.nft import NftBackend
from podwarden.netfilter.render import RuleSet
from podwarden.netfilter.runner import Runner

BackendName = Literal["nft", "iptables", "iptables-legacy", "iptables-nft"]
BACKENDS: tuple[BackendName, ...] = ("nft", "iptables", "iptables-legacy", "iptables-nft")


class Backend(Protocol):
    name: str

    def apply(self, ruleset: RuleSet) -> None: ...

    def remove(self) -> bool: ...

    def expected_signature(self, ruleset: RuleSet) -> dict[str, Any]: ...

    def live_signature(self) -> dict[str, Any] | None: ...

    def has_localnet_guard(self) -> bool: ...

    def show(self) -> str: ...


def select(name: BackendName, *, runner: Runner | None = None) -> Backend:
    """The backend called `name`; iptables variants pick the binaries used."""
    if name == "nft":
        return NftBackend(runner=runner)
    variants: dict[str, Variant] = {
        "iptables": "auto",
        "iptables-legacy": "legacy",
        "iptables-nft": "nft",
    }
    if name not in variants:
        raise ValueError(f"backend: {name!r} is not one of {', '.join(BACKENDS)}")
    return IptablesBackend(variant=variants[name], runner=runner)
