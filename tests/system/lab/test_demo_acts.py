"""The demo's seams: acts that fail or crash fail the demo; a running lab is left alone."""

from __future__ import annotations

from podwarden.lab import demo, state
from podwarden.lab.demo_model import Row


def test_a_crashing_act_fails_the_demo_without_a_traceback(where):
    def boom(ctx):
        raise RuntimeError("act exploded")

    def fine(ctx):
        return [Row(act="fine", check="c", before="b", after="a", expected="e", ok=True)]

    lines: list[str] = []
    ok = demo.run(
        prefix=where.prefix,
        state_dir=where.state_dir,
        echo=lines.append,
        acts=[demo.Act("fine", fine), demo.Act("boom", boom)],
    )
    text = "\n".join(lines)
    assert ok is False
    assert "act failed: RuntimeError: act exploded" in text
    assert "SOME EXPECTATIONS FAILED" in text
    assert "act completed" in text  # the crash shows as a failed row in the table


def test_the_demo_refuses_to_run_over_a_lab_that_is_up(where):
    recorded = state.LabState(prefix=where.prefix, provider="aws")
    state.save(recorded, state_dir=where.state_dir)
    lines: list[str] = []
    ran = []
    ok = demo.run(
        prefix=where.prefix,
        state_dir=where.state_dir,
        echo=lines.append,
        acts=[demo.Act("never", lambda ctx: ran.append(1) or [])],
    )
    assert ok is False and ran == []
    assert "run `podwarden lab down` first" in "\n".join(lines)
    assert state.load(state_dir=where.state_dir) is not None  # untouched
