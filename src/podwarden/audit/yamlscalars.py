"""What a YAML scalar means to kubectl, what it means to a YAML 1.2 reader, and whether
those agree.

kubectl reads YAML with go-yaml v2 (through sigs.k8s.io/yaml), which follows YAML
1.1: `y`, `Yes`, `on` and `off` are booleans, `017` is octal, `0b1`, `0x_1` and
`1_000` are integers, underscores vanish from numbers. YAML 1.2 tools (go-yaml v3,
kustomize's kyaml, most linters) read the same text as strings or other numbers.
A manifest that CI judges with one reading and deploys with the other is how
`privileged: y` slipped through, so `podwarden check` takes kubectl's reading and
refuses a scalar the two readings disagree on (`Ambiguous`) instead of guessing.

`kubectl_value` is a port of go-yaml v2's `resolve` (resolve.go: the resolve table,
strconv.ParseInt/ParseUint with base 0 after removing underscores, the float
pattern, timestamps kept as strings) followed by what sigs.k8s.io/yaml's JSON
conversion and apimachinery's number handling make of the result: an integral
float becomes an integer, NaN and infinities are an error, integers outside int64
come out as imprecise floats (refused here as `OutOfRange`). `core_value` is the
YAML 1.2.2 core schema (§10.3.2). PyYAML cannot be used for either: it implements
YAML 1.1 differently from go-yaml (no `y`/`n`, sexagesimal `1:30` = 90, dates
become datetime objects) and has no YAML 1.2 mode.
"""

from __future__ import annotations

import math
import re
from decimal import Decimal
from typing import Any

TAG_PREFIX = "tag:yaml.org,2002:"
STR, INT, FLOAT, BOOL, NULL = (TAG_PREFIX + t for t in ("str", "int", "float", "bool", "null"))
SCALAR_TAGS = frozenset({STR, INT, FLOAT, BOOL, NULL})
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1

_V2_WORDS: dict[str, Any] = {
    **dict.fromkeys(("y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE"), True),
    **dict.fromkeys(("on", "On", "ON"), True),
    **dict.fromkeys(("n", "N", "no", "No", "NO", "false", "False", "FALSE"), False),
    **dict.fromkeys(("off", "Off", "OFF"), False),
    **dict.fromkeys(("", "~", "null", "Null", "NULL"), None),
    **dict.fromkeys((".nan", ".NaN", ".NAN"), math.nan),
    **dict.fromkeys((".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF"), math.inf),
    **dict.fromkeys(("-.inf", "-.Inf", "-.INF"), -math.inf),
}
_V2_HINTS = {**dict.fromkeys("+-", "S"), **dict.fromkeys("0123456789", "D"), ".": "."}
_V2_FLOAT = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?")
_GO_FLOAT = re.compile(r"[-+]?(\.[0-9]+|[0-9]+\.?[0-9]*)([eE][-+]?[0-9]+)?")

_LEADING_ZERO_OCTAL = re.compile(r"\+?0[0-7]+")

_CORE_NULL = frozenset(("", "~", "null", "Null", "NULL"))
_CORE_BOOL = {"true": True, "True": True, "TRUE": True}
_CORE_BOOL.update({"false": False, "False": False, "FALSE": False})
_CORE_INT = re.compile(r"[-+]?[0-9]+")
_CORE_OCT = re.compile(r"0o[0-7]+")
_CORE_HEX = re.compile(r"0x[0-9a-fA-F]+")
_CORE_FLOAT = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?")
_CORE_INF = re.compile(r"[-+]?\.(inf|Inf|INF)")
_CORE_NAN = re.compile(r"\.(nan|NaN|NAN)")


class KubectlError(ValueError):
    """kubectl itself refuses this scalar (the message is go-yaml's or the JSON step's)."""


class OutOfRange(ValueError):
    """A number kubectl would turn into an imprecise float (outside int64)."""


class Ambiguous(ValueError):
    """kubectl (YAML 1.1) and YAML 1.2 readers read the scalar differently."""


class _Invalid:
    """A YAML 1.2 reader refuses the scalar (e.g. `!!bool y`)."""

    def __repr__(self) -> str:
        return "an error"


INVALID = _Invalid()


def _go_unsigned(digits: str) -> int | None:
    """strconv.ParseUint(s, 0, ·) without its range check: the value, or None on a
    syntax error. Base 0: `0b`/`0o`/`0x` prefixes (either case), a leading 0 is octal."""
    if not digits:
        return None
    base = 10
    if digits[0] == "0":
        if len(digits) >= 3 and digits[1] in "bB":
            base, digits = 2, digits[2:]
        elif len(digits) >= 3 and digits[1] in "oO":
            base, digits = 8, digits[2:]
        elif len(digits) >= 3 and digits[1] in "xX":
            base, digits = 16, digits[2:]
        else:
            base, digits = 8, digits[1:]
    value = 0
    for char in digits:
        if "0" <= char <= "9":
            digit = ord(char) - 48
        elif "a" <= char.lower() <= "z":
            digit = ord(char.lower()) - 87
        else:
            return None
        if digit >= base:
            return None
        value = value * base + digit
    return value


def _go_int(plain: str) -> int | None:
    """strconv.ParseInt (or, past int64, ParseUint and big.Int) with base 0: the exact
    value, range checked later (json_number). None when the text is not an integer."""
    negative = plain[:1] == "-"
    value = _go_unsigned(plain[1:] if plain[:1] in ("+", "-") else plain)
    if value is None:
        return None
    return -value if negative else value


def _go_float(text: str) -> float | None:
    """strconv.ParseFloat for decimal text; None on its errors (including overflow to
    infinity, which ParseFloat reports as ErrRange and go-yaml then ignores)."""
    value = float(text)
    return None if math.isinf(value) else value


