"""Field errors worded exactly as Kubernetes' `field.Error` prints them.

PodSecurityPolicy denials are `k8s.io/apimachinery/pkg/util/validation/field`
errors rendered with Go's fmt: `spec.containers[0].securityContext.privileged:
Invalid value: true: Privileged containers are not allowed`. Users grep for these
strings and tools parse them, so the rendering (paths, `%q` strings, `%#v` slices,
`"null"` for unset pointers) is reproduced here rather than paraphrased.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


def go_quote(value: str) -> str:
    """Go's `%q` for a string (double quotes, backslash escapes)."""
    return json.dumps(value, ensure_ascii=False)


@dataclass(frozen=True)
class GoSlice:
    """A typed Go slice for `%#v` rendering, e.g. `[]int64{0, 1}` or `[]int64(nil)`."""

    type_name: str
    items: Sequence[Any] | None

    def render(self) -> str:
        if self.items is None:
            return f"[]{self.type_name}(nil)"
        inner = ", ".join(
            go_quote(item) if isinstance(item, str) else str(item) for item in self.items
        )
        return f"[]{self.type_name}{{{inner}}}"


NULL = object()
"""A nil pointer as the bad value: Kubernetes prints it as `"null"`."""


@dataclass(frozen=True)
class FieldError:
    """One `field.Error`: a path, an error type, the bad value and a detail."""

    path: str
    kind: str  # "Invalid value" | "Required value" | "Forbidden"
    value: Any = None
    detail: str = ""

    def __str__(self) -> str:
        if self.kind == "Invalid value":
            body = f"{self.kind}: {_render_value(self.value)}"
        else:
            body = self.kind
        if self.detail:
            body += f": {self.detail}"
        return f"{self.path}: {body}"


def _render_value(value: Any) -> str:
    if value is NULL or value is None:
        return '"null"'
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, str):
        return go_quote(value)
    if isinstance(value, GoSlice):
        return value.render()
    return str(value)


def invalid(path: str, value: Any, detail: str) -> FieldError:
    """`field.Invalid(path, value, detail)`."""
    return FieldError(path, "Invalid value", value, detail)


def required(path: str, detail: str = "") -> FieldError:
    """`field.Required(path, detail)`."""
    return FieldError(path, "Required value", None, detail)


def forbidden(path: str, detail: str) -> FieldError:
    """`field.Forbidden(path, detail)`."""
    return FieldError(path, "Forbidden", None, detail)


def go_ranges(ranges: Sequence[tuple[int, int]]) -> str:
    """`%v` of a []IDRange: `[{1 65535} {70000 70001}]`."""
    return "[" + " ".join(f"{{{low} {high}}}" for low, high in ranges) + "]"


def go_error_list(errors: Sequence[FieldError | str]) -> str:
    """`%v` of a field.ErrorList: each error's text, space separated, in brackets."""
    return "[" + " ".join(str(error) for error in errors) + "]"
