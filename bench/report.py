"""Shared output for benchmark suites: an aligned table on stdout and a JSON file.

Timings are reported, never asserted: a benchmark cannot fail a build.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

RESULTS_DIR = Path(__file__).resolve().parent / "results"


def table(title: str, rows: Sequence[dict[str, Any]]) -> str:
    """Render rows (dicts with the same keys) as a plain-text table."""
    if not rows:
        return f"{title}: no rows"
    keys = list(rows[0].keys())
    cells = [[_fmt(row.get(key)) for key in keys] for row in rows]
    widths = [max(len(key), *(len(line[i]) for line in cells)) for i, key in enumerate(keys)]
    out = [title, "  ".join(key.ljust(w) for key, w in zip(keys, widths, strict=True))]
    out.append("  ".join("-" * w for w in widths))
    out.extend("  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)) for line in cells)
    return "\n".join(out)


def save(
    suite: str, rows: Sequence[dict[str, Any]], *, extra: dict[str, Any] | None = None
) -> Path:
    """Write rows to bench/results/<suite>.json and return the path."""
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"{suite}.json"
    payload = {
        "suite": suite,
        "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "rows": list(rows),
        **(extra or {}),
    }
    path.write_text(json.dumps(payload, indent=2) + "\n")
    return path


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3f}" if abs(value) < 100 else f"{value:.0f}"
    return "" if value is None else str(value)
