"""pytest hooks that make a peer's change visible where a test fails because of it.

- The run's header lists every peer whose version differs from the last green run.
- A test marked `@pytest.mark.peers("moto", "kubectl")` (or in a module so marked)
  that fails gets a report section naming those peers and their versions: which
  changed, from what, to what.
- The summary at the end repeats the changed peers when anything failed, so a
  red run caused by a peer upgrade says so in its last lines.
"""

from __future__ import annotations

from collections.abc import Generator

import pytest

from tests.peers import versions

MARKER = "peers"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{MARKER}(*names): the test relies on these peers' behaviour (tests/peers/versions.py)",
    )


def pytest_report_header(config: pytest.Config) -> list[str]:
    moved = versions.changed()
    if not moved:
        return ["peers: every peer at its last green version"]
    return ["peers that differ from the last green run:"] + [f"  {p.describe()}" for p in moved]


def _named_peers(item: pytest.Item) -> list[versions.Peer]:
    names = [name for mark in item.iter_markers(MARKER) for name in mark.args]
    return [versions.peer(name) for name in dict.fromkeys(names)]


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, None]:
    outcome = yield
    report: pytest.TestReport = outcome.get_result()  # type: ignore[attr-defined]
    if not report.failed:
        return
    named = _named_peers(item)
    if not named:
        return
    moved = [p for p in named if p.changed]
    if moved:
        lines = ["This test relies on peers whose version changed since the last green run:"]
        lines += [f"  {p.describe()}" for p in moved]
    else:
        lines = ["This test relies on these peers, all at their last green versions:"]
        lines += [f"  {p.describe()}" for p in named]
    report.sections.append(("peer versions", "\n".join(lines)))


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not terminalreporter.stats.get("failed"):
        return
    moved = versions.changed()
    if moved:
        terminalreporter.write_sep("-", "peers that differ from the last green run")
        for p in moved:
            terminalreporter.write_line(p.describe())
