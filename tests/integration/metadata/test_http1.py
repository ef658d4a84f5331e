"""The proxy's HTTP/1.1 serving (metadata/http1.py), spoken to over raw loopback sockets.

Ordering of pipelined answers, keep-alive and close, HEAD, 100-continue, the
limits on target, headers and body, malformed requests and the idle timeout;
then the front door as an attacker sees it: smuggling and desync shapes, what
follows a refusal, HTTP versions, slow clients, connection floods, and which
client headers could reach the upstream.
"""

from __future__ import annotations

import asyncio

import pytest

from podwarden.metadata.model import ProviderName

ID = b"/computeMetadata/v1/instance/id"
KUBE_ENV = b"/computeMetadata/v1/instance/attributes/kube-env"


def get(target: bytes, *extra: bytes, version: bytes = b"1.1") -> bytes:
    lines = [b"GET " + target + b" HTTP/" + version, b"Host: x", b"Metadata-Flavor: Google"]
    return b"\r\n".join([*lines, *extra]) + b"\r\n\r\n"


async def read_response(reader: asyncio.StreamReader, *, head: bool = False) -> dict[str, object]:
    """One response: status, lower-cased headers, body (by Content-Length)."""
    status_line = await asyncio.wait_for(reader.readline(), 5)
    headers: dict[str, str] = {}
    while (line := await reader.readline()) not in (b"\r\n", b""):
        name, _, value = line.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0"))
    body = b"" if head else await reader.readexactly(length)
    return {"status": int(status_line.split()[1]), "headers": headers, "body": body}


@pytest.fixture
async def gce(emulator, start_proxy):
    return await start_proxy(ProviderName.GCE, await emulator(ProviderName.GCE))


async def connect(running):
    return await asyncio.open_connection("127.0.0.1", running.port)


async def test_pipelined_requests_are_answered_in_order(gce):
    reader, writer = await connect(gce)
    # The first is a cache miss (answered later, after an upstream fetch); the
    # refusal behind it is ready at once but must wait its turn.
    writer.write(get(ID) + get(KUBE_ENV) + get(ID) + get(b"/computeMetadata/v1/project/project-id"))
    answers = [await read_response(reader) for _ in range(4)]
    assert [a["status"] for a in answers] == [200, 403, 200, 200]
    assert answers[0]["body"] == answers[2]["body"] != b""
    assert b"concealed" in answers[1]["body"]  # type: ignore[operator]
    assert all(a["headers"]["metadata-flavor"] == "Google" for a in answers)  # type: ignore[index]
    assert "date" in answers[0]["headers"]  # type: ignore[operator]
    writer.close()


async def test_head_sends_the_length_but_no_body_and_keeps_the_connection(gce):
    reader, writer = await connect(gce)
    writer.write(get(ID) + get(ID).replace(b"GET", b"HEAD", 1) + get(ID))
    full = await read_response(reader)
    head = await read_response(reader, head=True)
    again = await read_response(reader)
    assert head["status"] == 200
    assert "content-length" in head["headers"]  # type: ignore[operator]
    assert again["body"] == full["body"] != b""  # the HEAD sent no body to misalign this
    writer.close()


async def test_http10_without_keep_alive_is_closed_after_the_answer(gce):
    reader, writer = await connect(gce)
    writer.write(get(ID, version=b"1.0"))
    answer = await read_response(reader)
    assert answer["status"] == 200
    assert answer["headers"]["connection"] == "close"  # type: ignore[index]
    assert await asyncio.wait_for(reader.read(), 5) == b""  # closed by the proxy
    writer.close()


async def test_connection_close_is_honoured(gce):
    reader, writer = await connect(gce)
    writer.write(get(ID, b"Connection: close") + get(ID))
    assert (await read_response(reader))["status"] == 200
    assert await asyncio.wait_for(reader.read(), 5) == b""  # the second request is not answered
    writer.close()


