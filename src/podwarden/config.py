"""Loading settings files into pydantic models with errors that name the bad key.

Every YAML file podwarden reads (proxy policies, agent configs, lab state) goes
through `load_yaml` so a user always sees the file, the key path and what would
have been accepted, and never a traceback.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

ModelT = TypeVar("ModelT", bound=BaseModel)


class ConfigError(Exception):
    """A settings file or flag could not be used; the message is for the user."""


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
