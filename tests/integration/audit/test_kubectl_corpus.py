"""podwarden's reading of every corpus entry against real kubectl's (issue 9, finding 1).

For each entry (tests/integration/audit/corpus.py): where podwarden reads the file,
its objects must equal what `kubectl create --dry-run=client -o json` sends; where
it refuses, the refusal must say what the corpus expects, and a refusal that
claims "kubectl refuses it" (or excessive aliasing) must be one kubectl makes too.
Values the corpus pins for kubectl ("`y` is true to kubectl") are checked against
kubectl's output, so the messages cannot claim what kubectl does not do.
One kubectl run per entry against a lab API server; a summary table is printed.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from podwarden.audit import inputs
from podwarden.testing import kubectl
from tests.integration.audit.corpus import CASES, Case

pytestmark = pytest.mark.skipif(not kubectl.available(), reason="kubectl not installed")
KUBECTL_REFUSES = ("kubectl refuses it", "excessive aliasing", "invalid YAML document separator")
_PATH = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


@pytest.fixture(scope="module")
def cli(tmp_path_factory: pytest.TempPathFactory) -> Iterator[kubectl.Kubectl]:
    with kubectl.lab_kubectl(tmp_path_factory.mktemp("kubectl")) as found:
        yield found


def lookup(obj: Any, path: str) -> Any:
    for name, index in _PATH.findall(path):
        obj = obj[int(index)] if index else obj[name]
    return obj


def podwarden_reading(path: Path) -> tuple[list[dict[str, Any]], str]:
    try:
        return [dict(item.obj) for item in inputs.read_all([str(path)])], ""
    except inputs.InputError as exc:
        return [], str(exc)


def test_the_corpus_is_large_and_its_ids_unique() -> None:
    assert len(CASES) >= 150
    assert len({case.id for case in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_podwarden_reads_as_kubectl_or_refuses(
    case: Case, cli: kubectl.Kubectl, tmp_path: Path
) -> None:
    path = tmp_path / f"{case.id}{case.suffix}"
    path.write_text(case.text, encoding="utf-8", newline="")
    ours, refusal = podwarden_reading(path)
    theirs = cli.read(path)
    if case.expect:
        assert refusal, f"podwarden read what it should refuse ({case.expect}): {ours}"
        assert case.expect in refusal, refusal
        assert refusal.startswith(f"{path}:")
        if any(claim in refusal for claim in KUBECTL_REFUSES):
            assert theirs.error, f"the refusal says kubectl refuses it, kubectl read {theirs}"
    else:
        assert not refusal, refusal
        assert not theirs.error, f"podwarden read a file kubectl refuses: {theirs.error}"
        assert len(ours) == len(theirs.objects)
        for mine, sent in zip(ours, theirs.objects, strict=True):
            assert mine == kubectl.as_sent(mine, sent)
    for where, value in case.kubectl.items():
        assert theirs.objects, theirs.error
        found = lookup(theirs.objects[0], where)
        assert found == value and type(found) is type(value), (where, found)
