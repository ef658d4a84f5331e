"""`podwarden agent` takes `podwarden proxy`'s identity flags, also as --config keys."""

from __future__ import annotations

from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from podwarden.agent import commands
from podwarden.agent import settings as agent_settings
from podwarden.agent.settings import AgentConfig
from podwarden.config import ConfigError
from podwarden.metadata.identity import cli as identity_cli

BASE = {"provider": "aws", "upstream": "http://169.254.169.254", "listen": "127.0.0.1:8181"}


def _identity_params() -> dict[str, click.Parameter]:
    command = identity_cli.options(click.command()(lambda **_: None))
    return {p.name: p for p in command.params if p.name}


def test_every_identity_flag_is_an_agent_key_with_the_proxy_default() -> None:
    params = _identity_params()
    assert set(params) == set(agent_settings.IDENTITY_KEYS)
    defaults = AgentConfig()
    for name, param in params.items():
        assert getattr(defaults, name) == param.default, name


def test_identity_is_off_without_a_cluster_source() -> None:
    assert AgentConfig(**BASE).identity_plan() is None


def test_cluster_file_key_turns_identity_on_with_the_settings(tmp_path: Path) -> None:
    plan = AgentConfig(
        **BASE,
        cluster_file=tmp_path / "pods.yaml",
        base_role_arn="arn:aws:iam::123456789012:role/",
        address_wait="300ms",
        prefetch=False,
    ).identity_plan()
    assert plan is not None
    assert plan.cluster_file == tmp_path / "pods.yaml"
    assert plan.settings.address_wait == pytest.approx(0.3)
    assert plan.settings.prefetch is False
    assert plan.settings.base_role_arn == "arn:aws:iam::123456789012:role/"


@pytest.mark.parametrize(
    ("keys", "message"),
    [
        (
            {"session_duration": "forever", "cluster_file": "x"},
            "session_duration (--session-duration): 'forever'",
        ),
        ({"kubeconfig": "k", "cluster_file": "x", "node": "n"}, "give only one"),
        ({"kubeconfig": "k"}, "node (--node): required"),
    ],
)
def test_identity_errors_name_the_key(keys: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        AgentConfig(**BASE, **keys).identity_plan()
    assert message in str(caught.value)


def test_yaml_keys_apply_and_typed_flags_win(tmp_path: Path) -> None:
    config_file = tmp_path / "agent.yaml"
    config_file.write_text("prefetch: false\nsts_region: eu-west-1\naddress_wait: 1s\n")
    merged = agent_settings.merge(config_file, {}, {"sts_region": "ap-south-1"})
    assert merged.prefetch is False  # the file's value survives (no flag typed)
    assert merged.sts_region == "ap-south-1"  # the typed flag wins
    assert merged.address_wait == "1s"


def test_unknown_identity_key_in_yaml_is_named(tmp_path: Path) -> None:
    config_file = tmp_path / "agent.yaml"
    config_file.write_text("sts_regoin: eu-west-1\n")
    with pytest.raises(ConfigError, match="sts_regoin"):
        agent_settings.merge(config_file, {}, {})


def _run(args: list[str]) -> tuple[int, str]:
    result = CliRunner().invoke(commands.agent, args)
    return result.exit_code, result.output


def test_cli_bad_identity_key_in_file_exits_2_naming_it(tmp_path: Path) -> None:
    config_file = tmp_path / "agent.yaml"
    config_file.write_text("cluster_file: /x\nsession_duration: soon\n")
    code, out = _run(
        [
            "--config",
            str(config_file),
            "--provider",
            "aws",
            "--upstream",
            "http://u",
            "--listen",
            "127.0.0.1:1",
            "--pod-interface",
            "cali+",
        ]
    )
    assert code == 2
    assert "session_duration (--session-duration): 'soon'" in out


def test_cli_no_prefetch_flag_beats_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config_file = tmp_path / "agent.yaml"
    config_file.write_text("prefetch: true\nsts_region: eu-west-1\n")
    seen: list[AgentConfig] = []
    real_merge = agent_settings.merge

    def capture(
        config_file: Path | None, flags: dict[str, object], given: dict[str, object]
    ) -> AgentConfig:
        seen.append(real_merge(config_file, flags, given))
        return seen[-1]

    monkeypatch.setattr(agent_settings, "merge", capture)
    code, out = _run(["--config", str(config_file), "--no-prefetch", "--node", "n1"])
    assert code == 2  # stops at the missing provider, after merging
    assert "provider: required" in out
    assert seen[0].prefetch is False
    assert seen[0].node == "n1"
    assert seen[0].sts_region == "eu-west-1"  # click's default did not hide the file's key
