"""What a probe response means: pure classification, no I/O.

`run.py` fetches; this module decides what was exposed and how bad it is, so
every rule here is a table-driven unit test. Secrets are never copied into a
`Finding`: it holds kinds ("credentials readable"), never values. The only
text kept from a response is the first line of a *refusal* (status >= 400),
because "This metadata endpoint is concealed." is what a user wants to see.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from podwarden.metadata.providers.gce_attributes import GKE_ATTRIBUTES


class Exposure(StrEnum):
    """A kind of secret a pod could read."""

    CREDENTIALS = "credentials"
    KUBE_ENV = "kube-env"
    USER_DATA = "user-data"
    IDENTITY_TOKEN = "identity token"
    BOOTSTRAP_TOKEN = "bootstrap token"
    ATTRIBUTES = "attributes"  # GCE instance/project attributes beyond GKE's cluster facts


class Severity(StrEnum):
    """How bad a finding is, worst first when sorted by `rank`."""

    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    INFO = "info"
    NONE = "none"

    @property
    def rank(self) -> int:
        """0 for the worst; used to sort a report."""
        return list(Severity).index(self)


SEVERITY_OF: dict[Exposure, Severity] = {
    Exposure.CREDENTIALS: Severity.CRITICAL,
    Exposure.KUBE_ENV: Severity.CRITICAL,
    Exposure.BOOTSTRAP_TOKEN: Severity.CRITICAL,
    Exposure.IDENTITY_TOKEN: Severity.HIGH,
    Exposure.USER_DATA: Severity.HIGH,
    Exposure.ATTRIBUTES: Severity.HIGH,
}

# Keys whose non-empty value in a JSON answer is a usable credential.
_CREDENTIAL_KEYS = ("SecretAccessKey", "AccessKeySecret", "access_token", "Token", "SecurityToken")
_DETAIL_MAX = 72
_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")
_TITLE = re.compile(r"<title>([^<]*)</title>", re.IGNORECASE)
_NAMES_SHOWN = 6


@dataclass(frozen=True)
class Observation:
    """What one check saw: a final HTTP answer, or why there was none.

    `status` is None when no HTTP answer came (`error` then says why:
    "connection refused", "timed out", ...). `body` is the answer's first bytes;
    `served` the entries of a listing that were answered with content too.
    """

    status: int | None
    body: bytes = b""
    error: str | None = None
    served: tuple[str, ...] = ()


@dataclass(frozen=True)
class Finding:
    """One line of the report: an endpoint and what a pod could get from it."""

    check: str
    service: str
    endpoint: str
    reachable: bool
    status: int | None
    exposed: tuple[Exposure, ...]
    severity: Severity
    detail: str

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (values of secrets never appear: there are none here)."""
        return {
            "check": self.check,
            "service": self.service,
            "endpoint": self.endpoint,
            "reachable": self.reachable,
            "status": self.status,
            "exposed": [e.value for e in self.exposed],
            "severity": self.severity.value,
            "detail": self.detail,
        }


class Reading(StrEnum):
    """How to read an answer to tell whether it holds a secret."""

    LEAF = "leaf"  # the body itself is the secret (kube-env, user-data, identity token)
    CREDENTIALS_JSON = "credentials-json"  # a JSON object with key material
    INSTANCE_DOCUMENT = "instance-document"  # Azure's document: userData/customData inside
    VM_SETTINGS = "vm-settings"  # WireServer host plugin: extension settings
    GCE_TREE = "gce-tree"  # GCE recursive JSON: attributes.kube-env inside
    GCE_ATTRIBUTES = "gce-attributes"  # a listing whose entries were read: which answered
    GCE_ATTRIBUTE_TREE = "gce-attribute-tree"  # attributes/?recursive=true: the keys with values


def exposures(reading: Reading, looks_for: Exposure, obs: Observation) -> tuple[Exposure, ...]:
    """Which secrets `obs` shows readable, for a check after `looks_for` read as `reading`."""
    if obs.status is None or not 200 <= obs.status < 300 or not obs.body.strip():
        return ()
    if reading is Reading.CREDENTIALS_JSON:
        readable = has_credentials(obs.body)
    elif reading is Reading.INSTANCE_DOCUMENT:
        readable = _document_has_user_data(obs.body)
    elif reading is Reading.GCE_TREE:
        readable = _tree_has_kube_env(obs.body)
    elif reading in (Reading.GCE_ATTRIBUTES, Reading.GCE_ATTRIBUTE_TREE):
        readable = bool(served_attributes(reading, obs))
    elif reading is Reading.VM_SETTINGS:
        text = obs.body.decode("utf-8", "replace")
        readable = any(m in text for m in ("extensionGoalStates", "protectedSettings"))
    else:
        readable = True
    return (looks_for,) if readable else ()


