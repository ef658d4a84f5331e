"""Loading settings files into pydantic models with errors that name the bad key.

Every YAML file podwarden reads (proxy policies, agent configs, lab state) goes
through `load_yaml` so a user always sees the file, the key path and what would
have been accepted, and never a traceback. `host_port` is the one parser of
`HOST:PORT` values (listen addresses, the rules' proxy address).
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

ModelT = TypeVar("ModelT", bound=BaseModel)


class ConfigError(Exception):
    """A settings file or flag could not be used; the message is for the user.

    `key` names the setting (its model field, e.g. `session_duration`) when one
    setting is at fault, so the command line can say whether the value came from
    a flag or a config file (`podwarden.flags`).
    """

    key: str | None = None  # also for subclasses that keep Exception's constructor

    def __init__(self, message: str = "", *, key: str | None = None) -> None:
        super().__init__(message)
        self.key = key

    @property
    def message(self) -> str:
        """The message without the key."""
        return super().__str__()

    def __str__(self) -> str:
        return f"{self.key}: {self.message}" if self.key else self.message


def read_yaml(path: Path) -> Any:
    """Parse one YAML document, translating I/O and syntax errors to ConfigError."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}:{mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(f"{path}{where}: not valid YAML: {problem}") from None


def describe_validation_error(source: str, exc: ValidationError) -> str:
    """Render pydantic errors as `source: key.path: reason` lines."""
    lines = []
    for error in exc.errors():
        key = ".".join(str(part) for part in error["loc"]) or "(top level)"
        lines.append(f"{source}: {key}: {error['msg']}")
    return "\n".join(lines)


def validate(model: type[ModelT], data: Any, *, source: str) -> ModelT:
    """Validate already-parsed data, raising ConfigError that names each bad key."""
    try:
        return model.model_validate(data if data is not None else {})
    except ValidationError as exc:
        raise ConfigError(describe_validation_error(source, exc)) from None


def load_yaml(path: Path, model: type[ModelT]) -> ModelT:
    """Read a YAML file into `model`; every failure is a ConfigError."""
    return validate(model, read_yaml(path), source=str(path))


def host_port(
    value: str, *, key: str, ip_only: bool = False, lowest_port: int = 0
) -> tuple[str, int]:
    """Split `HOST:PORT` (or `[V6]:PORT`); ConfigError naming `key` otherwise.

    `ip_only` requires an IP address as the host (netfilter rules cannot hold a
    name); `lowest_port` 1 refuses port 0 (0 means "pick a free port" to a listener).
    """
    host, sep, port_text = value.rpartition(":")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    shape = "ADDRESS:PORT with an IP address" if ip_only else "HOST:PORT"
    example = "127.0.0.1:8181 or [fd00::1]:8181"
    if not sep or not host or not port_text.isdigit():
        raise ConfigError(f"{value!r} is not {shape} (e.g. {example})", key=key)
    if ip_only:
        try:
            ipaddress.ip_address(host)
        except ValueError:
            raise ConfigError(f"{value!r} is not {shape} (e.g. {example})", key=key) from None
    port = int(port_text)
    if not lowest_port <= port <= 65535:
        raise ConfigError(f"{value!r} needs a port in {lowest_port}-65535", key=key)
    return host, port
