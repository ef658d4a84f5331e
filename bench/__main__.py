"""`python -m bench [SUITE…]`: run the listed suites (all by default) and print their tables."""

from __future__ import annotations

import argparse
import importlib
import sys

# Every suite, explicitly; each module exposes main() -> None that prints its table.
SUITES = ["proxy", "access_log", "identity", "rules", "admission", "audit", "nodeauth"]


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("suites", nargs="*", default=SUITES, help=f"any of {SUITES}")
    args = parser.parse_args()
    unknown = [s for s in args.suites if s not in SUITES]
    if unknown:
        parser.error(f"unknown suite(s) {unknown}; known: {SUITES}")
    for suite in args.suites:
        try:
            module = importlib.import_module(f"bench.{suite}")
        except ModuleNotFoundError as exc:
            print(f"[{suite}] not available: {exc}", file=sys.stderr)
            continue
        module.main()
    return 0


if __name__ == "__main__":
    sys.exit(main())
