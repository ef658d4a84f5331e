"""`python -m fuzz --seconds N [--runs N]`: fuzz Firewall.evaluate with atheris.

Exits 0 when the time or run budget is spent without a finding, non-zero (with
the crashing input written by libFuzzer) when evaluate raised or allowed a secret.
"""

from __future__ import annotations

import argparse
import importlib
import sys

import atheris

# Every fuzz target, explicitly: name -> module exposing one_input(data: bytes).
TARGETS = {"firewall": "fuzz.target", "admission_review": "fuzz.admission_review"}


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m fuzz", description=__doc__)
    parser.add_argument("--seconds", type=int, default=20, help="time budget (default 20)")
    parser.add_argument("--runs", type=int, default=-1, help="input budget (default: unbounded)")
    parser.add_argument("--target", choices=sorted(TARGETS), default="firewall", help="fuzz target")
    args, rest = parser.parse_known_args()
    with atheris.instrument_imports(include=["podwarden", "fuzz"]):
        target = importlib.import_module(TARGETS[args.target])
    libfuzzer = [
        sys.argv[0],
        f"-max_total_time={args.seconds}",
        f"-runs={args.runs}",
        "-print_final_stats=1",
        *rest,
    ]
    atheris.Setup(libfuzzer, target.one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
