"""Canonicalise a raw metadata request, or refuse it.

A policy is only as strong as the spelling it sees. Proxies in front of
metadata services have been bypassed by spellings the proxy and the service
read differently: percent-encoded slashes and dots, backslashes (aad-pod-
identity, CVE-2022-23551), case (Azure IMDS is case-insensitive), trailing dots
(stripped by Windows path handling), double encoding. So this module does not
"clean up" a request: anything that is not already in the one canonical
spelling is refused with 400 and a plain text reason, and what is left has
exactly one reading. The policy then matches that reading, and the proxy
forwards a request rebuilt from it, never the raw bytes.

Written by hand because no parser refuses rather than normalises: `urllib`
and `yarl` both happily decode `%2F` and resolve dot segments.
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass
from types import MappingProxyType
from urllib.parse import quote

from podwarden.metadata.model import CanonicalRequest, ProviderName, RawRequest, RequestRejected

KNOWN_METHODS = ("GET", "HEAD", "PUT", "POST", "DELETE", "OPTIONS", "PATCH")
BODYLESS_METHODS = frozenset({"GET", "HEAD"})

# Characters a decoded path may hold: what metadata paths use (MACs have `:`,
# service accounts `@`, tag keys `+` and `=`, IAM role names all of `+=,.@_-`,
# so `iam/security-credentials/team-a,x` is a path). Everything else has a second
# reading somewhere and is refused: `%` (double encoding), `;` (path
# parameters), `\\`, `?`, `#`, whitespace, `~` (Windows short names), `$`
# (NTFS streams), `*`, quotes, non-ASCII.
PATH_CHARS = frozenset(string.ascii_letters + string.digits + "-._@:+=,/")
# Characters that must never arrive percent-encoded: decoding them changes the
# path's structure (`/`, `.`), means a second decoding layer (`%`), or is a
# separator some server honours (`\`, NUL).
STRUCTURAL_ESCAPES = {"/": "'/'", "\\": "'\\'", ".": "'.'", "%": "'%'", "\x00": "NUL"}
# Headers that must appear at most once: a second copy is read differently by
# different servers (first wins / last wins / joined).
SINGLETON_HEADERS = frozenset(
    {
        "host",
        "content-length",
        "transfer-encoding",
        "metadata",
        "metadata-flavor",
        "x-forwarded-for",
        "x-aws-ec2-metadata-token",
        "x-aws-ec2-metadata-token-ttl-seconds",
    }
)
HEADER_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
HEADER_VALUE_BAD = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
# Fast paths: a target that is printable ASCII without '#', and a decoded path
# made only of PATH_CHARS, skip the character-by-character loops that exist
# only to name the offending character.
TARGET_PLAIN = re.compile(r"/[\x21-\x22\x24-\x7e]*")
PATH_PLAIN = re.compile(r"[A-Za-z0-9\-._@:+=,/]*")
AWS_VERSION = re.compile(r"latest|1\.0|\d{4}-\d{2}-\d{2}")
_ESCAPE = re.compile(r"%(..)?")


@dataclass(frozen=True)
class Limits:
    """Size limits applied before any parsing work, so hostile input stays cheap."""

    max_target_bytes: int = 4096
    max_header_bytes: int = 8192
    max_headers: int = 64
    max_body_bytes: int = 0  # metadata requests (GET/HEAD, token PUT) carry no body


@dataclass(frozen=True)
class Syntax:
    """The per-provider facts canonicalisation needs."""

    provider: ProviderName
    query_keys: frozenset[str]
    case_insensitive: bool = False  # Azure: match on the lower-cased path
    # Keys whose values the server reads as booleans without regard to case (GCE's
    # `recursive=True` from older client libraries): `true`/`false` in any case become
    # lower case, so policies see one spelling and the upstream gets it too.
    boolean_query_keys: frozenset[str] = frozenset()
    versioned_tree: bool = False  # AWS: `latest` and dated versions are one tree


def canonicalise(raw: RawRequest, *, syntax: Syntax, limits: Limits) -> CanonicalRequest:
    """Return the one canonical reading of `raw`, or raise RequestRejected(400, reason)."""
    method = _method(raw.method)
    headers = _headers(raw.headers, limits=limits)
    _body(method, raw.body, headers, limits=limits)
    target = _target_text(raw.target, limits=limits)
    raw_path, _, raw_query = target.partition("?")
    path = _path(raw_path)
    query = _query(raw_query, has_query="?" in target, syntax=syntax)
    segments = tuple(path.split("/")[1:])
    match_path = path.lower() if syntax.case_insensitive else path
    tree_path = _aws_tree(path) if syntax.versioned_tree else match_path
    return CanonicalRequest(
        method=method,
        path=path,
        segments=segments,
        query=query,
        headers=MappingProxyType(headers),  # read-only: canonical requests are shared
        client=raw.client,
        body=raw.body,
        tree_path=tree_path,
    )


def encode_target(path: str, query: tuple[tuple[str, str], ...]) -> str:
    """Rebuild the request-target sent upstream from canonical parts."""
    if not query:
        return path
    pairs = "&".join(f"{quote(k, safe='-._~')}={quote(v, safe='-._~')}" for k, v in query)
    return f"{path}?{pairs}"


def _reject(reason: str) -> RequestRejected:
    return RequestRejected(400, reason)


def _method(method: str) -> str:
    if method not in KNOWN_METHODS:
        shown = method if method.isprintable() and len(method) <= 32 else repr(method[:32])
        raise _reject(f"unknown method {shown} (accepted: {', '.join(KNOWN_METHODS)})")
    return method


def _headers(lines: tuple[tuple[str, str], ...], *, limits: Limits) -> dict[str, str]:
    if len(lines) > limits.max_headers:
        raise _reject(f"too many headers ({len(lines)}, limit {limits.max_headers})")
    size = sum(len(name) + len(value) + 4 for name, value in lines)
    if size > limits.max_header_bytes:
        raise _reject(f"headers too large ({size} bytes, limit {limits.max_header_bytes})")
    headers: dict[str, str] = {}
    for name, value in lines:
        if not HEADER_NAME.fullmatch(name):
            raise _reject(f"invalid header name {name[:64]!r}")
        if HEADER_VALUE_BAD.search(value):
            raise _reject(f"control character in header {name}")
        key = name.lower()
        if key in headers and key in SINGLETON_HEADERS:
            raise _reject(f"duplicate header {key}")
        headers[key] = value.strip(" \t")
    return headers


def _body(method: str, body: bytes, headers: dict[str, str], *, limits: Limits) -> None:
    declared = headers.get("content-length", "0")
    if method in BODYLESS_METHODS and (body or declared not in ("", "0")):
        raise _reject(f"a {method} request must not carry a body")
    if "transfer-encoding" in headers and method in BODYLESS_METHODS:
        raise _reject(f"a {method} request must not carry a body")
    if len(body) > limits.max_body_bytes:
        raise _reject(f"body too large ({len(body)} bytes, limit {limits.max_body_bytes})")


def _target_text(target: str, *, limits: Limits) -> str:
    size = len(target.encode("utf-8", "surrogatepass"))
    if size > limits.max_target_bytes:
        raise _reject(f"request target too long ({size} bytes, limit {limits.max_target_bytes})")
    if TARGET_PLAIN.fullmatch(target):
        return target
    if not target:
        raise _reject("empty request target")
    for char in target:
        if ord(char) < 0x21 or ord(char) == 0x7F:
            raise _reject(f"control character or space {char!r} in request target")
        if ord(char) > 0x7E:
            raise _reject(f"non-ASCII character {char!r} in request target")
    if "#" in target:
        raise _reject("fragment in request target")
    if not target.startswith("/"):
        if "://" in target:
            raise _reject("absolute-form request target (send origin-form: /path?query)")
        raise _reject("request target must start with '/'")
    return target


def _decode(text: str, *, where: str) -> str:
    """Percent-decode `text`, refusing malformed or structural escapes."""

    def one(match: re.Match[str]) -> str:
        digits = match.group(1)
        if digits is None or not all(c in string.hexdigits for c in digits):
            raise _reject(f"malformed percent-escape in {where}")
        char = chr(int(digits, 16))
        if char in STRUCTURAL_ESCAPES:
            raise _reject(f"percent-encoded {STRUCTURAL_ESCAPES[char]} in {where}")
        if ord(char) < 0x20 or ord(char) == 0x7F:
            raise _reject(f"percent-encoded control character in {where}")
        if ord(char) > 0x7E:
            raise _reject(f"percent-encoded non-ASCII byte in {where}")
        return char

    return _ESCAPE.sub(one, text)


def _path(raw_path: str) -> str:
    if "\\" in raw_path:
        raise _reject("backslash in path")
    path = _decode(raw_path, where="path") if "%" in raw_path else raw_path
    if not PATH_PLAIN.fullmatch(path):
        for char in path:
            if char not in PATH_CHARS:
                raise _reject(f"character {char!r} not allowed in path")
    if path == "/":
        return path
    segments = path[1:].split("/")
    for index, segment in enumerate(segments):
        last = index == len(segments) - 1
        if segment == "" and not last:
            raise _reject("empty path segment ('//')")
        if segment in (".", ".."):
            raise _reject(f"dot segment {segment!r} in path")
        if segment.endswith("."):
            raise _reject(f"path segment {segment!r} ends with a dot")
    return path


def _query(raw_query: str, *, has_query: bool, syntax: Syntax) -> tuple[tuple[str, str], ...]:
    if not has_query:
        return ()
    if raw_query == "":
        raise _reject("empty query ('?' with nothing after it)")
    pairs: list[tuple[str, str]] = []
    seen: set[str] = set()
    for item in raw_query.split("&"):
        if item == "":
            raise _reject("empty query parameter ('&&' or a trailing '&')")
        raw_key, _, raw_value = item.partition("=")
        key = _decode(raw_key, where="query key")
        if syntax.case_insensitive:
            key = key.lower()
        value = _decode_value(raw_value)
        if key in syntax.boolean_query_keys and value.lower() in ("true", "false"):
            value = value.lower()
        if key not in syntax.query_keys:
            accepted = ", ".join(sorted(syntax.query_keys)) or "none"
            raise _reject(
                f"query parameter {key[:64]!r} is not accepted for {syntax.provider.value} "
                f"(accepted: {accepted})"
            )
        if key in seen:
            raise _reject(f"duplicate query parameter {key!r}")
        seen.add(key)
        pairs.append((key, value))
    return tuple(pairs)


def _decode_value(raw_value: str) -> str:
    """Query values may hold `/`, `.` or `:` (audience URLs), but no NUL or controls."""

    def one(match: re.Match[str]) -> str:
        digits = match.group(1)
        if digits is None or not all(c in string.hexdigits for c in digits):
            raise _reject("malformed percent-escape in query value")
        char = chr(int(digits, 16))
        if ord(char) < 0x20 or ord(char) == 0x7F or ord(char) > 0x7E:
            raise _reject("percent-encoded control or non-ASCII byte in query value")
        return char

    return _ESCAPE.sub(one, raw_value)


def _aws_tree(path: str) -> str:
    """`/latest/meta-data/x` and `/2009-04-04/meta-data/x` are one tree: `/meta-data/x`.

    A path whose first segment is no IMDS version has no tree path (""), so
    no rule written for the tree can match it.
    """
    if path == "/":
        return ""
    version, slash, rest = path[1:].partition("/")
    if not AWS_VERSION.fullmatch(version):
        return ""
    return "/" + rest if slash else "/"
