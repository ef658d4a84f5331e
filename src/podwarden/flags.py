"""Click flags and `--config` keys generated from one pydantic model per part.

Why: a setting used to be declared three times (a click option, a config-file
field, a parse function restating its default) and a unit test kept the copies
equal. Now the model is the only declaration: the field name is the config key,
`--` and the name with dashes is the flag, the field's default and description
are the flag's default and help. Click's own defaults are None, so a flag the
user did not type never hides a key of the file; the model supplies defaults.

`SettingsCommand` is the one place a ConfigError becomes exit 2, with a message
naming where the bad value came from: `--flag`, or `FILE: key`.
"""

from __future__ import annotations

import enum
import types
import typing
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import click
from click.core import ParameterSource
from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo

from podwarden import config
from podwarden.config import ConfigError

F = TypeVar("F", bound=Callable[..., Any])
ModelT = TypeVar("ModelT", bound=BaseModel)

EXIT_CONFIG = 2
_ORIGINS = "podwarden.flags.origins"  # click ctx.meta: key -> where its value came from


def flag_of(key: str) -> str:
    """`session_duration` -> `--session-duration`."""
    return "--" + key.replace("_", "-")


def options(model: type[BaseModel], *, exclude: Iterable[str] = ()) -> Callable[[F], F]:
    """A decorator adding one click option per field of `model` (but `exclude`)."""
    skipped = set(exclude)
    made = [_option(k, f) for k, f in model.model_fields.items() if k not in skipped]

    def apply(func: F) -> F:
        for option in reversed(made):
            func = option(func)
        return func

    return apply


def _extra(field: FieldInfo) -> dict[str, Any]:
    return field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}


def _option(key: str, field: FieldInfo) -> Callable[[F], F]:
    annotation = _without_none(field.annotation)
    kwargs: dict[str, Any] = {"default": None}  # None: not typed (the model's default applies)
    names = [flag_of(key)]
    shown: str | None = None
    if field.is_required():
        kwargs["required"] = True
    else:
        default = field.get_default(call_default_factory=True)
        if default not in (None, [], False) and annotation is not bool:
            shown = str(default.value if isinstance(default, enum.Enum) else default)
    if annotation is bool:
        if _extra(field).get("negatable"):
            name = key.replace("_", "-")
            names = [f"--{name}/--no-{name}"]
            shown = name if field.default else f"no-{name}"
        else:
            kwargs["is_flag"] = True
    elif typing.get_origin(annotation) is list:
        kwargs["multiple"] = True
    else:
        kwargs["type"] = _click_type(annotation)
    help_text = field.description or ""
    kwargs["help"] = f"{help_text}  [default: {shown}]" if shown is not None else help_text
    return click.option(*names, key, **kwargs)


def _without_none(annotation: Any) -> Any:
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        rest = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(rest) == 1:
            return rest[0]
    return annotation


def _click_type(annotation: Any) -> Any:
    origin = typing.get_origin(annotation)
    if origin is typing.Literal:
        return click.Choice([str(a) for a in typing.get_args(annotation)])
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return click.Choice([str(member.value) for member in annotation])
    if annotation is Path:
        return click.Path(dir_okay=False, path_type=Path)
    if annotation in (int, float):
        return annotation
    return None  # str, and types the model parses itself (durations)


def typed(values: Mapping[str, Any]) -> dict[str, Any]:
    """The flags the user typed (click defaults dropped), repeated flags as lists."""
    ctx = click.get_current_context(silent=True)  # None: a caller outside click (tests)
    given: dict[str, Any] = {}
    for key, value in values.items():
        if value is None or value == ():
            continue
        if ctx is not None and ctx.get_parameter_source(key) in (None, ParameterSource.DEFAULT):
            continue
        given[key] = list(value) if isinstance(value, tuple) else value
    return given


def load(
    model: type[ModelT], values: Mapping[str, Any], *, config_file: Path | None = None
) -> ModelT:
    """The model from `config_file`'s keys overridden by the flags typed.

    Where each value came from is remembered for the running command, so a
    ConfigError about a key raised later (a cross-field check) names it too.
    """
    flags = typed(values)
    file_data: dict[str, Any] = {}
    if config_file is not None:
        raw = config.read_yaml(config_file)
        if raw is not None and not isinstance(raw, dict):
            raise ConfigError(f"{config_file}: expected a mapping of settings at the top level")
        file_data = dict(raw or {})
    origins = {key: f"{config_file}: {key}" for key in file_data}
    origins.update({key: flag_of(key) for key in flags})
    if config_file is None:  # no file: every key not typed is still only a flag
        origins.update({key: flag_of(key) for key in model.model_fields if key not in flags})
    ctx = click.get_current_context(silent=True)
    if ctx is not None:
        ctx.meta[_ORIGINS] = origins
    try:
        return model.model_validate({**file_data, **flags})
    except ValidationError as exc:
        raise ConfigError(describe(exc, origins)) from None


def describe(exc: ValidationError, origins: Mapping[str, str]) -> str:
    """One line per error: where the value came from, what is wrong, the value given."""
    lines = []
    for error in exc.errors():
        loc = [str(part) for part in error["loc"]]
        where = _where(loc[0], origins) if loc else "(top level)"
        if len(loc) > 1:
            where += "." + ".".join(loc[1:])
        message = str(error["msg"]).removeprefix("Value error, ")
        given = f", got {error['input']!r}" if error["type"] != "missing" and loc else ""
        lines.append(f"{where}: {message}{given}")
    return "\n".join(lines)


def explain(exc: ConfigError, origins: Mapping[str, str]) -> str:
    """A ConfigError's message, its key replaced by where the value came from."""
    return f"{_where(exc.key, origins)}: {exc.message}" if exc.key else str(exc)


def _where(key: str, origins: Mapping[str, str]) -> str:
    """`--flag`, `FILE: key`, or (set nowhere, e.g. missing) `key (--flag)`."""
    return origins.get(key) or f"{key} ({flag_of(key)})"


class SettingsCommand(click.Command):
    """A command whose ConfigErrors exit 2 with `podwarden CMD: configuration error:`."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ConfigError as exc:
            fail(ctx, exc)


class SettingsGroup(click.Group):
    """A group whose own callback's ConfigErrors exit 2 (its subcommands choose their own)."""

    command_class = SettingsCommand

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ConfigError as exc:
            fail(ctx, exc)


def fail(ctx: click.Context, exc: ConfigError) -> typing.NoReturn:
    """Print the configuration error for the user and exit 2."""
    names: list[str] = []
    at: click.Context | None = ctx
    while at is not None:
        if at.parent is not None or at.command.name != "main":  # `main`: podwarden itself
            names.append(at.info_name or at.command.name or "")
        at = at.parent
    path = " ".join(["podwarden", *reversed(names)])
    origins = ctx.meta.get(_ORIGINS, {})
    click.echo(f"{path}: configuration error:\n{explain(exc, origins)}", err=True)
    ctx.exit(EXIT_CONFIG)
