"""The `rules` and `agent` commands refuse bad settings before touching netfilter."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from podwarden.cli import main
from podwarden.lab.ports import free_port
from podwarden.netfilter import cgroup_match, render


def test_rules_apply_names_the_bad_key_of_the_config_file(tmp_path: Path):
    config = tmp_path / "rules.yaml"
    config.write_text("provider: aws\npod_interface: [cali+]\nproxy: 10.0.0.1:80\nbakend: nft\n")
    result = CliRunner().invoke(main, ["rules", "apply", "--config", str(config)])
    assert result.exit_code == 2  # a bad setting exits 2, as for `proxy` and `agent` (was 1)
    assert "podwarden rules apply: configuration error:" in result.output
    assert f"{config}: bakend: Extra inputs are not permitted" in result.output


def test_rules_apply_names_a_bad_flag_value():
    result = CliRunner().invoke(
        main, ["rules", "apply", "--provider", "aws", "--pod-interface", "cali*", "--proxy", "x"]
    )
    assert result.exit_code == 2
    assert "--proxy: 'x' is not ADDRESS:PORT" in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["rules", "apply", "--provider", "aws", "--backend", "pf"], "'pf' is not one of"),
        (
            ["proxy", "--provider", "aws", "--upstream", "ftp://x", "--listen", "127.0.0.1:1"],
            "upstream: 'ftp://x' is not usable; expected http://HOST[:PORT]",
        ),
        (
            ["proxy", "--provider", "aws", "--upstream", "http://x", "--listen", "nowhere"],
            "listen: 'nowhere' is not HOST:PORT",
        ),
        (
            ["proxy", "--provider", "aws", "--upstream", "http://x", "--listen", "127.0.0.1:1",
             "--cluster-file", "/x", "--address-wait", "soon"],
            "--address-wait: 'soon' is not a duration",
        ),
        (["agent", "--reconcile-period", "-1"], "--reconcile-period: Input should be greater"),
        (
            ["webhook", "--listen", "nowhere", "--tls-cert", __file__, "--tls-key", __file__,
             "--in-cluster"],
            "listen (--listen): 'nowhere' is not HOST:PORT",
        ),
    ],
)  # fmt: skip
def test_every_command_exits_2_on_a_bad_setting_naming_it(args: list[str], message: str):
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert "Traceback" not in result.output


def test_agent_config_errors_exit_2_with_the_key(tmp_path: Path):
    config = tmp_path / "agent.yaml"
    config.write_text("provider: aws\nupstream: http://169.254.169.254\nreconcile_period: -1\n")
    result = CliRunner().invoke(main, ["agent", "--config", str(config), "--listen", "1.2.3.4:5"])
    assert result.exit_code == 2
    assert "reconcile_period: Input should be greater than 0" in result.output
    result = CliRunner().invoke(main, ["agent", "--provider", "gce", "--upstream", "http://x"])
    assert result.exit_code == 2
    assert "listen: required (--listen or key `listen`)" in result.output


def _vanished_netcls_pod_cgroup(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A v1 node whose pod cgroup disappears (or cannot be written) before tagging."""

    def pod_match(path: str, **_: object) -> tuple[render.ClassidMatch, tuple[()]]:
        return render.ClassidMatch(cgroup_match.DEFAULT_CLASSID, path, str(tmp_path)), ()

    monkeypatch.setattr(cgroup_match, "pod_match", pod_match)


def test_rules_apply_reports_a_cgroup_error_without_a_traceback(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
):
    _vanished_netcls_pod_cgroup(monkeypatch, tmp_path)
    result = CliRunner().invoke(
        main,
        [
            *("rules", "apply", "--provider", "aws", "--pod-interface", "cali+"),
            *("--fail-closed-only", "--pod-cgroup", "kubepods"),
        ],
    )
    assert result.exit_code == 1, result.output
    assert f"net_cls: the pod cgroup {tmp_path}/kubepods no longer exists" in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output


def test_agent_reports_a_cgroup_error_without_a_traceback(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
):
    _vanished_netcls_pod_cgroup(monkeypatch, tmp_path)
    result = CliRunner().invoke(
        main,
        [
            *("agent", "--provider", "aws", "--upstream", f"http://127.0.0.1:{free_port()}"),
            *("--listen", f"127.0.0.1:{free_port()}", "--pod-interface", "cali+"),
            *("--pod-cgroup", "kubepods"),
        ],
    )
    assert result.exit_code == 1, result.output
    assert "podwarden agent: net_cls: the pod cgroup" in result.output
    assert isinstance(result.exception, SystemExit)


@pytest.mark.parametrize("how", ["flag", "config"])
def test_agent_refuses_alibaba_cleanly_and_points_to_rules_apply(tmp_path: Path, how: str):
    config = tmp_path / "agent.yaml"
    config.write_text("provider: alibaba\nupstream: http://100.100.100.200\n")
    args = ["--provider", "alibaba", "--upstream", "http://100.100.100.200"]
    if how == "config":
        args = ["--config", str(config)]
    result = CliRunner().invoke(main, ["agent", *args, "--listen", "10.0.0.1:988"])
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit)
    assert "provider: the proxy speaks aws, gce or azure, not alibaba" in result.output
    assert "podwarden rules apply --provider alibaba --fail-closed-only" in result.output
