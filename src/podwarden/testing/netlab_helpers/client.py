"""HTTP/DNS client run inside a pod (or node) namespace by the netfilter tests.

`once URL [TIMEOUT [SOURCE]]` prints one JSON outcome (SOURCE: the local
address to connect from, e.g. a metadata address the cloud namespace owns);
`loop URL SECONDS` requests back to back for a bounded time and prints the
outcome counts; `dns HOST` sends one query.
Outcomes: ok (status + body), refused (TCP reset), timeout, error.
"""

from __future__ import annotations

import json
import os
import socket
import sys
import time
from urllib.parse import urlsplit


def get(url: str, timeout: float, source: str = "") -> dict[str, object]:
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or 80
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    started = time.perf_counter()
    try:
        with socket.socket(family, socket.SOCK_STREAM) as sock:
            sock.settimeout(timeout)
            if source:
                sock.bind((source, 0))
            sock.connect((host, port))
            request = (
                f"GET {parts.path or '/'} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
            )
            sock.sendall(request.encode())
            chunks = []
            while chunk := sock.recv(65536):
                chunks.append(chunk)
        raw = b"".join(chunks).decode(errors="replace")
        head, _, body = raw.partition("\r\n\r\n")
        status = int(head.split()[1]) if head else 0
        outcome: dict[str, object] = {"outcome": "ok", "status": status, "body": body}
    except ConnectionRefusedError:
        outcome = {"outcome": "refused"}
    except ConnectionResetError:
        outcome = {"outcome": "refused"}
    except TimeoutError:
        outcome = {"outcome": "timeout"}
    except OSError as exc:
        outcome = {"outcome": "error", "error": str(exc)}
    outcome["ms"] = (time.perf_counter() - started) * 1000
    return outcome


def dns(host: str) -> dict[str, object]:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    query = (
        b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00"
        + b"\x07example\x03com\x00\x00\x01\x00\x01"
    )
    with socket.socket(family, socket.SOCK_DGRAM) as sock:
        sock.settimeout(2)
        sock.sendto(query, (host, 53))
        try:
            data, _ = sock.recvfrom(512)
        except TimeoutError:
            return {"outcome": "timeout"}
    return {"outcome": "ok", "id_matches": data[:2] == b"\x12\x34", "qr": bool(data[2] & 0x80)}


def main() -> None:
    mode = sys.argv[1]
    if mode == "once":
        timeout = float(sys.argv[3]) if len(sys.argv) > 3 else 2.0
        source = sys.argv[4] if len(sys.argv) > 4 else ""
        print(json.dumps(get(sys.argv[2], timeout, source)))
    elif mode == "loop":
        url, seconds = sys.argv[2], float(sys.argv[3])
        counts: dict[str, int] = {}
        deadline = time.monotonic() + seconds
        stop_file = sys.argv[4] if len(sys.argv) > 4 else ""
        while time.monotonic() < deadline:
            result = get(url, 1.0)
            key = str(result["outcome"])
            counts[key] = counts.get(key, 0) + 1
            if len(sys.argv) > 5 and key != "ok":
                print(f"{key} {time.time() - float(str(result['ms'])) / 1000:.3f}", file=sys.stderr)
            if key != "ok":
                time.sleep(0.005)
            if stop_file and os.path.exists(stop_file):
                break
        print(json.dumps(counts), flush=True)
    elif mode == "wait":  # until URL answers 200 (bounded); prints seconds waited
        url, seconds = sys.argv[2], float(sys.argv[3])
        started = time.monotonic()
        while time.monotonic() - started < seconds:
            if get(url, 0.5).get("status") == 200:
                print(json.dumps({"outcome": "ok", "waited": time.monotonic() - started}))
                return
            time.sleep(0.02)
        print(json.dumps({"outcome": "timeout"}))
    elif mode == "hold":  # connect now, print ready, send a request after SECONDS
        parts = urlsplit(sys.argv[2])
        sock = socket.create_connection((parts.hostname or "", parts.port or 80), timeout=2)
        print("ready", flush=True)
        time.sleep(float(sys.argv[3]))
        try:
            sock.sendall(b"GET /late HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            data = sock.recv(65536)
            print(json.dumps({"outcome": "ok" if data else "closed", "body": data.decode()}))
        except (ConnectionResetError, BrokenPipeError):
            print(json.dumps({"outcome": "refused"}))
        except TimeoutError:
            print(json.dumps({"outcome": "timeout"}))
    elif mode == "latency":  # N sequential GETs; prints sorted latencies in ms
        url, count = sys.argv[2], int(sys.argv[3])
        samples = [float(get(url, 2.0)["ms"]) for _ in range(count)]  # type: ignore[arg-type]
        print(json.dumps(sorted(samples)))
    elif mode == "dns":
        print(json.dumps(dns(sys.argv[2])))


if __name__ == "__main__":
    main()
