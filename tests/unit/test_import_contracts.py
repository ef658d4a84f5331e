"""The contract that keeps the lab and the test tooling out of the product can fail.

`tests/test_lint.py` runs lint-imports on the tree as it is; a contract that
lists the wrong modules would pass there for ever. These tests show that it
covers every top-level product module, that the one sanctioned way into the
lab (the `lab` and `demo` entries of the CLI's lazy subcommand table) stays
that narrow, and that lint-imports does break when a product module (or the
lab, for the test tooling) gains such an import, on a copy of the source.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest

from podwarden import cli

REPO = Path(__file__).resolve().parents[2]
SOURCE = REPO / "src" / "podwarden"
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")
PRODUCT_CONTRACT = "the product imports neither the lab nor the test tooling"
LAB_CONTRACT = "the lab does not import the test tooling"
NOT_PRODUCT = {"podwarden.lab", "podwarden.testing"}


def _contract(name: str) -> dict[str, Any]:
    config = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    for contract in config["tool"]["importlinter"]["contracts"]:
        if contract["name"] == name:
            return dict(contract)
    raise AssertionError(f"no import contract named {name!r} in pyproject.toml")


def _top_level_modules() -> set[str]:
    found = set()
    for entry in SOURCE.iterdir():
        if entry.is_dir() and (entry / "__init__.py").exists():
            found.add(f"podwarden.{entry.name}")
        elif entry.suffix == ".py" and entry.name != "__init__.py":
            found.add(f"podwarden.{entry.stem}")
    return found


def test_every_top_level_product_module_is_a_source_of_the_contract() -> None:
    contract = _contract(PRODUCT_CONTRACT)
    assert set(contract["forbidden_modules"]) == NOT_PRODUCT
    assert set(contract["source_modules"]) == _top_level_modules() - NOT_PRODUCT


def test_the_cli_reaches_the_lab_only_for_the_lab_and_demo_subcommands() -> None:
    into_lab = {
        name for name, (module, _) in cli.COMMANDS.items() if module.startswith("podwarden.lab")
    }
    into_testing = [name for name, (module, _) in cli.COMMANDS.items() if "testing" in module]
    assert into_lab == {"lab", "demo"}
    assert into_testing == []


def _lint_copy(
    tmp_path: Path, *, violation: tuple[str, str] | None
) -> subprocess.CompletedProcess[str]:
    """lint-imports with this repository's contracts over a copy of src/ (plus one import)."""
    copy = tmp_path / "src" / "podwarden"
    shutil.copytree(SOURCE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / "pyproject.toml", tmp_path / "pyproject.toml")
    if violation is not None:
        relative, imported = violation
        target = copy / relative
        text = target.read_text(encoding="utf-8")
        target.write_text(
            f"{text}\n\ndef _late() -> None:\n    import {imported}\n", encoding="utf-8"
        )
    env = {**os.environ, "PYTHONPATH": str(tmp_path / "src")}
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_unchanged_copy_keeps_every_contract(tmp_path: Path) -> None:
    proc = _lint_copy(tmp_path, violation=None)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"{PRODUCT_CONTRACT} KEPT" in proc.stdout
    assert f"{LAB_CONTRACT} KEPT" in proc.stdout


@pytest.mark.parametrize(
    ("relative", "imported", "broken"),
    [
        ("probe/checks.py", "podwarden.lab.ports", PRODUCT_CONTRACT),
        ("kube/selectors.py", "podwarden.lab.apiserver.server", PRODUCT_CONTRACT),
        ("logs.py", "podwarden.testing.clusters", PRODUCT_CONTRACT),
        ("cli.py", "podwarden.lab.commands", PRODUCT_CONTRACT),
        ("lab/plan.py", "podwarden.testing.netlab", LAB_CONTRACT),
    ],
    ids=[
        "probe-to-lab",
        "kube-to-lab-apiserver",
        "logs-to-testing",
        "cli-static",
        "lab-to-testing",
    ],
)
def test_an_added_import_breaks_the_contract(
    tmp_path: Path, relative: str, imported: str, broken: str
) -> None:
    proc = _lint_copy(tmp_path, violation=(relative, imported))
    assert proc.returncode != 0, proc.stdout
    assert f"{broken} BROKEN" in proc.stdout
    importer = "podwarden." + relative.removesuffix(".py").replace("/", ".")
    assert f"{importer} -> {imported}" in proc.stdout
