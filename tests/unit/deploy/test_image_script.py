"""deploy/image/build.sh (`make image`, minutes: not run here) is valid bash and builds
what deploy/Containerfile describes: the same Debian tools, podwarden as entrypoint."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[3] / "deploy" / "image" / "build.sh"
CONTAINERFILE = SCRIPT.parents[1] / "Containerfile"


def test_the_script_parses() -> None:
    done = subprocess.run(["bash", "-n", str(SCRIPT)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_the_image_carries_the_containerfiles_tools_and_entrypoint() -> None:
    text = SCRIPT.read_text()
    (packages,) = re.findall(r"^PACKAGES=(\S+)$", text, re.MULTILINE)
    wanted = {"nftables", "iptables", "conntrack", "procps"}
    assert wanted <= set(packages.split(","))
    assert all(f" {name}" in CONTAINERFILE.read_text() for name in wanted)
    assert "--config.entrypoint podwarden" in text
    assert 'ENTRYPOINT ["podwarden"]' in CONTAINERFILE.read_text()
