"""Pod manifests as YAML text, generated from fuzz bytes, aimed at where readers differ.

The generator writes text itself (not through a YAML emitter) so it can spell
things every way a person might: scalars from a pool of YAML 1.1/1.2 edge cases
(booleans in every case, octal, hex, binary, underscores, sexagesimal, dates,
NaN, tags, quotes, block scalars), keys that resolve to non-strings, anchors and
aliases (declared before use), `<<` merges before or after explicit keys,
duplicate keys, flow and block styles, comments, `---`/`...` markers, CR LF line
ends, and a few raw character edits. The header (apiVersion, kind, metadata.name)
is never touched, so kubectl's output can be matched to the file by name.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

SCALARS = (
    "true",
    "y",
    "Y",
    "yes",
    "Yes",
    "YES",
    "n",
    "N",
    "no",
    "NO",
    "on",
    "On",
    "ON",
    "off",
    "OFF",
    "true",
    "True",
    "TRUE",
    "false",
    "False",
    "FALSE",
    "tRue",
    "~",
    "null",
    "Null",
    "",
    "0",
    "00",
    "0o0",
    "0x0",
    "0_0",
    "0b0",
    "1:0",
    "1:30",
    "010",
    "017",
    "08",
    "09.5",
    "1e3",
    "1E3",
    "1e-3",
    "1e400",
    "1.",
    ".5",
    "+.5",
    "-0",
    "+1",
    "0O7",
    "0X1F",
    "1_000",
    "0x_1",
    "-0x1F",
    "-0b1",
    ".nan",
    ".inf",
    "-.Inf",
    "9223372036854775807",
    "9223372036854775808",
    "18446744073709551616",
    "1000",
    "65534",
    "2001-12-14",
    "2001-12-14t21:59:43.10-05:00",
    "<<",
    "-",
    "x",
    "nginx",
    "/var/log",
    "ALL",
    "NET_RAW",
    '"y"',
    "'on'",
    '"0"',
    "'1e3'",
    "!!bool y",
    "!!bool true",
    "!!str true",
    "!!int 0",
    '!!int "0"',
    "!!float 1",
    "!!int 1.5",
    "!!null ~",
    "!!binary eQ==",
    "! y",
    "!foo y",
    "|\n  y",
    ">-\n  on",
    "y\n  es",
    '"\\u0079"',
    '"a\\\nb"',
)
PLAIN = (
    "true",
    "false",
    "True",
    "FALSE",
    "0",
    "1",
    "1000",
    "0o0",
    "0x0",
    "1e3",
    "1.5",
    "x",
    "nginx",
    '"y"',
    "'no'",
    "~",
    "",
    "2001-12-14",
    "1:30",
    "ALL",
    "/var/log",
    "-1",
)
KEYS = (
    "privileged",
    "runAsUser",
    "runAsNonRoot",
    "readOnlyRootFilesystem",
    "allowPrivilegeEscalation",
    "hostNetwork",
    "hostPID",
    "readOnly",
    "name",
    "image",
    "y",
    "on",
    "n",
    "1",
    "'1'",
    "true",
    "~",
    "1.5",
    '"<<"',
    "a",
    "A",
    "x",
)
FIELDS = (
    ("sc", "privileged"),
    ("sc", "runAsUser"),
    ("sc", "runAsNonRoot"),
    ("sc", "readOnlyRootFilesystem"),
    ("sc", "allowPrivilegeEscalation"),
    ("spec", "hostNetwork"),
    ("spec", "hostPID"),
    ("spec", "hostIPC"),
    ("mount", "readOnly"),
    ("label", "app"),
    ("container", "image"),
    ("sc", "capabilities"),
)

EDIT_CHARS = "-:#&*!|>{}[],'\"\t \n<"


@dataclass
class _Writer:
    """Emits block YAML while remembering anchors, so aliases only follow them."""

    fdp: Any
    anchors: list[str] = field(default_factory=list)
    count: int = 0

    def choice(self, options: tuple[str, ...]) -> str:
        return options[self.fdp.ConsumeIntInRange(0, len(options) - 1)]

    def chance(self, percent: int) -> bool:
        """True `percent` times in 100; False once the fuzz bytes run out."""
        return bool(self.fdp.ConsumeIntInRange(0, 99) >= 100 - percent)

    def scalar(self) -> str:
        if self.anchors and self.chance(8):
            return "*" + self.choice(tuple(self.anchors))
        if self.chance(5):
            return self.fdp.ConsumeUnicodeNoSurrogates(6).replace("\n", " ")
        text = self.choice(PLAIN) if self.chance(60) else self.choice(SCALARS)
        return self.anchored("a", text) if self.chance(10) else text

    def anchored(self, prefix: str, text: str) -> str:
        """`text` under a new anchor, which later values may alias."""
        self.count += 1
        name = f"{prefix}{self.count}"
        self.anchors.append(name)
        return f"&{name} {text}"

    def capabilities(self) -> str:
        """`{add: [...], drop: [...]}` in flow style, items from the scalar pool."""
        add = ", ".join(self.scalar() for _ in range(self.fdp.ConsumeIntInRange(0, 3)))
        body = f"{{add: [{add}], drop: [ALL]}}"
        return self.anchored("c", body) if self.chance(20) else body

    def flow_map(self) -> str:
        pairs = [
            f"{self.choice(KEYS)}: {self.scalar()}" for _ in range(self.fdp.ConsumeIntInRange(0, 3))
        ]
        if self.anchors and self.chance(30):
            pairs.insert(
                self.fdp.ConsumeIntInRange(0, len(pairs)),
                "<<: *" + self.choice(tuple(self.anchors)),
            )
        body = "{" + ", ".join(pairs) + "}"
        return self.anchored("m", body) if self.chance(30) else body


def _indent(lines: list[str], spaces: int) -> str:
    return "".join(" " * spaces + line + "\n" for line in lines)


def _multiline(value: str, spaces: int) -> str:
    """A scalar spelling with continuation lines indented under its key."""
    head, *rest = value.split("\n")
    return head + "".join("\n" + " " * spaces + line.strip() for line in rest)


def _mapping_lines(writer: _Writer, wanted: list[tuple[str, str]], spaces: int) -> list[str]:
    """Block mapping lines for (key, value) pairs, with merges, duplicates and extras."""
    lines = [f"{key}: {_multiline(value, spaces + 2)}" for key, value in wanted]
    if writer.chance(35):  # a merge, before or after the explicit keys
        merged = (
            writer.flow_map()
            if not writer.anchors or writer.chance(50)
            else "*" + writer.choice(tuple(writer.anchors))
        )
        lines.insert(writer.fdp.ConsumeIntInRange(0, len(lines)), f"<<: {merged}")
    if lines and writer.chance(10):  # a duplicate key
        lines.append(lines[writer.fdp.ConsumeIntInRange(0, len(lines) - 1)])
    if writer.chance(15):
        lines.append(f"{writer.choice(KEYS)}: {_multiline(writer.scalar(), spaces + 2)}")
    if writer.chance(10):
        lines.insert(writer.fdp.ConsumeIntInRange(0, len(lines)), "# a comment")
    return lines


def manifest(fdp: Any, name: str, *, second: bool = False) -> str:
    """One manifest (sometimes two documents) for the pod `name` (`name`b for the second)."""
    writer = _Writer(fdp)
    chosen: dict[str, list[tuple[str, str]]] = {}
    for _ in range(fdp.ConsumeIntInRange(1, 6)):
        where, key = FIELDS[fdp.ConsumeIntInRange(0, len(FIELDS) - 1)]
        if key not in dict(chosen.get(where, [])):  # duplicates only on purpose, below
            value = writer.capabilities() if key == "capabilities" else writer.scalar()
            chosen.setdefault(where, []).append((key, value))
    text = f"apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\n"
    if "label" in chosen:
        text += "  labels:\n" + _indent(_mapping_lines(writer, chosen["label"], 4), 4)
    text += "spec:\n"
    if writer.chance(20):
        text += f"  x: {writer.flow_map()}\n"
    text += (
        _indent(_mapping_lines(writer, chosen.get("spec", []), 2), 2) if "spec" in chosen else ""
    )
    container = [("name", "c"), *chosen.get("container", [("image", "x")])]
    text += "  containers:\n  - " + _indent(_mapping_lines(writer, container, 4), 4).lstrip()
    if "sc" in chosen:
        if writer.chance(30):
            text += f"    securityContext: {writer.flow_map()}\n"
        else:
            text += "    securityContext:\n" + _indent(_mapping_lines(writer, chosen["sc"], 6), 6)
    if "mount" in chosen:
        mount = [("name", "v"), ("mountPath", "/v"), *chosen["mount"]]
        text += "    volumeMounts:\n    - " + _indent(_mapping_lines(writer, mount, 6), 6).lstrip()
        text += "  volumes: [{name: v, hostPath: {path: /var/log}}]\n"
    text = _mutate(fdp, text, start=text.index("spec:"))
    if not second and writer.chance(10):
        separator = ("---\n", "--- # next\n", "...\n---\n", "...\n", "--- x\n", "----\n")
        text += writer.choice(separator) + manifest(fdp, name + "b", second=True)
    if writer.chance(5):
        text = text.replace("\n", "\r\n")
    return text


def _mutate(fdp: Any, text: str, *, start: int) -> str:
    """A few raw edits after `start`: insert, delete or replace one character."""
    for _ in range(fdp.ConsumeIntInRange(0, 3) if fdp.ConsumeIntInRange(0, 3) == 3 else 0):
        if len(text) <= start:
            break
        at = fdp.ConsumeIntInRange(start, len(text) - 1)
        edit = fdp.ConsumeIntInRange(0, 2)
        char = EDIT_CHARS[fdp.ConsumeIntInRange(0, len(EDIT_CHARS) - 1)]
        if edit == 0:
            text = text[:at] + char + text[at:]
        elif edit == 1:
            text = text[:at] + text[at + 1 :]
        else:
            text = text[:at] + char + text[at + 1 :]
    return text
