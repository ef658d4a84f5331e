"""`podwarden check` reads YAML as kubectl does (issue 9, findings 1 and 3).

Each spelling below was admitted before: PyYAML read `y` as a string, ignored a
`<<` merge written after an explicit key, read `0o0` as a string; kubectl sends
`true`, the merged value and 0. Now each one is refused, as privileged/root or as
ambiguous input (exit 2, with the file, the line and the reason), and each refusal
is paired with the plain spelling that is admitted, so the path provably works.
The alias bomb must be refused quickly in both modes, inputs and policy files.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from podwarden.cli import main

EXAMPLES = Path(__file__).resolve().parents[3] / "examples" / "psp-walkthrough"
WALKTHROUGH = str(EXAMPLES / "policy.yaml")
VAR_LOG_ONLY = str(EXAMPLES / "policy-var-log.yaml")


def run(*args: str):
    return CliRunner().invoke(main, ["check", *args], catch_exceptions=False)


def pod(tmp_path: Path, spec_lines: str, *, name: str = "pod.yaml") -> str:
    """A pod manifest whose spec is `spec_lines` (indented two spaces, as written)."""
    path = tmp_path / name
    path.write_text(f"apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n{spec_lines}")
    return str(path)


def container(security_context: str) -> str:
    return "  containers:\n  - name: c\n    image: x\n    securityContext:\n" + "".join(
        f"      {line}\n" for line in security_context.splitlines()
    )


@pytest.mark.parametrize("spelling", ["y", "Y", "yes", "Yes", "YES", "on", "On", "ON"])
def test_privileged_y_is_refused_at_baseline(tmp_path: Path, spelling: str) -> None:
    path = pod(tmp_path, container(f"privileged: {spelling}"))
    result = run("--level", "baseline", path)
    assert result.exit_code == 2, result.output
    assert f"{path}:10: spec.containers[0].securityContext.privileged: ambiguous: " in (
        result.output
    )
    assert f"`{spelling}` is true to kubectl (YAML 1.1)" in result.output


@pytest.mark.parametrize(("spelling", "exit_code"), [("true", 1), ("True", 1), ("false", 0)])
def test_privileged_plain_spellings_are_judged_at_baseline(
    tmp_path: Path, spelling: str, exit_code: int
) -> None:
    result = run("--level", "baseline", pod(tmp_path, container(f"privileged: {spelling}")))
    assert result.exit_code == exit_code, result.output


def test_privileged_y_is_refused_under_the_walkthrough_psp(tmp_path: Path) -> None:
    refused = run("--policy", WALKTHROUGH, pod(tmp_path, container("privileged: y")))
    assert refused.exit_code == 2
    assert ":10: spec.containers[0].securityContext.privileged: ambiguous:" in refused.output
    judged = run("--policy", WALKTHROUGH, pod(tmp_path, container("privileged: true")))
    assert judged.exit_code == 1
    assert "Privileged containers are not allowed" in judged.output
    admitted = run("--policy", WALKTHROUGH, pod(tmp_path, container("privileged: false")))
    assert admitted.exit_code == 0, admitted.output


def test_a_merge_that_overrides_an_explicit_key_is_refused(tmp_path: Path) -> None:
    override = container("privileged: false\n<<: {privileged: true}")
    result = run("--level", "baseline", pod(tmp_path, override))
    assert result.exit_code == 2, result.output
    assert ":11: spec.containers[0].securityContext: the `<<` merge overrides 'privileged' " in (
        result.output
    )
    assert "written before it on line 10" in result.output
    # Written the other way round, both readers agree the explicit key wins.
    agreed = container("<<: {privileged: true}\nprivileged: false")
    assert run("--level", "baseline", pod(tmp_path, agreed)).exit_code == 0
    # And a merge that adds keys is read like kubectl reads it: here, privileged.
    merged = container("<<: {privileged: true}\nreadOnlyRootFilesystem: true")
    judged = run("--level", "baseline", pod(tmp_path, merged))
    assert judged.exit_code == 1
    assert 'container "c" must not set securityContext.privileged=true' in judged.output


def test_host_network_y_is_refused(tmp_path: Path) -> None:
    body = "  hostNetwork: {}\n" + container("allowPrivilegeEscalation: false")
    refused = run("--level", "baseline", pod(tmp_path, body.format("y")))
    assert refused.exit_code == 2
    assert ":6: spec.hostNetwork: ambiguous: `y` is true to kubectl" in refused.output
    assert run("--level", "baseline", pod(tmp_path, body.format("true"))).exit_code == 1
    assert run("--level", "baseline", pod(tmp_path, body.format("false"))).exit_code == 0


def test_read_only_n_on_a_read_only_host_path_is_refused(tmp_path: Path) -> None:
    body = (
        "  containers:\n  - name: c\n    image: x\n"
        "    volumeMounts: [{name: logs, mountPath: /logs, readOnly: READ_ONLY}]\n"
        "  volumes: [{name: logs, hostPath: {path: /var/log}}]\n"
    )
    refused = run("--policy", VAR_LOG_ONLY, pod(tmp_path, body.replace("READ_ONLY", "n")))
    assert refused.exit_code == 2
    assert ":9: spec.containers[0].volumeMounts[0].readOnly: ambiguous: `n` is false" in (
        refused.output
    )
    writable = run("--policy", VAR_LOG_ONLY, pod(tmp_path, body.replace("READ_ONLY", "false")))
    assert writable.exit_code == 1
    assert "must be read-only" in writable.output
    assert (
        run("--policy", VAR_LOG_ONLY, pod(tmp_path, body.replace("READ_ONLY", "true"))).exit_code
        == 0
    )


NON_ROOT_PSP = """\
apiVersion: policy/v1beta1
kind: PodSecurityPolicy
metadata: {name: non-root}
spec:
  seLinux: {rule: RunAsAny}
  supplementalGroups: {rule: RunAsAny}
  fsGroup: {rule: RunAsAny}
  runAsUser: {rule: MustRunAsNonRoot}
  volumes: ['*']
