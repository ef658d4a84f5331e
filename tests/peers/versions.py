"""Which versions of the peers this run has, against the versions the suite was last green with.

A peer is a program or library whose behaviour the suite relies on but does not
own: moto standing in for AWS, botocore and kubectl as the real clients, nft and
iptables as the kernel's interface. When one of them changes behaviour, a test
fails for a reason that is not podwarden's; this module lets the failure say
which peer moved and from which version to which.

The record: Python packages are pinned in `requirements.txt`; Debian's packages
and the machine's binaries in `tests/peers/last_green.toml`.
"""

from __future__ import annotations

import functools
import importlib.metadata
import json
import re
import shutil
import subprocess
import tomllib
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
LOCK = REPO / "requirements.txt"
LAST_GREEN = Path(__file__).with_name("last_green.toml")

# Python packages the suite uses as peers: as AWS, as real clients, as schemas.
PYTHON_PEERS = (
    "moto",
    "boto3",
    "botocore",
    "awscli",
    "aiobotocore",
    "google-auth",
    "azure-identity",
    "kubernetes-validate",
    "lightkube",
    "PyYAML",
)
_LOCK_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)")


@dataclass(frozen=True)
class Peer:
    """One peer: what it is called, the version here, the version of the last green run."""

    name: str
    kind: str  # "python" | "debian" | "binary"
    found: str | None  # None: not installed here
    last_green: str

    @property
    def changed(self) -> bool:
        return self.found != self.last_green

    def describe(self) -> str:
        found = self.found or "not installed"
        if not self.changed:
            return f"{self.name} {found}"
        return f"{self.name} {found} (the suite was last green with {self.last_green})"


def normalise(name: str) -> str:
    """PEP 503 name normalisation."""
    return re.sub(r"[-_.]+", "-", name).lower()


def lock_pins(text: str | None = None) -> dict[str, str]:
    """Normalised package name -> version, for every package requirements.txt pins."""
    source = LOCK.read_text() if text is None else text
    pins: dict[str, str] = {}
    for line in source.splitlines():
        match = _LOCK_PIN.match(line)
        if match:
            pins[normalise(match.group(1))] = match.group(2)
    return pins


def _python_version(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def _debian_version(package: str) -> str | None:
    if shutil.which("dpkg-query") is None:
        return None
    done = subprocess.run(
        ["dpkg-query", "-W", "-f=${Status}\t${Version}", package],
        capture_output=True,
        text=True,
        check=False,
    )
    status, _, version = done.stdout.partition("\t")
    return version if done.returncode == 0 and "ok installed" in status else None


def _binary_version(name: str) -> str | None:
    if name != "kubectl":
        raise ValueError(f"no way to read the version of binary {name!r}: add one in {__file__}")
    if shutil.which("kubectl") is None:
        return None
    done = subprocess.run(
        ["kubectl", "version", "--client", "-o", "json"],
        capture_output=True,
        text=True,
        check=False,
        timeout=30,
    )
    if done.returncode != 0:
        return None
    version = json.loads(done.stdout).get("clientVersion", {}).get("gitVersion")
    return str(version) if version else None


@functools.cache
def peers() -> tuple[Peer, ...]:
    """Every peer with its version here and at the last green run (read once per process)."""
    record = tomllib.loads(LAST_GREEN.read_text())
    pins = lock_pins()
    found: list[Peer] = [
        Peer(name, "python", _python_version(name), pins.get(normalise(name), "not in the lock"))
        for name in PYTHON_PEERS
    ]
    found += [
        Peer(name, "debian", _debian_version(name), version)
        for name, version in record.get("debian", {}).items()
    ]
    found += [
        Peer(name, "binary", _binary_version(name), version)
        for name, version in record.get("binaries", {}).items()
    ]
    return tuple(found)


def peer(name: str) -> Peer:
    """One peer by name; a name the record does not know is a mistake in a test."""
    for candidate in peers():
        if normalise(candidate.name) == normalise(name):
            return candidate
    known = ", ".join(p.name for p in peers())
    raise KeyError(f"unknown peer {name!r}; known: {known}")


def changed() -> list[Peer]:
    """The peers whose version here is not the last green one."""
    return [p for p in peers() if p.changed]
