"""Classification of probe answers: what is exposed, how bad, and what is said about it."""

from __future__ import annotations

import json

import pytest

from podwarden.probe import findings
from podwarden.probe.findings import Exposure, Observation, Reading, Severity

AWS_KEYS = json.dumps(
    {"Code": "Success", "AccessKeyId": "ASIAX", "SecretAccessKey": "s3cr3t", "Token": "tok"}
).encode()


def classify(looks_for, reading, obs, reachable_severity=Severity.INFO):
    return findings.classify(
        check="c",
        service="s",
        endpoint="e",
        looks_for=looks_for,
        reading=reading,
        obs=obs,
        reachable_severity=reachable_severity,
    )


@pytest.mark.parametrize(
    ("looks_for", "reading", "obs", "exposed", "severity"),
    [
        # credentials: only a JSON object with non-empty key material counts
        (
            Exposure.CREDENTIALS,
            Reading.CREDENTIALS_JSON,
            Observation(200, AWS_KEYS),
            (Exposure.CREDENTIALS,),
            Severity.CRITICAL,
        ),
        (
            Exposure.CREDENTIALS,
            Reading.CREDENTIALS_JSON,
            Observation(200, b'{"access_token": "ya29.x", "expires_in": 3599}'),
            (Exposure.CREDENTIALS,),
            Severity.CRITICAL,
        ),
        (
            Exposure.CREDENTIALS,
            Reading.CREDENTIALS_JSON,
            Observation(200, b'{"AccessKeyId": "ASIAX", "AccessKeySecret": "k"}'),
            (Exposure.CREDENTIALS,),
            Severity.CRITICAL,
        ),
        (
            Exposure.CREDENTIALS,
            Reading.CREDENTIALS_JSON,
            Observation(200, b'{"AccessKeyId": "ASIAX", "SecretAccessKey": "  "}'),
            (),
            Severity.INFO,
        ),
        (
            Exposure.CREDENTIALS,
            Reading.CREDENTIALS_JSON,
            Observation(200, b"emulator-node-role"),
            (),
            Severity.INFO,
        ),
        (
            Exposure.CREDENTIALS,
            Reading.CREDENTIALS_JSON,
            Observation(200, b"[1, 2]"),
            (),
            Severity.INFO,
        ),
        (
            Exposure.CREDENTIALS,
            Reading.CREDENTIALS_JSON,
            Observation(403, AWS_KEYS),
            (),
            Severity.INFO,
        ),
        # leaves: a successful non-empty answer is the secret itself
        (
            Exposure.KUBE_ENV,
            Reading.LEAF,
            Observation(200, b"KUBELET_CERT: x\n"),
            (Exposure.KUBE_ENV,),
            Severity.CRITICAL,
        ),
        (Exposure.KUBE_ENV, Reading.LEAF, Observation(200, b"  \n"), (), Severity.INFO),
        (
            Exposure.USER_DATA,
            Reading.LEAF,
            Observation(200, b'{"ignition": {}}'),
            (Exposure.USER_DATA,),
            Severity.HIGH,
        ),
        (
            Exposure.IDENTITY_TOKEN,
            Reading.LEAF,
            Observation(200, b"eyJ.eyJ.sig"),
            (Exposure.IDENTITY_TOKEN,),
            Severity.HIGH,
        ),
        (
            Exposure.KUBE_ENV,
            Reading.LEAF,
            Observation(403, b"This metadata endpoint is concealed."),
            (),
            Severity.INFO,
        ),
        (Exposure.KUBE_ENV, Reading.LEAF, Observation(301, b"moved"), (), Severity.INFO),
        # Azure's instance document: only userData / customData inside count
        (
            Exposure.USER_DATA,
            Reading.INSTANCE_DOCUMENT,
            Observation(200, b'{"compute": {"location": "eastus", "userData": "IyEvYmlu"}}'),
            (Exposure.USER_DATA,),
            Severity.HIGH,
        ),
        (
            Exposure.USER_DATA,
            Reading.INSTANCE_DOCUMENT,
            Observation(
                200, b'{"compute": {"location": "eastus", "userData": "", "customData": ""}}'
            ),
            (),
            Severity.INFO,
        ),
        (
            Exposure.USER_DATA,
            Reading.INSTANCE_DOCUMENT,
            Observation(200, b"not json"),
            (),
            Severity.INFO,
        ),
        # GCE's recursive tree: only a non-empty attributes.kube-env counts
        (
            Exposure.KUBE_ENV,
            Reading.GCE_TREE,
            Observation(200, b'{"id": 1, "attributes": {"kube-env": "KUBELET_KEY: x"}}'),
            (Exposure.KUBE_ENV,),
            Severity.CRITICAL,
        ),
        (
            Exposure.KUBE_ENV,
            Reading.GCE_TREE,
            Observation(200, b'{"id": 1, "attributes": {"cluster-name": "c"}}'),
            (),
            Severity.INFO,
        ),
        (Exposure.KUBE_ENV, Reading.GCE_TREE, Observation(200, b"id\nzone\n"), (), Severity.INFO),
        # GCE attributes: whatever is served beyond GKE's cluster-name/-location/-uid
        (
            Exposure.ATTRIBUTES,
            Reading.GCE_ATTRIBUTES,
            Observation(200, b"cluster-name\nssh-keys\n", served=("cluster-name", "ssh-keys")),
            (Exposure.ATTRIBUTES,),
            Severity.HIGH,
        ),
        (
            Exposure.ATTRIBUTES,
            Reading.GCE_ATTRIBUTES,
            Observation(200, b"cluster-name\nssh-keys\n", served=("cluster-name",)),
            (),
            Severity.INFO,
        ),
        (
            Exposure.ATTRIBUTES,
            Reading.GCE_ATTRIBUTE_TREE,
            Observation(200, b'{"cluster-uid": "u", "startup-script": "#!/bin/sh"}'),
            (Exposure.ATTRIBUTES,),
            Severity.HIGH,
        ),
        (
            Exposure.ATTRIBUTES,
            Reading.GCE_ATTRIBUTE_TREE,
            Observation(200, b'{"cluster-uid": "u", "startup-script": ""}'),
            (),
            Severity.INFO,
        ),
        (
            Exposure.ATTRIBUTES,
            Reading.GCE_ATTRIBUTE_TREE,
            Observation(200, b"[1]"),
            (),
            Severity.INFO,
        ),
        # WireServer: the host plugin's extension settings, not the version list
        (
            Exposure.BOOTSTRAP_TOKEN,
            Reading.VM_SETTINGS,
            Observation(200, b'{"extensionGoalStates": [{"settings": []}]}'),
            (Exposure.BOOTSTRAP_TOKEN,),
            Severity.CRITICAL,
        ),
        (
            Exposure.BOOTSTRAP_TOKEN,
            Reading.VM_SETTINGS,
            Observation(200, b"<?xml version='1.0'?><Versions/>"),
            (),
            Severity.MEDIUM,
        ),
        # no answer at all
        (
            Exposure.CREDENTIALS,
            Reading.CREDENTIALS_JSON,
            Observation(None, error="connection refused"),
            (),
            Severity.NONE,
        ),
    ],
)
def test_classification(looks_for, reading, obs, exposed, severity):
    medium = Severity.MEDIUM if reading is Reading.VM_SETTINGS else Severity.INFO
    finding = classify(looks_for, reading, obs, reachable_severity=medium)
    assert finding.exposed == exposed
    assert finding.severity is severity
    assert finding.reachable is (obs.status is not None)


