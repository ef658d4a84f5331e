"""`podwarden agent` takes `podwarden proxy`'s identity flags, also as --config keys."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from podwarden.agent import commands
from podwarden.agent.settings import AgentConfig
from podwarden.config import ConfigError
from podwarden.metadata import commands as proxy_commands

BASE = {"provider": "aws", "upstream": "http://169.254.169.254", "listen": "127.0.0.1:8181"}


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
        ({"session_duration": "10m", "cluster_file": "x"}, "session_duration: 600s is outside"),
        ({"kubeconfig": "k", "cluster_file": "x", "node": "n"}, "give only one"),
        ({"kubeconfig": "k"}, "node: required"),
    ],
)
def test_identity_errors_name_the_key(keys: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        AgentConfig(**BASE, **keys).identity_plan()
    assert message in str(caught.value)


def _run(args: list[str]) -> tuple[int, str]:
    result = CliRunner().invoke(commands.agent, args)
    return result.exit_code, result.output


AGENT = ["--provider", "aws", "--upstream", "http://u", "--listen", "127.0.0.1:1"]


def test_cli_bad_identity_key_in_file_exits_2_naming_file_and_key(tmp_path: Path) -> None:
    config_file = tmp_path / "agent.yaml"
    config_file.write_text("cluster_file: /x\nsession_duration: soon\n")
    code, out = _run(["--config", str(config_file), *AGENT, "--pod-interface", "cali+"])
    assert code == 2
    assert f"{config_file}: session_duration: 'soon' is not a duration" in out


def test_cli_bad_identity_flag_exits_2_naming_the_flag() -> None:
    code, out = _run([*AGENT, "--cluster-file", "/x", "--session-duration", "forever"])
    assert code == 2
    assert "--session-duration: 'forever' is not a duration (e.g. 3600, 45m, 1h)" in out
    code, out = _run([*AGENT, "--cluster-file", "/x", "--session-duration", "10m"])
    assert code == 2
    assert "--session-duration: 600s is outside 1200s-43200s" in out


def test_unknown_key_in_file_is_named(tmp_path: Path) -> None:
    config_file = tmp_path / "agent.yaml"
    config_file.write_text("sts_regoin: eu-west-1\n")
    code, out = _run(["--config", str(config_file), *AGENT])
    assert code == 2
    assert f"{config_file}: sts_regoin: Extra inputs are not permitted" in out


def test_cli_typed_flags_beat_the_file_and_untyped_ones_do_not(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config_file = tmp_path / "agent.yaml"
    config_file.write_text("prefetch: true\nsts_region: eu-west-1\naddress_wait: 1s\n")
    seen: list[AgentConfig] = []
    monkeypatch.setattr(AgentConfig, "checked", lambda self: seen.append(self) or self)
    monkeypatch.setattr(AgentConfig, "identity_plan", lambda self: None)
    monkeypatch.setattr(commands, "_main", _no_run)
    code, out = _run(["--config", str(config_file), "--no-prefetch", "--node", "n1"])
    assert code == 0, out
    assert seen[0].prefetch is False  # the typed flag wins
    assert seen[0].node == "n1"
    assert seen[0].sts_region == "eu-west-1"  # no click default hid the file's key
    assert seen[0].address_wait == "1s"
    assert seen[0].namespace_restriction is True  # the model's default


async def _no_run(_: AgentConfig) -> None:
    return None


def test_agent_and_proxy_offer_the_same_identity_flags_with_one_help() -> None:
    """Both commands' flags come from the same model: one help text, one default."""
    agent_params = {p.name: p for p in commands.agent.params}
    proxy_params = {p.name: p for p in proxy_commands.proxy.params}
    for name in ("session_duration", "prefetch", "cluster_file", "session_scope"):
        assert agent_params[name].help == proxy_params[name].help  # type: ignore[attr-defined]
    help_text = CliRunner().invoke(commands.agent, ["--help"]).output
    assert "--prefetch / --no-prefetch" in help_text
    assert "AssumeRole duration (20m-12h)" in help_text
