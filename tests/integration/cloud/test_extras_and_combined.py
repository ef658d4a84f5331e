"""ECS/EKS, Alibaba and WireServer hosts; the combined host; the fake-secret catalogue."""

from __future__ import annotations

import base64
import json

import pytest

from podwarden.lab.cloud import secrets, server
from podwarden.lab.ports import free_port


async def _get(http, url: str, path: str, **headers: str):
    async with http.get(url + path, headers=headers) as response:
        return response.status, await response.text()


async def test_ecs_task_credentials(emulator, http):
    url = await emulator("ecs")
    status, body = await _get(http, url, "/v2/credentials/emulator-task-0001")
    assert status == 200
    creds = json.loads(body)
    assert creds["AccessKeyId"] == secrets.ECS_TASK_ACCESS_KEY_ID
    assert creds["RoleArn"].endswith("emulator-ecs-task-role")
    status, body = await _get(http, url, "/v2/credentials/other")
    assert status == 400 and json.loads(body)["code"] == "InvalidIdInRequest"


async def test_eks_pod_identity_needs_the_service_account_token(emulator, http):
    url = await emulator("eks-pod-identity")
    assert (await _get(http, url, "/v1/credentials"))[0] == 400
    assert (await _get(http, url, "/v1/credentials", Authorization="wrong"))[0] == 403
    status, body = await _get(
        http, url, "/v1/credentials", Authorization="emulator-eks-pod-identity-sa-token"
    )
    assert status == 200
    assert json.loads(body)["AccessKeyId"] == secrets.EKS_POD_IDENTITY_ACCESS_KEY_ID


async def test_alibaba_ram_role_credentials_and_token(emulator, http):
    url = await emulator("alibaba")
    base = "/latest/meta-data/ram/security-credentials/"
    assert await _get(http, url, base) == (200, "emulator-ecs-ram-role")
    headers = {"X-aliyun-ecs-metadata-token-ttl-seconds": "60"}
    async with http.put(f"{url}/latest/api/token", headers=headers) as response:
        token = await response.text()
    status, body = await _get(
        http, url, base + "emulator-ecs-ram-role", **{"X-aliyun-ecs-metadata-token": token}
    )
    assert status == 200
    assert json.loads(body)["AccessKeySecret"] == secrets.ALIBABA_ACCESS_KEY_SECRET
    forged = {"X-aliyun-ecs-metadata-token": "forged"}
    assert (await _get(http, url, base, **forged))[0] == 401


async def test_wireserver_and_host_plugin(emulator, http):
    wire = await emulator("wireserver")
    status, body = await _get(http, wire, "/?comp=versions")
    assert status == 200 and "<Preferred>" in body
    plugin = await emulator("hostgaplugin")
    status, body = await _get(http, plugin, "/vmSettings")
    assert status == 200 and secrets.WIRESERVER_BOOTSTRAP_TOKEN in body


@pytest.mark.parametrize(
    ("path", "headers", "expected"),
    [
        ("/latest/meta-data/instance-id", {}, "i-0emulator0000001"),
        ("/2009-04-04/meta-data/instance-id", {}, "i-0emulator0000001"),
        (
            "/computeMetadata/v1/project/project-id",
            {"Metadata-Flavor": "Google"},
            "emulator-project",
        ),
        ("/0.1/meta-data/project-id", {}, "emulator-project"),
        (
            "/metadata/instance/compute/location?api-version=2021-02-01&format=text",
            {"Metadata": "true"},
            "eastus",
        ),
    ],
)
async def test_combined_host_dispatches_by_prefix(emulator, http, path, headers, expected):
    url = await emulator("all")
    assert await _get(http, url, path, **headers) == (200, expected)


async def test_combined_root_satisfies_aws_and_gce(emulator, http):
    url = await emulator("all")
    async with http.get(url + "/") as response:
        assert response.headers["Metadata-Flavor"] == "Google"
        assert (await response.text()).endswith("latest")


