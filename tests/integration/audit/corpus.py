"""Tricky YAML (and JSON) spellings, each with what `podwarden check` must make of it.

`expect` is READ when podwarden must read the file (and then its objects must equal
what kubectl sends), or a piece of the refusal message. `kubectl` optionally names
values kubectl must read (path -> value), which checks the claims the refusal
messages make ("`y` is true to kubectl") against the real kubectl.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

READ = ""
HEADER = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\n"


@dataclass(frozen=True)
class Case:
    id: str
    text: str
    expect: str = READ
    kubectl: dict[str, Any] = field(default_factory=dict)
    suffix: str = ".yaml"


def pod(name: str, spec: str) -> str:
    """A pod whose spec is the YAML `spec` (written at two spaces of indentation)."""
    return HEADER.format(name=name) + "spec:\n" + spec


def container(name: str, security_context: str, *, extra: str = "") -> str:
    lines = "".join(f"      {line}\n" for line in security_context.splitlines())
    return pod(
        name, f"  containers:\n  - name: c\n    image: x\n    securityContext:\n{lines}{extra}"
    )


PRIV = "spec.containers[0].securityContext.privileged"
USER = "spec.containers[0].securityContext.runAsUser"
AMBIGUOUS = "ambiguous: "


def _privileged() -> list[Case]:
    cases = []
    for word, value in [
        *[(w, True) for w in ("y", "Y", "yes", "Yes", "YES", "on", "On", "ON")],
        *[(w, False) for w in ("n", "N", "no", "No", "NO", "off", "Off", "OFF")],
    ]:
        cases.append(
            Case(
                f"privileged-{word}",
                container(f"p-{word.lower()}", f"privileged: {word}"),
                f"{AMBIGUOUS}`{word}` is {str(value).lower()} to kubectl",
                {PRIV: value},
            )
        )
    for word, _ in [
        *[(w, True) for w in ("true", "True", "TRUE")],
        *[(w, False) for w in ("false", "False", "FALSE")],
        ("tRue", "tRue"),
        ('"y"', "y"),
        ("'yes'", "yes"),
        ("!!bool true", True),
        ('!!bool "true"', True),
        ("!!str true", "true"),
        ("!!str y", "y"),
        ("~", None),
        ("null", None),
        ("", None),
        ("1", 1),
        ("|\n  y", "y\n"),
        (">-\n  on", "on"),
    ]:
        names = {"~": "tilde", "": "empty", '"': "dq-", "'": "sq-", "!": "tag-", "|": "literal-"}
        slug = "".join(names.get(c, c if c.isalnum() else "-") for c in word) or "empty"
        cases.append(Case(f"privileged-read-{slug}", container("p", f"privileged: {word}"), READ))
    cases.append(
        Case(
            "privileged-tag-bool-y", container("p", "privileged: !!bool y"), "an error to YAML 1.2"
        )
    )
    cases.append(
        Case(
            "privileged-tag-int-y",
            container("p", "privileged: !!int y"),
            "kubectl refuses it: cannot decode !!bool `y` as a !!int",
        )
    )
    cases.append(Case("privileged-nonspecific-tag", container("p", "privileged: ! y"), "tag !"))
    cases.append(Case("privileged-local-tag", container("p", "privileged: !foo y"), "tag !foo"))
    cases.append(
        Case("privileged-binary", container("p", "privileged: !!binary eQ=="), "tag !!binary")
    )
    cases.append(Case("privileged-multiline-plain", container("p", "privileged: y\n  es"), READ))
    return cases


def _numbers() -> list[Case]:
    read = {
        "0o0": 0,
        "0x0": 0,
        "00": 0,
        "0": 0,
        "+0": 0,
        "-0": 0,
        "0.0": 0,
        "0e0": 0,
        "1e3": 1000,
        "1.": 1,
        "1.0": 1,
        "08": 8,
        "09.5": 9.5,
        ".5": 0.5,
        "+.5": 0.5,
        "1:0": "1:0",
        "1:30:00": "1:30:00",
        "0x1F": 31,
        "0o17": 15,
        "+1": 1,
        "9223372036854775807": 9223372036854775807,
        "-9223372036854775808": -9223372036854775808,
        "1e-400": 0,
        "2001-12-14": "2001-12-14",
        "2001-12-14t21:59:43.10-05:00": "2001-12-14t21:59:43.10-05:00",
        "0x": "0x",
        "-a": "-a",
        "_1": "_1",
        "1e": "1e",
        "123456789012345678": 123456789012345678,
        "1.5": 1.5,
        "-1.5e-3": -0.0015,
    }
    refused = {
        "0_0": "`0_0` is 0 to kubectl",
        "0b0": "`0b0` is 0 to kubectl",
        "0b101": "`0b101` is 5",
        "010": "`010` is 8 to kubectl (YAML 1.1) but 10",
        "017": "is 15",
        "1_000": "is 1000",
        "0x_1": "is 1",
        "1_": "is 1",
        "-0x1F": "is -31",
        "+0x10": "is 16",
        "0X1F": "is 31",
        "0O7": "is 7",
        "0B1": "is 1",
        "1_0.5": "is 10.5",
        "-0b1": "is -1",
        "9223372036854775808": "outside the 64-bit integer range",
        "99999999999999999999": "outside the 64-bit integer range",
        "0xFFFFFFFFFFFFFFFFFF": "outside the 64-bit integer range",
        "1e19": "outside the 64-bit integer range",
        "1e400": 'the string "1e400" to kubectl',
        ".nan": "kubectl refuses it",
        ".inf": "kubectl refuses it",
        "-.Inf": "kubectl refuses it",
    }
    cases = []
    for text, value in read.items():
        cases.append(
            Case(f"runAsUser-{text}", container("p", f"runAsUser: {text}"), READ, {USER: value})
        )
    for text, reason in refused.items():
        cases.append(
            Case(f"runAsUser-refused-{text}", container("p", f"runAsUser: {text}"), reason)
        )
    cases += [
        Case("runAsUser-quoted-0", container("p", 'runAsUser: "0"'), READ, {USER: "0"}),
        Case("runAsUser-int-tag-quoted", container("p", 'runAsUser: !!int "0"'), READ, {USER: 0}),
        Case("runAsUser-float-tag", container("p", "runAsUser: !!float 1"), READ, {USER: 1}),
        Case(
            "runAsUser-int-tag-float",
            container("p", "runAsUser: !!int 1.5"),
            "cannot decode !!float `1.5` as a !!int",
        ),
    ]
    return cases


def _fields() -> list[Case]:
    spec_c = "  containers: [{name: c, image: x}]\n"
    return [
        Case(
            "hostNetwork-y",
            pod("hn", "  hostNetwork: y\n" + spec_c),
            "`y` is true",
            {"spec.hostNetwork": True},
        ),
        Case("hostNetwork-true", pod("hn", "  hostNetwork: true\n" + spec_c), READ),
        Case(
            "readOnly-n",
            pod(
                "ro",
                "  containers:\n  - name: c\n    image: x\n"
                "    volumeMounts: [{name: v, mountPath: /v, readOnly: n}]\n"
                "  volumes: [{name: v, hostPath: {path: /var/log}}]\n",
            ),
            "`n` is false",
            {"spec.containers[0].volumeMounts[0].readOnly": False},
        ),
        Case("image-date", pod("img", "  containers: [{name: c, image: 2001-12-14}]\n"), READ),
        Case("image-sexagesimal", pod("img", "  containers: [{name: c, image: 1:30}]\n"), READ),
        Case("image-hex", pod("img", "  containers: [{name: c, image: 0x1F}]\n"), READ),
        Case(
            "command-words",
            pod("cmd", "  containers: [{name: c, image: x, command: [sh, -c, echo]}]\n"),
            READ,
        ),
        Case(
            "command-yes",
            pod("cmd", "  containers: [{name: c, image: x, command: [yes]}]\n"),
            "`yes` is true",
        ),
        Case(
            "env-value-on",
            pod("env", "  containers: [{name: c, image: x, env: [{name: A, value: on}]}]\n"),
            "`on` is true",
        ),
        Case(
            "env-value-quoted-on",
            pod("env", '  containers: [{name: c, image: x, env: [{name: A, value: "on"}]}]\n'),
            READ,
        ),
        Case("crlf", container("crlf", "privileged: true").replace("\n", "\r\n"), READ),
        Case("bom", "\ufeff" + container("bom", "privileged: false"), READ),
        Case(
            "flow-pod",
            "{apiVersion: v1, kind: Pod, metadata: {name: flow}, spec: {containers: "
            "[{name: c, image: x, securityContext: {privileged: true}}]}}\n",
            "invalid JSON",
        ),
        Case(
            "flow-after-comment",
            "# a comment\n{apiVersion: v1, kind: Pod, metadata: {name: flow}, spec: {}}\n",
            READ,
        ),
        Case("tab-indent", pod("tab", "\tcontainers: []\n"), "invalid YAML"),
        Case("deep-but-fine", pod("deep", "  x: " + "[" * 150 + "]" * 150 + "\n" + spec_c), READ),
        Case(
            "too-deep",
            pod("deep", "  x: " + "[" * 300 + "]" * 300 + "\n" + spec_c),
            "nested more than 200 levels",
        ),
        Case(
            "list-kind",
            "apiVersion: v1\nkind: List\nitems:\n- "
            + container("l1", "privileged: true").replace("\n", "\n  ").rstrip()
            + "\n",
            READ,
        ),
    ]


def _modes() -> list[Case]:
    """File modes, where octal with a leading zero is a common (and ambiguous) idiom."""

    def secret(mode: str) -> str:
        return pod(
            "mode",
            "  containers: [{name: c, image: x}]\n"
            f"  volumes: [{{name: s, secret: {{secretName: s, defaultMode: {mode}}}}}]\n",
        )

    where = "spec.volumes[0].secret.defaultMode"
    return [
        Case("mode-0440", secret("0440"), "`0440` is 288 to kubectl", {where: 288}),
        Case("mode-0o440", secret("0o440"), READ, {where: 288}),
        Case("mode-288", secret("288"), READ, {where: 288}),
        Case("mode-0644", secret("0644"), "write 420, or 0o644 for octal", {where: 420}),
    ]


def _keys() -> list[Case]:
    def labels(body: str, name: str = "lbl") -> str:
        return (
            HEADER.format(name=name).rstrip("\n")
            + "\n  labels:\n"
            + "".join(f"    {line}\n" for line in body.splitlines())
            + "spec:\n  containers: [{name: c, image: x}]\n"
        )

    return [
        Case("key-y", labels("y: a"), "`y` is true", {"metadata.labels.true": "a"}),
        Case("key-on", labels("on: a"), "`on` is true"),
        Case("key-int", labels("1: a"), READ, {"metadata.labels.1": "a"}),
        Case("key-true", labels("true: a"), READ, {"metadata.labels.true": "a"}),
        Case("key-int-and-string", labels("1: a\n'1': b"), "written twice"),
        Case("key-null", labels("~: a"), "a null mapping key"),
        Case("key-float", labels("1.5: a"), "a float mapping key"),
        Case("key-sequence", labels("[a]: b"), "a list mapping key"),
        Case("key-quoted-merge", labels('"<<": a'), READ, {"metadata.labels.<<": "a"}),
        Case(
            "duplicate-top",
            container("dup", "privileged: false\nprivileged: true"),
            "written twice",
            {PRIV: True},
        ),
        Case("duplicate-nested", labels("a: 1\nb: 2\na: 3"), "written twice"),
        Case("duplicate-case", labels("a: x\nA: z"), READ),
    ]


def _merges() -> list[Case]:
    return [
        Case(
            "merge-override",
            container("m", "privileged: false\n<<: {privileged: true}"),
            "merge overrides 'privileged'",
            {PRIV: True},
        ),
        Case(
            "merge-explicit-after",
            container("m", "<<: {privileged: true}\nprivileged: false"),
            READ,
            {PRIV: False},
        ),
        Case(
            "merge-adds", container("m", "<<: {privileged: true}\nrunAsUser: 1"), READ, {PRIV: True}
        ),
        Case(
            "merge-alias-override",
            "base: &b {privileged: true}\n" + container("m", "privileged: false\n<<: *b"),
            "merge overrides 'privileged'",
        ),
        Case(
            "merge-alias",
            pod(
                "m",
                "  x: &b {privileged: true, runAsUser: 0}\n  containers:\n  - name: c\n"
                "    image: x\n    securityContext:\n      <<: *b\n      runAsUser: 1\n",
            ),
            READ,
            {PRIV: True, USER: 1},
        ),
        Case(
            "merge-list-first-wins",
            container("m", "<<: [{privileged: true}, {privileged: false, runAsUser: 5}]"),
            READ,
            {PRIV: True, USER: 5},
        ),
        Case(
            "merge-anchor-list",
            pod(
                "m",
                "  x: [&a {privileged: true}, &b {privileged: false, runAsUser: 7}]\n"
                "  containers:\n  - name: c\n    image: x\n    securityContext:\n"
                "      <<: [*a, *b]\n",
            ),
            READ,
            {PRIV: True, USER: 7},
        ),
        Case(
            "merge-nested-override",
            container("m", "privileged: false\n<<: {<<: {privileged: true}}"),
            "merge overrides 'privileged'",
        ),
        Case("merge-twice", container("m", "<<: {a: 1}\n<<: {b: 2}"), "`<<` written twice"),
        Case("merge-scalar", container("m", "<<: 1"), "map merge requires map"),
        Case("merge-list-of-scalars", container("m", "<<: [1]"), "map merge requires map"),
        Case("merge-null", container("m", "<<:"), "map merge requires map"),
        Case(
            "merge-key-alias",
            "m: &m <<\n" + container("m", "*m : {privileged: true}"),
            READ,
        ),
        Case(
            "merge-inside-list-item",
            pod(
                "m",
                "  x: &c {name: c, image: x}\n  containers:\n  - <<: *c\n"
                "    securityContext: {privileged: true}\n",
            ),
            READ,
            {PRIV: True, "spec.containers[0].name": "c"},
        ),
        Case(
            "merge-override-inside-merged",
            container("m", "<<: {privileged: false, <<: {privileged: true}}"),
            "merge overrides 'privileged'",
        ),
    ]


def _bomb(levels: int) -> str:
    lines = ["  a0: &a0 [lol,lol,lol,lol,lol,lol,lol,lol,lol]"]
    lines += [f"  a{i}: &a{i} [" + ",".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, levels)]
    return "\n".join(lines) + "\n"


def _ratio(aliases: int) -> str:
    """A 200-item anchored list aliased `aliases` times: go-yaml's ratio check passes
    at 209 aliases and fails at 210 (aliases then supply more than 99% of values)."""
    items = ",".join(["x"] * 200)
    uses = ",".join(["*x"] * aliases)
    return pod(
        "ratio", f"  a: &x [{items}]\n  b: [{uses}]\n  containers: [{{name: c, image: x}}]\n"
    )


def _aliases() -> list[Case]:
    spec_c = "  containers: [{name: c, image: x}]\n"
    return [
        Case("alias-scalar", pod("a", "  x: &v true\n  hostNetwork: *v\n" + spec_c), READ),
        Case("alias-mapping", pod("a", "  x: &m {a: 1}\n  z: *m\n" + spec_c), READ),
        Case("alias-ambiguous", pod("a", "  x: &v y\n  hostNetwork: *v\n" + spec_c), "`y` is true"),
        Case(
            "anchor-redefined",
            pod("a", "  x: &v false\n  z: &v true\n  hostNetwork: *v\n" + spec_c),
            READ,
            {"spec.hostNetwork": True},
        ),
        Case("alias-cycle", pod("a", "  x: &v [*v]\n" + spec_c), "value contains itself"),
        Case("alias-unknown", pod("a", "  x: *nope\n" + spec_c), "unknown anchor 'nope'"),
        Case(
            "alias-across-documents",
            "x: &v 1\n---\n" + pod("a", "  z: *v\n" + spec_c),
            "unknown anchor 'v'",
        ),
        Case(
            "bomb-9",
            pod("bomb", spec_c + "  x:\n" + _bomb(9).replace("  a", "    a")),
            "excessive aliasing",
        ),
        Case("bomb-3", pod("bomb", spec_c + "  x:\n" + _bomb(3).replace("  a", "    a")), READ),
        Case("ratio-209", _ratio(209), READ),
        Case("ratio-210", _ratio(210), "excessive aliasing"),
    ]


def _documents() -> list[Case]:
    one, two = container("d1", "privileged: false"), container("d2", "privileged: false")
    return [
        Case("two-documents", one + "---\n" + two, READ),
        Case("leading-separator", "---\n" + one, READ),
        Case("separator-comment", one + "--- # next\n" + two, READ),
        Case("separator-content", one + "--- " + "{a: 1}\n", "invalid YAML document separator"),
        Case("separator-four-dashes", one + "----\n" + two, "invalid YAML document separator: -"),
        Case("empty-documents", "---\n---\n# only a comment\n---\n" + one + "---\n", READ),
        Case("document-end-marker", one + "...\n", READ),
        Case(
            "document-end-then-more", one + "...\n" + two, "did not find expected <document start>"
        ),
        Case("explicit-start-after-end", one + "...\n--- \n" + two, READ),
        Case("yaml-directive-1.1", "%YAML 1.1\n---\n" + one, "invalid YAML"),
        Case("scalar-document", "just text\n", "expected a Kubernetes object"),
        Case("second-bad", one + "---\n[1\n", "invalid YAML"),
    ]


def _json() -> list[Case]:
    base = (
        '{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "j"}, "spec": '
        '{"containers": [{"name": "c", "image": "x", "securityContext": %s}]}}'
    )
    return [
        Case("json-plain", base % '{"privileged": true}', READ, suffix=".json"),
        Case("json-int-float", base % '{"runAsUser": 1.0}', READ, {USER: 1}, suffix=".json"),
        Case("json-exponent", base % '{"runAsUser": 1e3}', READ, {USER: 1000}, suffix=".json"),
        Case(
            "json-duplicate",
            base % '{"privileged": false, "privileged": true}',
            "written twice",
            suffix=".json",
        ),
        Case("json-nan", base % '{"runAsUser": NaN}', "NaN is not JSON", suffix=".json"),
        Case("json-huge", base % '{"runAsUser": 1e400}', "kubectl refuses it", suffix=".json"),
        Case(
            "json-big-int",
            base % '{"runAsUser": 9223372036854775808}',
            "outside the 64-bit",
            suffix=".json",
        ),
        Case(
            "json-surrogate",
            base % '{"seLinuxOptions": {"user": "\\ud800"}}',
            "unpaired surrogate",
            suffix=".json",
        ),
        Case(
            "json-deep",
            base % ('{"x": ' + "[" * 300 + "]" * 300 + "}"),
            "nested more than 200",
            suffix=".json",
        ),
        Case("json-in-yaml-file", base % '{"privileged": true}', READ),
    ]


CASES: list[Case] = [
    *_privileged(),
    *_numbers(),
    *_fields(),
    *_modes(),
    *_keys(),
    *_merges(),
    *_aliases(),
    *_documents(),
    *_json(),
]
