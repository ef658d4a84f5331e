"""The `rules` and `agent` commands refuse bad settings before touching netfilter."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from podwarden.cli import main


def test_rules_apply_names_the_bad_key_of_the_config_file(tmp_path: Path):
    config = tmp_path / "rules.yaml"
    config.write_text("provider: aws\npod_interface: [cali+]\nproxy: 10.0.0.1:80\nbakend: nft\n")
    result = CliRunner().invoke(main, ["rules", "apply", "--config", str(config)])
    assert result.exit_code == 1
    assert f"{config}: bakend: Extra inputs are not permitted" in result.output


def test_rules_apply_names_a_bad_flag_value():
    result = CliRunner().invoke(
        main, ["rules", "apply", "--provider", "aws", "--pod-interface", "cali*", "--proxy", "x"]
    )
    assert result.exit_code == 1
    assert "proxy: 'x' is not ADDRESS:PORT" in result.output


def test_agent_config_errors_exit_2_with_the_key(tmp_path: Path):
    config = tmp_path / "agent.yaml"
    config.write_text("provider: aws\nupstream: http://169.254.169.254\nreconcile_period: -1\n")
    result = CliRunner().invoke(main, ["agent", "--config", str(config), "--listen", "1.2.3.4:5"])
    assert result.exit_code == 2
    assert "reconcile_period: Input should be greater than 0" in result.output
    result = CliRunner().invoke(main, ["agent", "--provider", "gce", "--upstream", "http://x"])
    assert result.exit_code == 2
    assert "listen: required (--listen or key `listen`)" in result.output
