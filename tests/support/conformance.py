"""Where the upstream Pod Security Admission fixtures live (read in place, never copied).

They sit in `../shared/conformance/pod-security-standards/` beside the repository
(as in CI's clean clone); `PODWARDEN_CONFORMANCE_DIR` points elsewhere. A missing
set fails the conformance tests rather than skipping them: a suite that silently
stops checking conformance would pass on a regression.

This module lives in tests/, not in the installed package: the repository's
location comes from the tests' own checkout, which is where the data sits
beside, and an installed podwarden has no repository to look from.
"""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
ENV = "PODWARDEN_CONFORMANCE_DIR"


def data_dir() -> Path:
    """The fixture folder (`<level>/v1.<N>/<pass|fail>/*.yaml`)."""
    override = os.environ.get(ENV)
    if override:
        return Path(override)
    return REPO.parent / "shared" / "conformance" / "pod-security-standards"


def missing_message(path: Path) -> str:
    """What to tell the user when the fixtures are not there."""
    return (
        f"conformance data not found at {path}: the upstream fixtures are expected in "
        f"../shared/conformance/pod-security-standards beside the repository, or at ${ENV}"
    )
