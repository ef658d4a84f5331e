"""requirements.txt is what the venv holds, and it agrees with pyproject.toml.

A fresh clone's `make setup` installs the lock and nothing else, so a lock that
lags behind pyproject.toml (a dependency added, a range changed) or a venv that
drifted from the lock (a package installed by hand) would make CI test
something other than what the repository says. Each failure says what to run.
"""

from __future__ import annotations

import importlib.metadata
import re
import tomllib

from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.version import Version
from tools import lock

from tests.peers import versions

PROJECT = tomllib.loads(lock.PYPROJECT.read_text())
LOCK_TEXT = lock.LOCK.read_text()


def _entries() -> list[tuple[str, str, str]]:
    """(name, version, marker-or-empty) of each package line in the lock, with its block."""
    entries: list[tuple[str, str, str]] = []
    for match in re.finditer(
        r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)\s*(?:;\s*([^\\\n]+?))?\s*\\?$",
        LOCK_TEXT,
        flags=re.MULTILINE,
    ):
        entries.append((versions.normalise(match.group(1)), match.group(2), match.group(3) or ""))
    return entries


def _applies(marker: str) -> bool:
    return not marker or Requirement(f"x; {marker}").marker.evaluate(default_environment())  # type: ignore[union-attr]


def _pinned_here() -> dict[str, str]:
    return {name: version for name, version, marker in _entries() if _applies(marker)}


def _declared() -> list[Requirement]:
    extras = PROJECT["project"].get("optional-dependencies", {})
    lines = [
        *PROJECT["project"]["dependencies"],
        *(line for group in extras.values() for line in group),
        *PROJECT["build-system"]["requires"],
        *lock.SETUP_TOOLS,
    ]
    return [Requirement(line) for line in lines]


def test_the_lock_was_made_from_the_current_pyproject_and_constraints():
    recorded = lock.recorded_digest(LOCK_TEXT)
    assert recorded == lock.digest(), (
        "requirements.txt was not made from the current pyproject.toml / constraints.txt "
        "(their dependency lists changed since): run `make lock` and commit the lock"
    )


def test_every_declared_requirement_is_satisfied_by_its_locked_version():
    pinned = _pinned_here()
    environment = default_environment()
    unmet = []
    for requirement in _declared():
        if requirement.marker and not requirement.marker.evaluate(environment):
            continue
        version = pinned.get(versions.normalise(requirement.name))
        if version is None or not requirement.specifier.contains(
            Version(version), prereleases=True
        ):
            unmet.append(f"{requirement} (locked: {version or 'absent'})")
    assert not unmet, f"pyproject.toml asks for what the lock does not give: {unmet}; run make lock"


def test_every_locked_package_carries_hashes():
    blocks = re.split(r"\n(?=[A-Za-z0-9])", LOCK_TEXT.split("\n\n", 1)[-1])
    package_blocks = [b for b in blocks if re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*==", b)]
    assert len(package_blocks) == len(_entries()) > 50
    without = [b.split()[0] for b in package_blocks if "--hash=sha256:" not in b]
    assert not without, f"locked without a hash: {without}"


def test_each_exact_pin_is_in_the_lock_with_its_reason_above_it():
    reasons = lock.pin_reasons()
    assert "moto" in reasons, "constraints.txt must keep moto pinned, with its reason"
    pinned = _pinned_here()
    for line in lock.CONSTRAINTS.read_text().splitlines():
        requirement = line.split("#", 1)[0].strip()
        if not requirement:
            continue
        name, version = (part.strip() for part in requirement.split("=="))
        key = versions.normalise(name)
        assert pinned.get(key) == version, (
            f"constraints.txt pins {name}=={version}, lock has {pinned.get(key)}"
        )
        assert f"{lock.PIN_PREFIX}{reasons[key]}\n{name}=={version}" in LOCK_TEXT, (
            f"the lock lacks the reason for pinning {name} above its line"
        )


def test_moto_is_pinned_to_the_release_that_follows_aws():
    assert _pinned_here()["moto"] == "5.2.5"


def test_the_venv_holds_exactly_what_the_lock_names():
    pinned = _pinned_here()
    installed = {
        versions.normalise(dist.metadata["Name"]): dist.version
        for dist in importlib.metadata.distributions()
    }
    installed.pop("podwarden", None)
    missing = {name: v for name, v in pinned.items() if installed.get(name) != v}
    extra = {name: v for name, v in installed.items() if name not in pinned}
    assert not missing and not extra, (
        f"the venv differs from requirements.txt — not as locked: {missing}; "
        f"not in the lock: {extra}. Run `make setup` (a changed lock rebuilds the venv)"
    )