def has_credentials(body: bytes) -> bool:
    """True when `body` is a JSON object carrying a non-empty credential value."""
    try:
        data = json.loads(body)
    except ValueError:
        return False
    if not isinstance(data, dict):
        return False
    return any(isinstance(data.get(k), str) and data[k].strip() for k in _CREDENTIAL_KEYS)


def _document_has_user_data(body: bytes) -> bool:
    """An Azure instance document that still carries userData or customData."""
    try:
        data = json.loads(body)
    except ValueError:
        return False
    compute = data.get("compute") if isinstance(data, dict) else None
    if not isinstance(compute, dict):
        return False
    return any(isinstance(compute.get(k), str) and compute[k] for k in ("userData", "customData"))


def served_attributes(reading: Reading, obs: Observation) -> tuple[str, ...]:
    """GCE attributes the answer shows served, beyond GKE's own (cluster-name, ...)."""
    if reading is Reading.GCE_ATTRIBUTES:
        names: list[str] = list(obs.served)
    elif reading is Reading.GCE_ATTRIBUTE_TREE:
        try:
            data = json.loads(obs.body)
        except ValueError:
            return ()
        if not isinstance(data, dict):
            return ()
        names = [k for k, v in data.items() if isinstance(v, str) and v.strip()]
    else:
        return ()
    return tuple(sorted(name for name in set(names) if name not in GKE_ATTRIBUTES))


def _tree_has_kube_env(body: bytes) -> bool:
    """A GCE `instance/?recursive=true` answer that still carries attributes.kube-env."""
    try:
        data = json.loads(body)
    except ValueError:
        return False
    attributes = data.get("attributes") if isinstance(data, dict) else None
    if not isinstance(attributes, dict):
        return False
    return isinstance(attributes.get("kube-env"), str) and bool(attributes["kube-env"].strip())


def classify(
    *,
    check: str,
    service: str,
    endpoint: str,
    looks_for: Exposure,
    reading: Reading,
    obs: Observation,
    reachable_severity: Severity = Severity.INFO,
) -> Finding:
    """Turn an observation into a finding; an answer that cannot be read exposes nothing."""
    found = exposures(reading, looks_for, obs)
    reachable = obs.status is not None
    if found:
        severity = min((SEVERITY_OF[e] for e in found), key=lambda s: s.rank)
    elif reachable:
        severity = reachable_severity
    else:
        severity = Severity.NONE
    return Finding(
        check=check,
        service=service,
        endpoint=endpoint,
        reachable=reachable,
        status=obs.status,
        exposed=found,
        severity=severity,
        detail=describe(obs, found, names=served_attributes(reading, obs)),
    )


def describe(obs: Observation, found: tuple[Exposure, ...], *, names: tuple[str, ...] = ()) -> str:
    """A one-line result that never quotes a successful answer (it may be a secret).

    `names` (served attribute names, never their values) are listed after the kinds.
    """
    if obs.status is None:
        return obs.error or "no answer"
    if found:
        shown = ", ".join(names[:_NAMES_SHOWN]) + (", …" if len(names) > _NAMES_SHOWN else "")
        listed = f" ({shown})" if names else ""
        return f"HTTP {obs.status}: " + ", ".join(e.value for e in found) + " readable" + listed
    if obs.status < 400:
        return f"HTTP {obs.status}: nothing secret"
    return f"HTTP {obs.status}: {refusal_text(obs.body)}".rstrip(": ")


def refusal_text(body: bytes) -> str:
    """The reason in a refusal: a JSON error's description, or the first line, shortened."""
    text = body.decode("utf-8", "replace").strip()
    try:
        data = json.loads(text)
    except ValueError:
        data = None
    if isinstance(data, dict):
        for key in ("error_description", "message", "error"):
            if isinstance(data.get(key), str):
                text = data[key]
                break
    title = _TITLE.search(text) if text.startswith("<") else None
    if title:
        text = title.group(1)
    first = _CONTROL.sub(" ", text.splitlines()[0] if text else "").strip()
    return first if len(first) <= _DETAIL_MAX else first[: _DETAIL_MAX - 1] + "…"


def any_secret_exposed(findings: list[Finding]) -> bool:
    """The probe's verdict: exit 1 when this is True."""
    return any(f.exposed for f in findings)
