"""`podwarden demo`'s admission act: every row of the walkthrough holds in the lab."""

from __future__ import annotations

import uuid
from pathlib import Path

from podwarden.lab import demo, demo_admission


def test_the_admission_act_holds_every_expectation(tmp_path: Path) -> None:
    lines: list[str] = []
    act = next(a for a in demo.ACTS if a.run is demo_admission.run)
    ok = demo.run(
        acts=[act],
        prefix=f"pwa{uuid.uuid4().hex[:4]}-",
        state_dir=tmp_path,
        echo=lines.append,
    )
    output = "\n".join(lines)
    assert ok, output
    for check in (
        "hostPath / pod under the walkthrough PSP",
        "privileged pod under the walkthrough PSP",
        "hostPath / pod under allowedHostPaths /var/log",
        "chroot / in the admitted pod's process",
        "ping (raw socket) in the admitted pod's process",
    ):
        assert check in output
    assert "admitted, drop NET_RAW+SYS_CHROOT" in output
    assert 'refused: "/" is not allowed to be used' in output