@pytest.mark.parametrize(
    ("obs", "detail"),
    [
        (Observation(200, AWS_KEYS), "HTTP 200: credentials readable"),
        (Observation(200, b'{"Code": "Success"}'), "HTTP 200: nothing secret"),
        (
            Observation(403, b"This metadata endpoint is concealed.\n"),
            "HTTP 403: This metadata endpoint is concealed.",
        ),
        (
            Observation(
                400, b'{"error": "invalid_request", "error_description": "Identity not found"}'
            ),
            "HTTP 400: Identity not found",
        ),
        (
            Observation(404, b'<?xml version="1.0"?>\n<html><head><title>404 - Not Found</title>'),
            "HTTP 404: 404 - Not Found",
        ),
        (Observation(404, b""), "HTTP 404"),
        (Observation(None, error="timed out"), "timed out"),
    ],
)
def test_detail_words(obs, detail):
    assert classify(Exposure.CREDENTIALS, Reading.CREDENTIALS_JSON, obs).detail == detail


def test_control_characters_never_reach_the_terminal():
    detail = classify(
        Exposure.KUBE_ENV, Reading.LEAF, Observation(403, b"a\x1b[31mb\tc\x07")
    ).detail
    assert detail == "HTTP 403: a [31mb c"


def test_long_refusal_is_shortened():
    detail = classify(Exposure.KUBE_ENV, Reading.LEAF, Observation(403, b"x" * 500)).detail
    assert detail.startswith("HTTP 403: xxx")
    assert detail.endswith("…")
    assert len(detail) < 90


@pytest.mark.parametrize(
    ("reading", "body"),
    [
        (Reading.CREDENTIALS_JSON, AWS_KEYS),
        (Reading.LEAF, b"KUBELET_KEY: s3cr3t"),
        (Reading.INSTANCE_DOCUMENT, b'{"compute": {"userData": "s3cr3t"}}'),
    ],
)
def test_a_readable_secret_is_never_quoted(reading, body):
    finding = classify(Exposure.CREDENTIALS, reading, Observation(200, body))
    assert "s3cr3t" not in json.dumps(finding.to_json())


def test_verdict_is_exposed_only_when_a_secret_is_readable():
    refused = classify(Exposure.KUBE_ENV, Reading.LEAF, Observation(403, b"no"))
    benign = classify(
        Exposure.BOOTSTRAP_TOKEN,
        Reading.VM_SETTINGS,
        Observation(200, b"<V/>"),
        reachable_severity=Severity.MEDIUM,
    )
    leaked = classify(Exposure.KUBE_ENV, Reading.LEAF, Observation(200, b"KUBELET_CERT: x"))
    assert not findings.any_secret_exposed([refused, benign])
    assert findings.any_secret_exposed([refused, benign, leaked])


def test_severity_rank_orders_worst_first():
    ordered = sorted(Severity, key=lambda s: s.rank)
    assert ordered[0] is Severity.CRITICAL and ordered[-1] is Severity.NONE
