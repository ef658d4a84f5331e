"""Pod Security Standards conformance: every upstream PSA fixture agrees.

Data: ../shared/conformance/pod-security-standards/<level>/v1.<N>/<pass|fail>/*.yaml
(read in place, never copied). A `pass` pod must be admitted at that level and
version; a `fail` pod refused, naming the check in its file stem (minus trailing
digits) — or the restricted check that overrides it at that version, exactly as
PSA runs capabilities_restricted instead of capabilities_baseline. One test per
folder keeps the output short; every disagreement is reported in one message.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from podwarden.podsecurity import evaluate
from podwarden.podsecurity.levels import level_version
from tests.support import conformance

DATA = conformance.data_dir()
_STEM = re.compile(r"^(.*?)\d*$")


def _folders() -> list[Path]:
    if not DATA.is_dir():
        return []
    return sorted(p for p in DATA.glob("*/v1.*") if p.is_dir())


def _acceptable_ids(expected: str, minor: int) -> set[str]:
    """The expected check id plus any restricted check overriding it at this version."""
    registry = evaluate.default_registry()
    accepted = {expected}
    for check in registry.checks.values():
        entries = [e for e in check.versions if e.minimum.minor <= minor]
        if entries and any(t.lower() == expected for t in entries[-1].overrides):
            accepted.add(check.id.lower())
    return accepted


def test_fixture_set_is_complete() -> None:
    if not DATA.is_dir():
        pytest.fail(conformance.missing_message(DATA))
    files = list(DATA.glob("*/v1.*/*/*.yaml"))
    assert len(files) == 4537
    assert len(_folders()) == 76


@pytest.mark.parametrize("folder", _folders(), ids=lambda p: f"{p.parent.name}-{p.name}")
def test_folder_agrees(folder: Path) -> None:
    level, version = folder.parent.name, folder.name
    lv = level_version(level, version)
    minor = lv.version.minor
    problems: list[str] = []
    count = 0
    for outcome in ("pass", "fail"):
        for path in sorted((folder / outcome).glob("*.yaml")):
            count += 1
            pod = yaml.load(path.read_text(), Loader=yaml.CSafeLoader)
            result = evaluate.evaluate(pod, lv)
            name = f"{outcome}/{path.name}"
            if outcome == "pass" and not result.allowed:
                problems.append(f"{name}: refused: {result.message()}")
            elif outcome == "fail":
                expected = _STEM.match(path.stem).group(1)  # type: ignore[union-attr]
                named = {c.lower() for c in result.check_ids}
                if result.allowed:
                    problems.append(f"{name}: admitted, expected refusal by {expected}")
                elif not named & _acceptable_ids(expected, minor):
                    problems.append(f"{name}: refused by {sorted(named)}, expected {expected}")
    assert count > 0
    assert not problems, f"{level} {version}: {len(problems)} disagreements:\n" + "\n".join(
        problems
    )
