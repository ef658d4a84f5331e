"""Fuzz target: podwarden's reading of generated manifests against real kubectl's.

Each input becomes a pod manifest (yaml_manifests) that `podwarden check` reads in
process (inputs.read_text): an exception other than InputError is a finding at
once. kubectl costs ~0.1 s a run, so it is asked in batches: every manifest
podwarden reads (and a sample of those it refuses) is written to a folder, and
one `kubectl create --dry-run=client -f FOLDER` against a lab API server answers
for up to BATCH files, at most once a second (inputs beyond a full batch before
then are read by podwarden but not compared). A finding is a manifest
podwarden read where kubectl sent something else, or refused it as YAML:
podwarden must never judge an object other than the one kubectl would send. A
refusal where kubectl reads is by design (ambiguous input) and only counted, as
is kubectl refusing an object's types (a number as a label value) after reading
the YAML like podwarden.

Every flush prints a stats line (inputs, read, refused by reason, compared,
findings); findings are written to fuzz-findings/ with kubectl's answer and
raise, so libFuzzer stops. Without kubectl the in-process checks still run.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from fuzz.yaml_manifests import manifest
from podwarden.audit import inputs
from podwarden.testing import kubectl

BATCH = 256
FLUSH_SECONDS = 5.0
MIN_INTERVAL = 1.0  # seconds between kubectl runs at least: the rest of the time is fuzzing
REFUSED_SAMPLE = 8  # of every this many refused manifests, one goes to kubectl
FINDINGS = Path(__file__).resolve().parents[1] / "fuzz-findings"
REASONS = (
    ("ambiguous", "ambiguous:"),
    ("merge-override", "merge overrides"),
    ("duplicate", "written twice"),
    ("aliasing", "excessive aliasing"),
    ("alias-cycle", "contains itself"),
    ("unknown-anchor", "unknown anchor"),
    ("tag", "is not read by podwarden (kubectl"),
    ("key-type", "mapping key"),
    ("key-collision", "both become the JSON key"),
    ("out-of-range", "64-bit integer range"),
    ("kubectl-refuses", "kubectl refuses it"),
    ("separator", "document separator"),
    ("second-document", "second document"),
    ("not-an-object", "expected a Kubernetes object"),
    ("invalid-yaml", "invalid YAML"),
    ("invalid-json", "JSON"),
)


YAML_ERRORS = ("converting YAML to JSON", "yaml:", "document separator")


class Disagreement(AssertionError):
    """podwarden read a manifest into something kubectl would not send."""


def reason_of(message: str) -> str:
    return next((name for name, marker in REASONS if marker in message), "other")


def _remove_stale_folders() -> None:
    """libFuzzer ends the process without Python's clean-up, so each run leaves its
    batch folder behind: remove those of runs that are no longer alive."""
    for folder in Path(tempfile.gettempdir()).glob("podwarden-fuzz-yaml-*"):
        pid = folder.name.rsplit("-", 1)[1]
        if pid.isdigit() and not Path(f"/proc/{pid}").exists():
            shutil.rmtree(folder, ignore_errors=True)


class Oracle:
    """Batches manifests for kubectl and keeps the counts."""

    def __init__(self) -> None:
        self.stats: Counter[str] = Counter()
        self.pending: dict[str, tuple[str, list[dict[str, Any]] | None]] = {}
        self.refusals: dict[str, str] = {}
        self.seen: set[str] = set()
        self.last_flush = time.monotonic()
        self.folder = Path(tempfile.gettempdir()) / f"podwarden-fuzz-yaml-{os.getpid()}"
        _remove_stale_folders()
        shutil.rmtree(self.folder, ignore_errors=True)
        self.cli: kubectl.Kubectl | None = None
        if kubectl.available():
            self._lab = kubectl.lab_kubectl(self.folder / "lab")
            self.cli = self._lab.__enter__()  # a daemon thread: it ends with the process
        else:
            print("yaml fuzz: kubectl not found; podwarden-only checks", file=sys.stderr)

    def add(
        self, name: str, text: str, objects: list[dict[str, Any]] | None, refusal: str = ""
    ) -> None:
        digest = hashlib.sha256(text.replace(name, "NAME").encode()).hexdigest()
        if self.cli is None or digest in self.seen:
            self.stats["not compared (seen before)"] += self.cli is not None
            return
        if objects is None and self.stats["refused"] % REFUSED_SAMPLE:
            return
        waited = time.monotonic() - self.last_flush
        if len(self.pending) >= BATCH and waited < MIN_INTERVAL:
            self.stats["not compared (kubectl rate bound)"] += 1
            return
        if len(self.seen) > 200_000:
            self.seen.clear()
        self.seen.add(digest)
        self.pending[name] = (text, objects)
        self.refusals[name] = refusal
        if len(self.pending) >= BATCH or (waited > FLUSH_SECONDS and len(self.pending) >= 16):
            self.flush()

    def flush(self) -> None:
        assert self.cli is not None
        batch = self.folder / "batch"
        shutil.rmtree(batch, ignore_errors=True)
        batch.mkdir(parents=True)
        for name, (text, _) in self.pending.items():
            (batch / f"{name}.yaml").write_bytes(text.encode())
        sent, errors = self.cli.read_folder(batch)
        refusals = self.refusals
        by_name: dict[str, list[dict[str, Any]]] = {}
        for obj in sent:
            by_name.setdefault(str((obj.get("metadata") or {}).get("name")), []).append(obj)
        for name, (text, objects) in self.pending.items():
            self.stats["compared"] += 1
            if objects is None:
                verdict = "kubectl refuses" if f"{name}.yaml" in errors else "kubectl reads"
                self.stats[f"refused ({reason_of(refusals[name])}), {verdict}"] += 1
                continue
            self._compare(name, text, objects, by_name, errors.get(f"{name}.yaml", ""))
        self.pending.clear()
        self.refusals = {}
        self.last_flush = time.monotonic()
        print(
            f"yaml fuzz: {json.dumps(dict(sorted(self.stats.items())))}",
            file=sys.stderr,
            flush=True,
        )

    def _compare(
        self,
        name: str,
        text: str,
        objects: list[dict[str, Any]],
        by_name: dict[str, list[dict[str, Any]]],
        error: str,
    ) -> None:
        theirs = [
            found for obj in objects for found in by_name.get(str(obj["metadata"]["name"]), [])
        ]
        if error or len(theirs) != len(objects):
            assert self.cli is not None
            path = self.folder / "single.yaml"
            path.write_bytes(text.encode())
            reading = self.cli.read(path)  # confirm alone what the batch suggested
            error, theirs = reading.error, reading.objects
        if error and not any(marker in error for marker in YAML_ERRORS):
            # kubectl decodes metadata into its Go type and refuses, say, a number as a
            # label value: the object is never sent, so there is nothing to misjudge.
            self.stats["read, kubectl refuses the object's types"] += 1
            return
        if error:
            self._finding(name, text, objects, f"kubectl refused it: {error}")
        if len(theirs) != len(objects):
            self._finding(name, text, objects, f"kubectl sent {len(theirs)} objects: {theirs}")
        for mine, sent in zip(objects, theirs, strict=True):
            if mine != kubectl.as_sent(mine, sent):
                self._finding(name, text, objects, f"kubectl sent {json.dumps(sent)}")
        self.stats["read, same as kubectl"] += 1

    def _finding(self, name: str, text: str, objects: Any, theirs: str) -> None:
        FINDINGS.mkdir(exist_ok=True)
        digest = hashlib.sha256(text.encode()).hexdigest()[:12]
        (FINDINGS / f"yaml-{digest}.yaml").write_bytes(text.encode())
        (FINDINGS / f"yaml-{digest}.txt").write_text(
            f"podwarden read: {json.dumps(objects)}\n{theirs}\n", encoding="utf-8"
        )
        self.stats["findings"] += 1
        raise Disagreement(f"{name}: podwarden read {objects}; {theirs} (saved as yaml-{digest})")


ORACLE = Oracle()
_COUNTER = iter(range(1, sys.maxsize))


def check(text: str, name: str) -> None:
    """Read one manifest as `podwarden check` does and queue it for kubectl."""
    ORACLE.stats["inputs"] += 1
    try:
        objects = [dict(item.obj) for item in inputs.read_text(f"{name}.yaml", text)]
    except inputs.InputError as exc:
        ORACLE.stats["refused"] += 1
        ORACLE.stats["refused: " + reason_of(str(exc))] += 1
        ORACLE.add(name, text, None, str(exc))
        return
    ORACLE.stats["read"] += 1
    ORACLE.add(name, text, objects)


def one_input(data: bytes) -> None:
    """libFuzzer entry point."""
    import atheris

    name = f"fz{next(_COUNTER)}"
    check(manifest(atheris.FuzzedDataProvider(data), name), name)