@pytest.mark.parametrize(
    ("request_bytes", "status"),
    [
        (b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 414),
        (get(ID, *[b"X-Pad-%d: %s" % (i, b"v" * 1000) for i in range(70)]), 431),
        (get(ID, *[b"X-N-%d: v" % i for i in range(200)]), 431),
        (b"GET /computeMetadata/v1/instance/id HTTP/1.1\r\nHost x\r\n\r\n", 400),
        (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 40, 400),  # a TLS hello
        (get(ID, b"Content-Length: 5", b"Transfer-Encoding: chunked"), 400),  # smuggling shape
    ],
)
async def test_requests_beyond_the_limits_or_malformed_are_refused_and_closed(
    gce, request_bytes, status
):
    reader, writer = await connect(gce)
    writer.write(request_bytes)
    answer = await read_response(reader)
    assert answer["status"] == status
    assert answer["headers"]["connection"] == "close"  # type: ignore[index]
    assert await asyncio.wait_for(reader.read(), 5) == b""
    writer.close()


async def test_expect_100_continue_is_answered_before_the_body(emulator, start_proxy):
    running = await start_proxy(ProviderName.AWS, await emulator(ProviderName.AWS))
    reader, writer = await connect(running)
    writer.write(
        b"PUT /latest/api/token HTTP/1.1\r\nHost: x\r\n"
        b"X-aws-ec2-metadata-token-ttl-seconds: 60\r\n"
        b"Content-Length: 4\r\nExpect: 100-continue\r\n\r\n"
    )
    assert await asyncio.wait_for(reader.readline(), 5) == b"HTTP/1.1 100 Continue\r\n"
    assert await reader.readline() == b"\r\n"
    writer.write(b"body")
    answer = await read_response(reader)
    assert answer["status"] in (200, 400)  # a decision on the whole request, not a hang
    writer.close()


async def test_a_declared_oversized_body_is_refused_without_reading_it(emulator, start_proxy):
    running = await start_proxy(
        ProviderName.AWS, await emulator(ProviderName.AWS), max_body_bytes=1024
    )
    reader, writer = await connect(running)
    writer.write(
        b"PUT /latest/api/token HTTP/1.1\r\nHost: x\r\n"
        b"X-aws-ec2-metadata-token-ttl-seconds: 60\r\nContent-Length: 1000000\r\n\r\n"
    )
    answer = await read_response(reader)
    assert answer["status"] == 413
    assert answer["body"] == b"request body larger than 1024 bytes\n"
    writer.close()


async def test_idle_keep_alive_connections_are_closed(emulator, start_proxy):
    running = await start_proxy(
        ProviderName.GCE, await emulator(ProviderName.GCE), idle_timeout=0.4
    )
    reader, writer = await connect(running)
    writer.write(get(ID))
    assert (await read_response(reader))["status"] == 200
    assert await asyncio.wait_for(reader.read(), 3) == b""  # closed once idle
    writer.close()


async def test_a_client_that_disconnects_mid_request_does_not_disturb_others(gce, client):
    _, writer = await connect(gce)
    writer.write(b"GET /computeMetadata/v1/instance/id HTTP/1.1\r\nHost:")
    writer.close()
    reader, writer2 = await connect(gce)
    writer2.write(get(ID))
    assert (await read_response(reader))["status"] == 200
    writer2.close()


async def test_an_upgrade_request_is_answered_plainly_then_closed(gce):
    reader, writer = await connect(gce)
    writer.write(get(ID, b"Connection: Upgrade", b"Upgrade: websocket") + get(ID))
    assert (await read_response(reader))["status"] == 200
    assert await asyncio.wait_for(reader.read(), 5) == b""  # no switch, nothing more
    writer.close()


def test_header_values_with_line_breaks_are_never_sent():
    from podwarden.metadata.replies import Reply

    reply = Reply(200, b"ok", headers=(("Location", "/a\r\nSet-Cookie: x=1"), ("ETag", "e")))
    head, body = reply.wire((("Metadata-Flavor", "Google"),))
    assert head == (
        b"HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\n"
        b"ETag: e\r\nMetadata-Flavor: Google\r\n"
    )
    assert body == b"ok"


