"""HTTP/DNS client run inside a pod (or node) namespace by the netfilter tests.

`once URL` prints one JSON outcome; `loop URL SECONDS` requests back to back
for a bounded time and prints the outcome counts; `dns HOST` sends one query.
Outcomes: ok (status + body), refused (TCP reset), timeout, error.
"""

from __future__ import annotations

import json
import socket
import sys
import time
from urllib.parse import urlsplit


def get(url: str, timeout: float) -> dict[str, object]:
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or 80
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    started = time.perf_counter()
    try:
        with socket.socket(family, socket.SOCK_STREAM) as sock:
            sock.settimeout(timeout)
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
        print(json.dumps(get(sys.argv[2], timeout)))
    elif mode == "loop":
        url, seconds = sys.argv[2], float(sys.argv[3])
        counts: dict[str, int] = {}
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            result = get(url, 1.0)
            key = str(result["outcome"])
            counts[key] = counts.get(key, 0) + 1
            if key != "ok":
                time.sleep(0.005)
        print(json.dumps(counts))
    elif mode == "dns":
        print(json.dumps(dns(sys.argv[2])))


if __name__ == "__main__":
    main()
