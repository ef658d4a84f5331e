"""`python -m fuzz --seconds N [--runs N] [--target NAME]`: fuzz podwarden with atheris.

Without `--target`, every target runs, one after the other, each in its own
process with an equal share of the time (libFuzzer ends its process when it
stops, and each target must be instrumented on its own). With `--target`, only
that one runs, in this process, for the whole time.

Exits 0 when every budget is spent without a finding, non-zero (with the
crashing input written by libFuzzer) when a target raised — e.g. evaluate
allowed a secret, or the webhook answered a review wrongly.
"""

from __future__ import annotations

import argparse
import importlib
import subprocess
import sys

# Every fuzz target, explicitly: name -> module exposing one_input(data: bytes).
TARGETS = {
    "firewall": "fuzz.target",
    "admission_review": "fuzz.admission_review",
    "http1": "fuzz.http1_server",
    "yaml": "fuzz.yaml_reading",
}


def shares(seconds: int, count: int) -> list[int]:
    """Split `seconds` into `count` whole shares, at least 1 s each, the remainder first."""
    base, extra = divmod(max(seconds, count), count)
    return [base + (1 if index < extra else 0) for index in range(count)]


def run_all(seconds: int, runs: int, rest: list[str]) -> int:
    """Run every target in a child process; the first failing exit status, else 0."""
    failed: list[tuple[str, int]] = []
    for name, share in zip(TARGETS, shares(seconds, len(TARGETS)), strict=True):
        print(f"fuzz: target {name} for {share} s", file=sys.stderr, flush=True)
        argv = [sys.executable, "-m", "fuzz", "--target", name, "--seconds", str(share)]
        done = subprocess.run([*argv, "--runs", str(runs), *rest], check=False)
        if done.returncode != 0:
            failed.append((name, done.returncode))
    for name, code in failed:
        print(f"fuzz: target {name} FAILED (exit {code})", file=sys.stderr)
    return failed[0][1] if failed else 0


def run_one(name: str, seconds: int, runs: int, rest: list[str]) -> None:
    """Fuzz one target in this process (atheris exits the process when done)."""
    import atheris

    with atheris.instrument_imports(include=["podwarden", "fuzz"]):
        target = importlib.import_module(TARGETS[name])
    libfuzzer = [
        sys.argv[0],
        f"-max_total_time={seconds}",
        f"-runs={runs}",
        "-print_final_stats=1",
        *rest,
    ]
    atheris.Setup(libfuzzer, target.one_input)
    atheris.Fuzz()


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m fuzz", description=__doc__)
    parser.add_argument(
        "--seconds", type=int, default=20, help="time budget, split between targets (default 20)"
    )
    parser.add_argument(
        "--runs", type=int, default=-1, help="input budget per target (default: unbounded)"
    )
    parser.add_argument(
        "--target", choices=sorted(TARGETS), default=None, help="one target (default: all)"
    )
    args, rest = parser.parse_known_args()
    if args.seconds < 1:
        parser.error("--seconds: must be at least 1")
    if args.target is None:
        return run_all(args.seconds, args.runs, rest)
    run_one(args.target, args.seconds, args.runs, rest)
    return 0


if __name__ == "__main__":
    sys.exit(main())