async def test_random_garbage_never_breaks_the_server(emulator, start_proxy):
    """Mutated requests (seeded, reproducible): each gets a well-formed answer or a close."""
    import random

    running = await start_proxy(
        ProviderName.GCE, await emulator(ProviderName.GCE), idle_timeout=0.3
    )
    rng = random.Random(2026)
    base = get(ID, b"Connection: close")
    for _ in range(60):
        data = bytearray(base)
        for _ in range(rng.randint(1, 6)):
            position = rng.randrange(len(data))
            data[position : position + rng.randint(0, 3)] = rng.randbytes(rng.randint(0, 4))
        reader, writer = await connect(running)
        writer.write(bytes(data))
        reply = await asyncio.wait_for(reader.read(), 5)  # answered and closed, or timed out
        assert reply == b"" or reply.startswith(b"HTTP/1.1 "), (bytes(data), reply[:80])
        writer.close()
    reader, writer = await connect(running)
    writer.write(get(ID))
    assert (await read_response(reader))["status"] == 200  # still serving
    writer.close()


# --- the front door as an attacker sees it (request smuggling, slow clients, floods) ---


async def answers_then_close(reader: asyncio.StreamReader) -> list[dict[str, object]]:
    """Every answer until the proxy closes the connection (fails on a hang)."""
    answers = []
    while True:
        line = await asyncio.wait_for(reader.readline(), 5)
        if not line:
            break
        headers: dict[str, str] = {}
        while (header := await reader.readline()) not in (b"\r\n", b""):
            name, _, value = header.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        body = await reader.readexactly(int(headers.get("content-length", "0")))
        answers.append({"status": int(line.split()[1]), "headers": headers, "body": body})
    return answers


@pytest.mark.parametrize(
    "request_bytes",
    [
        get(ID, b"Transfer-Encoding: chunked") + b"0\r\n\r\n",  # chunked on GET
        get(b"/computeMetadata//v1/instance/id"),  # not canonical
        get(b"http://metadata.google.internal" + KUBE_ENV),  # absolute-form
        b"OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n",
        get(ID, b"Host: other"),  # a second Host
        get(ID, b"metadata-flavor: Google"),  # a second flavor header, other case
    ],
    ids=[
        "chunked-get",
        "empty-segment",
        "absolute-form",
        "options-star",
        "two-hosts",
        "two-flavors",
    ],
)
async def test_a_refused_request_closes_the_connection_so_nothing_rides_behind_it(
    gce, request_bytes
):
    reader, writer = await connect(gce)
    writer.write(request_bytes + get(KUBE_ENV) + get(ID))
    answers = await answers_then_close(reader)
    assert [a["status"] for a in answers] == [400]
    assert answers[0]["headers"]["connection"] == "close"  # type: ignore[index]
    writer.close()


@pytest.mark.parametrize(
    "request_bytes",
    [
        b"GET /computeMetadata/v1/instance/attributes/kube-env\r\n\r\n",  # HTTP/0.9
        get(ID, version=b"2.0"),
        get(ID, version=b"0.9"),
    ],
    ids=["http-0.9", "http-2.0", "http-0.9-with-version"],
)
async def test_only_http_10_and_11_are_served(gce, request_bytes):
    reader, writer = await connect(gce)
    writer.write(request_bytes)
    answers = await answers_then_close(reader)
    assert [a["status"] for a in answers] == [505]
    writer.close()


