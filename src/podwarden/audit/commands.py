"""`podwarden check`: judge manifests offline, as admission would, and say why.

Exit status: 0 when everything is admitted, 1 when anything is refused, 2 when an
input or policy cannot be read (the message names the file and line).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

import click

from podwarden.audit import check, inputs, report
from podwarden.config import ConfigError
from podwarden.podsecurity.levels import PolicyValueError, level_version

EXIT_REFUSED = 1
EXIT_UNREADABLE = 2


@click.command("check")
@click.option(
    "--level",
    type=click.Choice(["privileged", "baseline", "restricted"]),
    help="Pod Security Standards level to enforce.",
)
@click.option(
    "--version",
    "policy_version",
    default="latest",
    show_default=True,
    help="Policy version for --level: v1.0 … v1.37 or latest.",
)
@click.option(
    "--policy",
    "policy_files",
    multiple=True,
    type=click.Path(dir_okay=True, allow_dash=False),
    help="PodSecurityPolicy file or folder (repeatable); RBAC objects in it (or in the "
    "inputs) restrict which policies each pod may use.",
)
@click.option(
    "--format",
    "output_format",
    type=click.Choice(sorted(report.RENDERERS)),
    default="table",
    show_default=True,
)
@click.option(
    "--workloads",
    type=click.Choice(["warn", "refuse"]),
    default="warn",
    show_default=True,
    help="Workload templates only warn (as Pod Security Admission does) or are refused.",
)
@click.option("--user", default="", help="PSP mode: the requesting user name.")
@click.option("--group", "groups", multiple=True, help="PSP mode: the user's groups.")
@click.argument("paths", nargs=-1, required=True)
def check_command(
    level: str | None,
    policy_version: str,
    policy_files: Sequence[str],
    output_format: str,
    workloads: str,
    user: str,
    groups: Sequence[str],
    paths: Sequence[str],
) -> None:
    """Check Pods and workloads in PATHS (files, folders, `-` for stdin).

    Give either --level (Pod Security Standards) or --policy (PodSecurityPolicy).
    """
    if (level is None) == (not policy_files):
        raise click.UsageError("give exactly one of --level or --policy")
    refuse_workloads = workloads == "refuse"
    try:
        objects = list(inputs.read_all(list(paths)))
        mode: check.PssMode | check.PspMode
        if level is not None:
            mode = check.PssMode(level_version(level, policy_version), refuse_workloads)
        else:
            mode = _psp_mode(
                list(policy_files),
                objects,
                user=user,
                groups=tuple(groups),
                refuse=refuse_workloads,
            )
        findings = check.judge_all(objects, mode=mode)
    except (inputs.InputError, PolicyValueError, ConfigError) as exc:
        click.echo(f"podwarden check: {exc}", err=True)
        sys.exit(EXIT_UNREADABLE)
    click.echo(report.RENDERERS[output_format](findings))
    if any(not f.allowed for f in findings):
        sys.exit(EXIT_REFUSED)


def _psp_mode(
    policy_files: list[str],
    objects: list[inputs.SourcedObject],
    *,
    user: str,
    groups: tuple[str, ...],
    refuse: bool,
) -> check.PspMode:
    from podwarden import rbac
    from podwarden.podsecurity.psp import engine as psp_engine

    policy_objects = list(inputs.read_all(policy_files))
    docs = [o.obj for o in policy_objects + objects]
    policies = psp_engine.load_policies([d for d in docs if psp_engine.is_policy(d)])
    has_rbac = any(rbac.is_rbac_object(d) for d in docs)
    authorizer = psp_engine.Rbac.from_objects(docs) if has_rbac else psp_engine.Rbac.allow_all()
    return check.PspMode(policies, authorizer, user=user, groups=groups, refuse_workloads=refuse)
