"""The HTML blast-radius report as a person sees it: rendered by headless Chromium.

The page is built from a cluster with one critical finding (a DaemonSet whose service
account may read every secret) and one high one (its shared secret on every node);
Chromium's DOM after load must show them worst first, and its screenshot must show
the severity colours and the per-node bars — a page that renders blank, or whose
styles break, fails here even when its HTML text looks right.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from podwarden.testing import browser, clusters

pytestmark = pytest.mark.skipif(browser.chromium() is None, reason="needs chromium (make setup)")

RBAC = yaml.safe_load(
    """
- {kind: ClusterRole, metadata: {name: read-secrets},
   rules: [{verbs: [get, list], apiGroups: [""], resources: [secrets]}]}
- {kind: ClusterRoleBinding, metadata: {name: ds0-secrets},
   roleRef: {kind: ClusterRole, name: read-secrets},
   subjects: [{kind: ServiceAccount, name: ds0, namespace: kube-system}]}
"""
)
CRITICAL = (179, 38, 30)  # #b3261e
HIGH = (232, 113, 10)  # #e8710a
TOKENS_BAR = HIGH
CONFIGMAPS_BAR = (26, 115, 232)  # #1a73e8


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("report")
    cluster = folder / "cluster.json"
    objects = [*clusters.fleet(6, 8, daemonsets=2), *RBAC]
    cluster.write_text(json.dumps({"kind": "List", "items": objects}))
    out = folder / "report.html"
    done = subprocess.run(
        [sys.executable, "-m", "podwarden", "nodeauth", "report", "--cluster-file", str(cluster),
         "--format", "html", "-o", str(out)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 1, done.stderr  # a critical finding: exit 1 (--fail-on critical)
    return out


def test_the_page_is_self_contained(page: Path):
    text = page.read_text()
    for outside in ("<script", "http://", "https://", "<link", "@import"):
        assert outside not in text


def test_chromium_renders_the_findings_worst_first(page: Path):
    dom = browser.dump_dom(page)
    first = dom.index('class="finding critical"')
    assert first < dom.index('class="finding high"')
    assert (
        "all 6 nodes run a pod whose service account kube-system/ds0 may read every secret" in dom
    )
    assert dom.count('class="node-row"') == 6
    assert '<div class="card" style="background:#b3261e" id="count-critical"><b>1</b>' in dom


def test_the_screenshot_shows_the_colours_a_reader_scans_for(page: Path, tmp_path: Path):
    shot = browser.screenshot(page, tmp_path / "report.png")
    colours = browser.colours(shot)
    total = sum(colours.values())
    white = colours[(255, 255, 255)]
    assert white < total * 0.97, "the page rendered (almost) blank"
    assert colours[CRITICAL] > 500  # the critical card, its badge and the secrets segments
    assert colours[HIGH] > 500  # the high badges and the tokens segments
    assert colours[CONFIGMAPS_BAR] > 200  # the configmap segments of the node bars