@pytest.mark.parametrize(
    "request_bytes",
    [
        get(ID, b"Content-Length: 0", b"Content-Length: 0") + get(KUBE_ENV),
        get(ID, b"Content-Length: 0", b"Content-Length: 12"),
        get(ID, b"Transfer-Encoding: identity"),
        b"PUT /x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" + b"f" * 40 + b"\r\n",
        b"GET " + ID + b" HTTP/1.1\r\nHost: x\r\nMetadata-Flavor: Goo\r\n gle\r\n\r\n",  # obs-fold
        b"GET " + ID + b" HTTP/1.1\nHost: x\nMetadata-Flavor: Google\n\n",  # bare LF
        b"GET " + ID + b" HTTP/1.1\r\nHost: x\rMetadata-Flavor: Google\r\n\r\n",  # bare CR
        get(ID, b"Metadata-Flavor : Google"),  # space before the colon
        get(ID, b"X Y: z"),  # space in a name
        get(ID, b"X-A: b\x00c"),  # NUL in a value
        b"GET " + KUBE_ENV + b"\x00 HTTP/1.1\r\nHost: x\r\n\r\n",  # NUL in the target
        b"PROXY TCP4 10.9.9.9 10.0.0.1 1 80\r\n" + get(ID),  # PROXY protocol: never honoured
        b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",  # h2 prior knowledge
        b"get " + ID + b" HTTP/1.1\r\nHost: x\r\n\r\n",
    ],
    ids=[
        "dup-cl-same",
        "dup-cl-differ",
        "te-identity",
        "huge-chunk-size",
        "obs-fold",
        "bare-lf",
        "bare-cr",
        "space-before-colon",
        "space-in-name",
        "nul-in-value",
        "nul-in-target",
        "proxy-protocol",
        "h2-preface",
        "lower-case-method",
    ],
)
async def test_smuggling_shapes_are_refused_with_400_and_closed(gce, request_bytes):
    reader, writer = await connect(gce)
    writer.write(request_bytes)
    answers = await answers_then_close(reader)
    assert [a["status"] for a in answers] == [400], answers
    writer.close()


async def test_an_h2c_upgrade_is_not_switched_and_nothing_behind_it_is_answered(gce):
    reader, writer = await connect(gce)
    upgrade = get(
        ID, b"Connection: Upgrade, HTTP2-Settings", b"Upgrade: h2c", b"HTTP2-Settings: AA"
    )
    writer.write(upgrade + get(KUBE_ENV))
    answers = await answers_then_close(reader)
    assert [a["status"] for a in answers] == [200]  # no 101, and kube-env not read
    writer.close()


async def test_a_client_sending_its_request_byte_by_byte_is_cut_off(emulator, start_proxy):
    running = await start_proxy(
        ProviderName.GCE, await emulator(ProviderName.GCE), idle_timeout=30, header_timeout=0.6
    )
    reader, writer = await connect(running)

    async def trickle() -> None:
        for byte in get(ID, *[b"X-Slow-%d: v" % i for i in range(40)]):  # ~20 s at this pace
            writer.write(bytes([byte]))
            await asyncio.sleep(0.02)  # always active, never whole

    sender = asyncio.create_task(trickle())
    try:
        started = asyncio.get_running_loop().time()
        assert await asyncio.wait_for(reader.read(), 4) == b""  # cut off, nothing answered
        assert asyncio.get_running_loop().time() - started < 2.5
    finally:
        sender.cancel()
        writer.close()


async def test_a_connection_that_never_sends_is_closed_after_the_header_timeout(
    emulator, start_proxy
):
    running = await start_proxy(
        ProviderName.GCE, await emulator(ProviderName.GCE), idle_timeout=30, header_timeout=0.4
    )
    reader, writer = await connect(running)
    assert await asyncio.wait_for(reader.read(), 3) == b""
    writer.close()


async def test_connections_beyond_the_bound_are_answered_503(emulator, start_proxy):
    running = await start_proxy(
        ProviderName.GCE, await emulator(ProviderName.GCE), max_connections=2
    )
    held = [await connect(running) for _ in range(2)]
    await asyncio.sleep(0.05)
    reader, writer = await connect(running)
    answers = await answers_then_close(reader)
    assert [a["status"] for a in answers] == [503]
    writer.close()
    for held_reader, held_writer in held:
        held_writer.write(get(ID))
        assert (await read_response(held_reader))["status"] == 200  # the held ones still work
        held_writer.close()
    await asyncio.sleep(0.05)
    reader, writer = await connect(running)  # a freed slot is usable again
    writer.write(get(ID))
    assert (await read_response(reader))["status"] == 200
    writer.close()