def _v2_number(text: str) -> tuple[str, Any] | None:
    """resolve()'s digit and sign branch (hint D or S). A timestamp-shaped value
    (2001-12-14) fails every number parse and so stays a string, as go-yaml leaves
    it when decoding into interface{}."""
    plain = text.replace("_", "")
    number = _go_int(plain)
    if number is not None:
        return INT, number
    if _V2_FLOAT.fullmatch(plain) and (value := _go_float(plain)) is not None:
        return FLOAT, value
    return None


def _v2_resolve(tag: str | None, text: str) -> tuple[str, Any]:
    """go-yaml v2's resolve(tag, in) for the tags podwarden accepts."""
    if tag == STR:
        return STR, text
    hint = _V2_HINTS.get(text[:1], "M" if text[:1] in "yYnNtTfFoO~" else "") if text else "N"
    resolved: tuple[str, Any] = (STR, text)
    if hint:
        if text in _V2_WORDS:
            word = _V2_WORDS[text]
            kind = NULL if word is None else BOOL if isinstance(word, bool) else FLOAT
            resolved = (kind, word)
        elif hint == "." and _GO_FLOAT.fullmatch(text):
            value = _go_float(text)
            resolved = (FLOAT, value) if value is not None else resolved
        elif hint in "DS":
            resolved = _v2_number(text) or resolved
    if tag is None or resolved[0] == tag:
        return resolved
    if tag == FLOAT and resolved[0] == INT:
        return FLOAT, float(resolved[1])
    raise KubectlError(f"cannot decode {_short(resolved[0])} `{text}` as a {_short(tag)}")


def _short(tag: str) -> str:
    return "!!" + tag.removeprefix(TAG_PREFIX)


def json_number(value: Any) -> Any:
    """What kubectl sends for a number after sigs.k8s.io/yaml's JSON step and
    apimachinery's number handling: an int64, or a float (an integral float is sent
    as an integer)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return value
    if isinstance(value, int):
        if not INT64_MIN <= value <= INT64_MAX:
            raise OutOfRange(f"{value} is outside the 64-bit integer range")
        return value
    if not math.isfinite(value):
        raise KubectlError(f"json: unsupported value: {value!r} (NaN and infinities)")
    if value.is_integer():
        if not -(2.0**63) <= value < 2.0**63:
            raise OutOfRange(f"{value!r} is outside the 64-bit integer range")
        return int(Decimal(repr(value)))
    return value


def kubectl_value(text: str, *, tag: str | None, plain: bool) -> Any:
    """The JSON value kubectl sends for one scalar (go-yaml v2 decode.go `scalar`)."""
    if tag is None and not plain:
        return text
    return json_number(_v2_resolve(tag, text)[1])


def core_value(text: str, *, tag: str | None, plain: bool) -> Any:
    """The value under the YAML 1.2 core schema, INVALID when it refuses the tag."""
    if tag == STR or (tag is None and not plain):
        return text
    if text in _CORE_NULL:
        found: Any = None
    elif text in _CORE_BOOL:
        found = _CORE_BOOL[text]
    elif _CORE_INT.fullmatch(text):
        found = int(text)
    elif _CORE_OCT.fullmatch(text):
        found = int(text[2:], 8)
    elif _CORE_HEX.fullmatch(text):
        found = int(text[2:], 16)
    elif _CORE_FLOAT.fullmatch(text):
        found = float(text)
    elif _CORE_INF.fullmatch(text):
        found = -math.inf if text.startswith("-") else math.inf
    elif _CORE_NAN.fullmatch(text):
        found = math.nan
    else:
        found = text
    if tag is not None and tag != _core_tag(found, text):
        if not (tag == FLOAT and isinstance(found, int) and not isinstance(found, bool)):
            return INVALID
        found = float(found)
    return found


def _core_tag(value: Any, text: str) -> str:
    if value is None:
        return NULL
    if isinstance(value, bool):
        return BOOL
    if isinstance(value, int):
        return INT
    if isinstance(value, float):
        return FLOAT
    return STR


def describe(value: Any) -> str:
    """A value as the messages name it: true, 17, 1.5, null, the string "y"."""
    if value is INVALID:
        return "an error"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'the string "{value}"'
    return repr(value)


def _comparable(value: Any) -> tuple[str, Any]:
    if isinstance(value, int | float) and not isinstance(value, bool):
        try:
            return "number", json_number(value)
        except (KubectlError, OutOfRange):
            return "number", repr(value)
    return type(value).__name__, value


def resolve(text: str, *, tag: str | None, plain: bool) -> Any:
    """kubectl's value for a scalar; raises Ambiguous when a YAML 1.2 reader differs,
    KubectlError when kubectl refuses it, OutOfRange for numbers it would mangle."""
    ours = kubectl_value(text, tag=tag, plain=plain)
    other = core_value(text, tag=tag, plain=plain)
    if other is INVALID or _comparable(ours) != _comparable(other):
        if isinstance(ours, bool):
            advice = f'write {describe(ours)}, or "{text}" for the string'
        elif isinstance(ours, str):
            advice = f'quote it ("{text}") to keep the string'
        elif _LEADING_ZERO_OCTAL.fullmatch(text) and ours >= 0:
            advice = (
                f"write {ours}, or {oct(ours)} for octal "
                "(kubectl and YAML 1.2 readers agree on both)"
            )
        else:
            advice = f"write {describe(ours)}" + (
                f', or "{text}" for the string' if isinstance(other, str) else ""
            )
        raise Ambiguous(
            f"`{text}` is {describe(ours)} to kubectl (YAML 1.1) but "
            f"{describe(other)} to YAML 1.2 readers; {advice}"
        )
    return ours
