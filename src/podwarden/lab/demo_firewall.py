"""The demo's first act: the walkthroughs' curl commands, without and with podwarden.

From a pod, the well-known commands read the node's AWS keys, GKE's kube-env
and node token, and Azure's managed-identity token. With `podwarden proxy`
in front (one provider at a time), the same commands are refused with the
proxy's message, while region, zone and instance-id still answer, and
`podwarden probe` turns from exit 1 to exit 0.
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Callable
from dataclasses import dataclass

from podwarden.api import metadata_addresses
from podwarden.lab import plan as lab_plan
from podwarden.lab import topology
from podwarden.lab.cloud import secrets
from podwarden.lab.demo_model import ActContext, Row
from podwarden.lab.topology import Lab

ACT = "metadata firewall"
POD = "pod-a"
IMDS = f"http://{metadata_addresses.IMDS_V4}"
GCE = f"http://{metadata_addresses.GCE_HOSTNAME}/computeMetadata/v1"
_GOOGLE = ["-H", "Metadata-Flavor: Google"]
_AZURE = ["-H", "Metadata:true"]
_STATUS_MARK = "\n--podwarden-demo-status:"
_TITLE = re.compile(r"<title>([^<]*)</title>", re.IGNORECASE)


@dataclass(frozen=True)
class Curl:
    """A walkthrough command: a secret that must become unreadable, or a fact that must stay."""

    label: str
    provider: str
    args: tuple[str, ...]
    secret: bool

    @property
    def shown(self) -> str:
        """The command as a reader would type it."""
        return "curl -s " + " ".join(shlex.quote(a) for a in self.args)


CURLS: tuple[Curl, ...] = (
    Curl(
        "AWS node role name",
        "aws",
        (f"{IMDS}/latest/meta-data/iam/security-credentials/",),
        secret=False,
    ),
    Curl(
        "AWS node role keys",
        "aws",
        (f"{IMDS}/latest/meta-data/iam/security-credentials/{secrets.NODE_AWS_ROLE_NAME}",),
        secret=True,
    ),
    Curl("AWS user-data", "aws", (f"{IMDS}/latest/user-data",), secret=True),
    Curl("AWS region", "aws", (f"{IMDS}/latest/meta-data/placement/region",), secret=False),
    Curl("AWS instance-id", "aws", (f"{IMDS}/latest/meta-data/instance-id",), secret=False),
    Curl("GCE kube-env", "gce", (*_GOOGLE, f"{GCE}/instance/attributes/kube-env"), secret=True),
    Curl(
        "GCE node SA token",
        "gce",
        (*_GOOGLE, f"{GCE}/instance/service-accounts/default/token"),
        secret=True,
    ),
    Curl("GCE zone", "gce", (*_GOOGLE, f"{GCE}/instance/zone"), secret=False),
    Curl("GCE instance id", "gce", (*_GOOGLE, f"{GCE}/instance/id"), secret=False),
    Curl(
        "Azure managed identity token",
        "azure",
        (
            *_AZURE,
            f"{IMDS}/metadata/identity/oauth2/token?api-version=2018-02-01"
            "&resource=https://management.azure.com/",
        ),
        secret=True,
    ),
    Curl(
        "Azure location",
        "azure",
        (*_AZURE, f"{IMDS}/metadata/instance/compute/location?api-version=2021-02-01&format=text"),
        secret=False,
    ),
    Curl(
        "Azure vmId",
        "azure",
        (*_AZURE, f"{IMDS}/metadata/instance/compute/vmId?api-version=2021-02-01&format=text"),
        secret=False,
    ),
)

# A "fact" row that must be refused with podwarden even though it is no secret value.
_REFUSED_FACTS = {"AWS node role name"}


@dataclass(frozen=True)
class Outcome:
    """What one curl saw, in words that never contain a secret."""

    status: int | None
    secret_seen: bool
    text: str

    @property
    def refused(self) -> bool:
        return self.status is None or self.status >= 400

    def words(self) -> str:
        code = f"HTTP {self.status}" if self.status is not None else "no answer"
        return f"{code}: {self.text}" if self.text else code


def run(ctx: ActContext) -> list[Row]:
    """The act: one lab, first without the proxy, then with it for each provider."""
    echo: Callable[[str], None] = ctx.echo
    before: dict[str, Outcome] = {}
    after: dict[str, Outcome] = {}
    probes_after: dict[str, tuple[int, str]] = {}
    with ctx.lab(provider="aws", proxy=False) as the_lab:
        echo(
            f"(commands run in {POD} with `podwarden lab exec`; each curl also gets "
            "--max-time 3 and --write-out '%{http_code}' so the demo can read the status)"
        )
        echo("--- without podwarden: the pod talks to the cloud's metadata service directly ---")
        for curl in CURLS:
            before[curl.label] = _curl(the_lab, curl, echo)
        probe_before = _probe(the_lab, echo)
        for provider in lab_plan.PROVIDERS:
            echo(f"--- with podwarden: --provider {provider}, pod traffic DNATed to its proxy ---")
            the_lab.start_proxy(provider)
            for curl in (c for c in CURLS if c.provider == provider):
                after[curl.label] = _curl(the_lab, curl, echo)
            probes_after[provider] = _probe(the_lab, echo)
        the_lab.stop_proxy()
    rows = [_row(curl, before[curl.label], after[curl.label]) for curl in CURLS]
    for provider, (code, summary) in probes_after.items():
        rows.append(
            Row(
                act=ACT,
                check=f"podwarden probe ({provider} proxy)",
                before=f"exit {probe_before[0]}: {probe_before[1]}",
                after=f"exit {code}: {summary}",
                expected="exit 1 -> exit 0",
                ok=probe_before[0] == 1 and code == 0,
            )
        )
    return rows


def _row(curl: Curl, before: Outcome, after: Outcome) -> Row:
    if curl.secret:
        expected = "readable -> refused"
        ok = before.secret_seen and after.refused and not after.secret_seen
    elif curl.label in _REFUSED_FACTS:
        expected = "answers -> refused"
        ok = before.status == 200 and after.refused and not after.secret_seen
    else:
        expected = "answers -> same answer"
        ok = (
            before.status == 200
            and after.status == 200
            and before.text == after.text
            and not after.secret_seen
        )
    return Row(
        act=ACT,
        check=curl.label,
        before=before.words(),
        after=after.words(),
        expected=expected,
        ok=ok,
    )


def _curl(the_lab: Lab, curl: Curl, echo: Callable[[str], None]) -> Outcome:
    """Run the curl in the pod; the demo adds a timeout and a status marker to read the code."""
    argv = ["curl", "-s", "--max-time", "3", "-w", _STATUS_MARK + "%{http_code}", *curl.args]
    proc = the_lab.exec(POD, argv, timeout=10)
    body, _, code = proc.stdout.rpartition(_STATUS_MARK)
    status = int(code) if code.strip().isdigit() and int(code) > 0 else None
    outcome = read_outcome(status, body, proc.returncode)
    echo(f"$ {curl.shown}")
    echo(f"  -> {outcome.words()}")
    return outcome


def read_outcome(status: int | None, body: str, curl_code: int) -> Outcome:
    """A curl's status and body in words that never contain a secret."""
    secret_seen = any(value in body for value in secrets.ALL)
    if status is None:
        return Outcome(status=None, secret_seen=False, text=f"curl exit {curl_code}")
    if secret_seen:
        return Outcome(status=status, secret_seen=True, text=_secret_summary(body))
    if status >= 400:
        return Outcome(status=status, secret_seen=False, text=_refusal(body))
    first = body.strip().splitlines()[0] if body.strip() else ""
    return Outcome(status=status, secret_seen=False, text=first[:60])