async def test_one_client_cannot_hold_every_connection(emulator, start_proxy):
    running = await start_proxy(
        ProviderName.GCE, await emulator(ProviderName.GCE), max_connections_per_client=2
    )
    held = [await asyncio.open_connection("127.0.0.1", running.port) for _ in range(2)]
    await asyncio.sleep(0.05)
    reader, writer = await asyncio.open_connection("127.0.0.1", running.port)
    assert [a["status"] for a in await answers_then_close(reader)] == [503]
    writer.close()
    # Another address (127.0.0.2 is loopback too) is still served.
    reader, writer = await asyncio.open_connection(
        "127.0.0.1", running.port, local_addr=("127.0.0.2", 0)
    )
    writer.write(get(ID))
    assert (await read_response(reader))["status"] == 200
    writer.close()
    for _, held_writer in held:
        held_writer.close()


async def test_a_half_closed_client_still_gets_its_answers(gce):
    reader, writer = await connect(gce)
    writer.write(get(ID) + get(b"/computeMetadata/v1/project/project-id"))
    writer.write_eof()  # like `printf ... | nc -N`
    answers = await answers_then_close(reader)
    assert [a["status"] for a in answers] == [200, 200]
    writer.close()


async def test_no_client_header_reaches_the_upstream(emulator, start_proxy, relay):
    upstream = await relay(await emulator(ProviderName.GCE))
    running = await start_proxy(ProviderName.GCE, f"http://127.0.0.1:{upstream.port}")
    reader, writer = await connect(running)
    writer.write(
        get(
            ID,
            b"Forwarded: for=10.9.9.9",
            b"X-Real-IP: 10.9.9.9",
            b"True-Client-IP: 10.9.9.9",
            b"X-Client-IP: 10.9.9.9",
            b"Via: 1.1 evil",
            b"Authorization: Bearer pod",
            b"X-Aws-Ec2-Metadata-Token: pod",
            b"Cookie: a=b",
        )
    )
    assert (await read_response(reader))["status"] == 200
    writer.close()
    [(method, target, headers)] = upstream.seen
    assert (method, target) == ("GET", ID.decode())
    assert sorted(headers.items()) == [("Metadata-Flavor", "Google")]


@pytest.mark.parametrize("spelling", [b"x-forwarded-for", b"X-FORWARDED-FOR", b"x-Forwarded-For"])
async def test_x_forwarded_for_in_any_case_is_refused(gce, spelling):
    reader, writer = await connect(gce)
    writer.write(get(ID, spelling + b": 10.9.9.9"))
    assert (await read_response(reader))["status"] == 403
    writer.close()


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("header_timeout", 0, "header_timeout: must be > 0, got 0"),
        ("max_connections", 0, "max_connections: must be >= 1, got 0"),
        ("max_connections_per_client", 0, "max_connections_per_client: must be >= 1, got 0"),
    ],
)
def test_front_door_settings_are_validated(field, value, message):
    from podwarden.config import ConfigError
    from podwarden.metadata.settings import ProxySettings

    with pytest.raises(ConfigError, match=message):
        ProxySettings(
            provider=ProviderName.GCE, upstream_url="http://127.0.0.1:1", **{field: value}
        )


@pytest.mark.parametrize(
    ("payload", "status"),
    [
        (b"GET /a b c HTTP/1.1\r\nHost: x\r\n\r\n", 400),  # not a request line llhttp accepts
        (b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 414),
    ],
    ids=["malformed", "target-too-long"],
)
async def test_refusals_of_the_http_layer_carry_provider_headers_and_are_logged(
    gce, log_lines, payload, status
):
    """Every GCE answer carries Metadata-Flavor, and every request gets a log line and a count,
    including the ones refused before they could be parsed."""
    reader, writer = await connect(gce)
    writer.write(payload)
    answer = await read_response(reader)
    writer.close()
    assert answer["status"] == status
    assert answer["headers"]["metadata-flavor"] == "Google"  # type: ignore[index]
    lines = [r for r in log_lines.requests() if r["rule"] == f"http.{status}"]
    assert len(lines) == 1
    assert (lines[0]["client"], lines[0]["decision"], lines[0]["status"]) == (
        "127.0.0.1",
        "deny",
        status,
    )
    scraped = gce._handler._metrics.render().decode()
    assert f'decision="deny",provider="gce",rule="http.{status}"}} 1.0' in scraped