async def test_apps_sharing_providers_accept_each_others_tokens(http):
    """169.254.169.254 (all) and fd00:ec2::254 (aws) are one IMDS: same tokens."""
    shared: dict[str, server.Handler] = {}
    runners, urls = [], []
    for provider in ("all", "aws"):
        port = free_port()
        app = server.build_app(provider, imdsv2_required=True, shared=shared)
        runners.append(await server.serve(app, [("127.0.0.1", port)]))
        urls.append(f"http://127.0.0.1:{port}")
    try:
        headers = {"X-aws-ec2-metadata-token-ttl-seconds": "60"}
        async with http.put(f"{urls[0]}/latest/api/token", headers=headers) as response:
            token = await response.text()
        status, body = await _get(
            http, urls[1], "/latest/meta-data/ami-id", **{"X-aws-ec2-metadata-token": token}
        )
        assert (status, body) == (200, "ami-0emulator000001")
    finally:
        for runner in runners:
            await runner.cleanup()


def test_unknown_provider_is_refused_with_the_choices():
    with pytest.raises(ValueError, match="expected one of aws, gce, azure, all"):
        server.build_app("openstack")


async def test_every_catalogued_secret_is_served_somewhere(emulator, http):
    """`secrets.ALL` is only useful for leak checks if each value really is served."""
    everything = await emulator("all")
    sources = [
        (everything, "/latest/meta-data/iam/security-credentials/emulator-node-role", {}),
        (
            everything,
            "/latest/meta-data/identity-credentials/ec2/security-credentials/ec2-instance",
            {},
        ),
        (everything, "/latest/user-data", {}),
        (everything, "/latest/dynamic/instance-identity/pkcs7", {}),
        (everything, "/latest/dynamic/instance-identity/signature", {}),
        (everything, "/latest/dynamic/instance-identity/rsa2048", {}),
        (
            everything,
            "/computeMetadata/v1/instance/attributes/kube-env",
            {"Metadata-Flavor": "Google"},
        ),
        (
            everything,
            "/computeMetadata/v1/instance/service-accounts/default/token",
            {"Metadata-Flavor": "Google"},
        ),
        (
            everything,
            "/computeMetadata/v1/instance/service-accounts/default/identity?audience=a",
            {"Metadata-Flavor": "Google"},
        ),
        (everything, "/metadata/instance?api-version=2021-02-01", {"Metadata": "true"}),
        (everything, "/metadata/attested/document?api-version=2021-02-01", {"Metadata": "true"}),
        (
            everything,
            "/metadata/identity/oauth2/token?api-version=2018-02-01&resource=r",
            {"Metadata": "true"},
        ),
        (
            everything,
            "/metadata/identity/oauth2/token?api-version=2018-02-01&resource=r&client_id=33333333-0000-0000-0000-00000000e002",
            {"Metadata": "true"},
        ),
        (await emulator("ecs"), "/v2/credentials/emulator-task-0001", {}),
        (
            await emulator("eks-pod-identity"),
            "/v1/credentials",
            {"Authorization": "emulator-eks-pod-identity-sa-token"},
        ),
        (
            await emulator("alibaba"),
            "/latest/meta-data/ram/security-credentials/emulator-ecs-ram-role",
            {},
        ),
        (await emulator("hostgaplugin"), "/vmSettings", {}),
    ]
    served = ""
    for url, path, headers in sources:
        status, body = await _get(http, url, path, **headers)
        assert status == 200, path
        served += body
    compute = json.loads(
        (
            await _get(
                http,
                everything,
                "/metadata/instance/compute?api-version=2021-02-01",
                Metadata="true",
            )
        )[1]
    )
    for encoded in (compute["userData"], compute["customData"]):
        served += base64.b64decode(encoded).decode()
    assert secrets.leaked(served) == sorted(secrets.ALL)
    assert secrets.leaked("region us-east-1, zone us-central1-a") == []
