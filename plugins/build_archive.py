"""Build the krew archive of `kubectl podwarden`, byte for byte reproducibly.

    python plugins/build_archive.py OUT.tar.gz     # prints the archive's sha256

The archive holds the launcher `kubectl-podwarden` (mode 0755, owner 0:0, mtime 0,
gzip header without a name or time), so the same sources give the same sha256 — the
one in podwarden.yaml, which tests/unit/test_krew_manifest.py checks.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import sys
import tarfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
MEMBERS = ("kubectl-podwarden",)


def archive_bytes() -> bytes:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for name in MEMBERS:
            data = (HERE / name).read_bytes()
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(data), 0o755, 0
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            tar.addfile(info, io.BytesIO(data))
    packed = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=packed, mtime=0) as gz:
        gz.write(raw.getvalue())
    return packed.getvalue()


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python plugins/build_archive.py OUT.tar.gz", file=sys.stderr)
        return 2
    data = archive_bytes()
    Path(argv[0]).write_bytes(data)
    print(hashlib.sha256(data).hexdigest())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
