"""The style bar as a test: ruff, ruff format, mypy strict and the import contracts.

Run in the suite (not only in `make lint`) so a change that breaks the layering of
DESIGN.md or the type discipline fails CI like any other regression.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
TREES = ["src", "tests", "bench", "fuzz", "tools", "deploytools"]


@pytest.mark.parametrize(
    "argv",
    [
        [str(BIN / "ruff"), "check", "--output-format", "concise", *TREES],
        [str(BIN / "ruff"), "format", "--check", *TREES],
        [str(BIN / "mypy")],
        [str(BIN / "lint-imports")],
    ],
    ids=["ruff-check", "ruff-format", "mypy-strict", "import-contracts"],
)
def test_tree_is_clean(argv: list[str]) -> None:
    proc = subprocess.run(argv, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, (
        f"{' '.join(argv[:2])} found problems:\n{proc.stdout[-4000:]}{proc.stderr[-2000:]}"
    )
