"""Write `requirements.txt`: every Python dependency, runtime and dev, pinned with hashes.

`make lock` runs this. The resolving is uv's (`uv pip compile --generate-hashes
--universal`); this script only decides what goes in and adds two things uv
cannot write:

- a header line `# inputs-sha256: …` over everything the lock was made from
  (the project's dependency lists, its build requirements and `constraints.txt`),
  so a test can tell, offline, that `pyproject.toml` changed and the lock did
  not follow;
- above each package that `constraints.txt` pins exactly, the reason written
  beside that pin, so nobody "upgrades" it without reading why.

Besides the project's own dependencies the lock holds what `make setup` needs to
install the project itself without reaching the network for anything else: pip,
and the build backend (`[build-system] requires`), because the project is
installed with `--no-build-isolation`.

Run it as `python tools/lock.py [--check]`; `--check` only says whether the lock
is current (exit 1 when it is not).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PYPROJECT = REPO / "pyproject.toml"
CONSTRAINTS = REPO / "constraints.txt"
LOCK = REPO / "requirements.txt"
PYTHON_VERSION = "3.11"
# What `make setup` itself installs besides the project's dependencies.
SETUP_TOOLS = ("pip",)
DIGEST_PREFIX = "# inputs-sha256: "
PIN_PREFIX = "# pinned: "
_PIN = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)(\[[^\]]*\])?\s*==\s*([^\s#;]+)[^#]*#\s*(.+)$")


def inputs() -> dict[str, object]:
    """Everything the lock is made from, as one JSON-able value (digested into the header)."""
    project = tomllib.loads(PYPROJECT.read_text())
    return {
        "python": PYTHON_VERSION,
        "dependencies": project["project"]["dependencies"],
        "optional-dependencies": project["project"].get("optional-dependencies", {}),
        "build-system": project["build-system"]["requires"],
        "setup-tools": list(SETUP_TOOLS),
        "constraints": CONSTRAINTS.read_text(),
    }


def digest() -> str:
    """The inputs' digest: stable across key order and whitespace of the JSON encoding."""
    encoded = json.dumps(inputs(), sort_keys=True, separators=(",", ":")).encode()
    return hashlib.sha256(encoded).hexdigest()


def pin_reasons() -> dict[str, str]:
    """`constraints.txt` pins that carry a reason: normalised package name -> reason."""
    reasons: dict[str, str] = {}
    for line in CONSTRAINTS.read_text().splitlines():
        match = _PIN.match(line)
        if match:
            reasons[normalise(match.group(1))] = match.group(4).strip()
    return reasons


def normalise(name: str) -> str:
    """PEP 503 normalisation, so `PyYAML`, `pyyaml` and `py_yaml` compare equal."""
    return re.sub(r"[-_.]+", "-", name).lower()


def compile_lock(uv: str) -> str:
    """uv's resolution of the inputs, as requirements text with hashes."""
    project = tomllib.loads(PYPROJECT.read_text())
    extras = sorted(project["project"].get("optional-dependencies", {}))
    with tempfile.TemporaryDirectory() as scratch:
        extra_input = Path(scratch) / "setup-requirements.in"
        extra_input.write_text("\n".join([*project["build-system"]["requires"], *SETUP_TOOLS]))
        argv = [
            uv,
            "pip",
            "compile",
            str(PYPROJECT),
            str(extra_input),
            *[arg for extra in extras for arg in ("--extra", extra)],
            "--constraints",
            str(CONSTRAINTS),
            "--generate-hashes",
            "--universal",
            "--python-version",
            PYTHON_VERSION,
            "--no-header",
            "--quiet",
        ]
        done = subprocess.run(argv, capture_output=True, text=True, check=False, cwd=REPO)
    if done.returncode != 0:
        sys.exit(f"uv pip compile failed ({done.returncode}):\n{done.stderr}")
    # uv names the scratch file in its `# via` notes; name what it stands for instead.
    return done.stdout.replace(str(extra_input), "build-system.requires + pip")


def annotate(body: str) -> str:
    """The lock text: header, then uv's output with each pinned package's reason above it."""
    reasons = pin_reasons()
    lines: list[str] = [
        "# The lock: every Python dependency of podwarden, runtime and dev, with hashes.",
        "# Made by `make lock` (tools/lock.py, which runs `uv pip compile`); do not edit by hand.",
        "# `make setup` installs exactly this file with `pip install --require-hashes`.",
        f"{DIGEST_PREFIX}{digest()}",
    ]
    for line in body.splitlines():
        if line and not line[0].isspace() and not line.startswith("#"):
            name = normalise(re.split(r"[\[=<>;\s]", line, maxsplit=1)[0])
            if name in reasons:
                lines.append(f"{PIN_PREFIX}{reasons[name]}")
        lines.append(line)
    return "\n".join(lines) + "\n"


def recorded_digest(text: str) -> str | None:
    """The digest the lock was written with, or None for a lock without one."""
    for line in text.splitlines():
        if line.startswith(DIGEST_PREFIX):
            return line.removeprefix(DIGEST_PREFIX).strip()
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only say whether the lock is current")
    parser.add_argument("--uv", default=str(Path(sys.executable).with_name("uv")))
    args = parser.parse_args()
    if args.check:
        current = LOCK.exists() and recorded_digest(LOCK.read_text()) == digest()
        print("requirements.txt is current" if current else "requirements.txt is stale: make lock")
        sys.exit(0 if current else 1)
    LOCK.write_text(annotate(compile_lock(args.uv)))
    print(f"wrote {LOCK.relative_to(REPO)}")


if __name__ == "__main__":
    main()