def _refusal(body: str) -> str:
    """The reason in a refusal: a JSON error's description, an HTML title, or the first line."""
    text = body.strip()
    try:
        data = json.loads(text)
    except ValueError:
        data = None
    if isinstance(data, dict):
        text = str(data.get("error_description") or data.get("error") or text)
    title = _TITLE.search(text) if text.startswith("<") else None
    if title:
        text = title.group(1)
    return (text.splitlines()[0] if text else "")[:60]


def _secret_summary(body: str) -> str:
    """Names the fields of a secret answer, never their values."""
    try:
        data = json.loads(body)
    except ValueError:
        return f"secret readable ({len(body)} bytes)"
    if isinstance(data, dict):
        return "readable: " + ", ".join(sorted(data)[:4]) + (", …" if len(data) > 4 else "")
    return "secret readable"


def _probe(the_lab: Lab, echo: Callable[[str], None]) -> tuple[int, str]:
    """`podwarden probe` in the pod: its exit code and a one-line summary."""
    argv = [*topology.podwarden_argv(), "probe", "--format", "json"]
    proc = the_lab.exec(POD, argv, timeout=30)
    echo("$ podwarden probe")
    try:
        report = json.loads(proc.stdout)
        exposed = sorted({e for f in report["findings"] for e in f["exposed"]})
        summary = ("exposes " + ", ".join(exposed)) if exposed else "nothing readable"
    except (ValueError, KeyError, TypeError):
        summary = f"unreadable output: {proc.stderr.strip()[:80]}"
    if any(value in proc.stdout + proc.stderr for value in secrets.ALL):
        summary += " (PRINTED A SECRET)"
        return 2, summary
    echo(f"  -> exit {proc.returncode}: {summary}")
    return proc.returncode, summary