"""


@pytest.mark.parametrize("spelling", ["0o0", "0x0", "00", "0", "+0", "-0", "0.0", "0e0"])
def test_run_as_user_spelled_zero_is_root_under_must_run_as_non_root(
    tmp_path: Path, spelling: str
) -> None:
    """kubectl reads all of these as 0 (so do YAML 1.2 readers): root, refused."""
    policy = tmp_path / "psp.yaml"
    policy.write_text(NON_ROOT_PSP)
    result = run("--policy", str(policy), pod(tmp_path, container(f"runAsUser: {spelling}")))
    assert result.exit_code == 1, result.output
    assert "running with the root UID is forbidden" in result.output


@pytest.mark.parametrize(
    ("spelling", "exit_code", "reason"),
    [
        ("0_0", 2, "`0_0` is 0 to kubectl (YAML 1.1) but the string"),
        ("0b0", 2, "`0b0` is 0 to kubectl (YAML 1.1) but the string"),
        ("010", 2, "`010` is 8 to kubectl (YAML 1.1) but 10 to YAML 1.2 readers"),
        ("1000", 0, ""),
        ("0o1750", 0, ""),
    ],
)
def test_run_as_user_spellings_readers_disagree_on(
    tmp_path: Path, spelling: str, exit_code: int, reason: str
) -> None:
    policy = tmp_path / "psp.yaml"
    policy.write_text(NON_ROOT_PSP)
    result = run("--policy", str(policy), pod(tmp_path, container(f"runAsUser: {spelling}")))
    assert result.exit_code == exit_code, result.output
    assert reason in result.output


def _bomb(levels: int = 9) -> str:
    """A "billion laughs": 9 aliases of 9 aliases ... of 9 strings, under 600 bytes."""
    lines = ["    a0: &a0 [lol,lol,lol,lol,lol,lol,lol,lol,lol]"]
    lines += [f"    a{i}: &a{i} [" + ",".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, levels)]
    return "\n".join(lines) + "\n"


def _check(*args: str) -> tuple[subprocess.CompletedProcess[str], float]:
    """`podwarden check` in its own process, killed after 30 s (the old code took more
    than 20 s and a gigabyte on a bomb like this)."""
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "podwarden", "check", *args],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    return done, time.monotonic() - started


@pytest.mark.parametrize("mode", ["--level=baseline", f"--policy={WALKTHROUGH}"])
def test_an_alias_bomb_in_a_pod_is_refused_quickly(tmp_path: Path, mode: str) -> None:
    path = pod(tmp_path, "  containers: [{name: c, image: x}]\n  x:\n" + _bomb())
    assert Path(path).stat().st_size < 600
    done, seconds = _check(mode, path)
    assert done.returncode == 2, done.stderr
    assert f"{path}:11: document contains excessive aliasing, expanding *a2 " in done.stderr
    print(f"bomb refused in {seconds:.2f} s")
    # A document using the same anchors a few times is read.
    tame = pod(tmp_path, "  containers: [{name: c, image: x}]\n  x:\n" + _bomb(2), name="ok.yaml")
    assert _check(mode, tame)[0].returncode == 0


def test_an_alias_bomb_in_a_policy_file_is_refused_quickly(tmp_path: Path) -> None:
    policy = tmp_path / "psp.yaml"
    policy.write_text(Path(WALKTHROUGH).read_text() + "x:\n" + _bomb().replace("    ", "  "))
    done, _ = _check(f"--policy={policy}", str(EXAMPLES / "pod-rootfs.yaml"))
    assert done.returncode == 2, done.stderr
    assert "document contains excessive aliasing" in done.stderr
