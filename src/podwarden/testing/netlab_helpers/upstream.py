"""The fake cloud host of the netfilter tests: HTTP on the metadata ports, DNS on 53.

Runs inside the test's cloud namespace (which owns the metadata addresses).
Every HTTP request's client address is appended to the log file, so a test
can count requests that arrived from pod addresses (a leak) — there must be
none. The HTTP answer is `UPSTREAM <path>`; IMDSv2 token PUTs get a token so
the real proxy can use this host as its upstream.
"""

from __future__ import annotations

import argparse
import socket
import socketserver
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Handler(BaseHTTPRequestHandler):
    log_path = ""
    lock = threading.Lock()

    def _record(self) -> None:
        with self.lock, open(self.log_path, "a") as log:
            log.write(f"{self.client_address[0]} {self.command} {self.path} {time.time():.6f}\n")

    def do_GET(self) -> None:
        self._record()
        body = f"UPSTREAM {self.path}".encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_PUT(self) -> None:
        self._record()
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        body = b"upstream-token"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-aws-ec2-metadata-token-ttl-seconds", "21600")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


class V6Server(ThreadingHTTPServer):
    address_family = socket.AF_INET6

    def server_bind(self) -> None:
        self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        super().server_bind()


class DnsHandler(socketserver.BaseRequestHandler):
    """Answers any query with its own question and the QR bit set (enough to prove reach)."""

    def handle(self) -> None:
        data, sock = self.request
        if len(data) >= 12:
            reply = data[:2] + bytes([data[2] | 0x80, data[3]]) + data[4:]
            sock.sendto(reply, self.client_address)


class V6Udp(socketserver.ThreadingUDPServer):
    address_family = socket.AF_INET6


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--log", required=True)
    parser.add_argument("--ports", default="80,8080,32526")
    args = parser.parse_args()
    Handler.log_path = args.log
    servers: list[socketserver.BaseServer] = []
    for port in (int(p) for p in args.ports.split(",")):
        servers.append(ThreadingHTTPServer(("0.0.0.0", port), Handler))
        servers.append(V6Server(("::", port), Handler))
    servers.append(socketserver.ThreadingUDPServer(("0.0.0.0", 53), DnsHandler))
    for server in servers:
        threading.Thread(target=server.serve_forever, daemon=True).start()
    print("ready", flush=True)
    threading.Event().wait()


if __name__ == "__main__":
    main()
