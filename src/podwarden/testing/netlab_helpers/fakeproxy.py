"""A stand-in proxy for rule-only tests: answers `PROXY <path>` on HOST:PORT."""

from __future__ import annotations

import socket
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = f"PROXY {self.path}".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


class V6Server(ThreadingHTTPServer):
    address_family = socket.AF_INET6


def main() -> None:
    host, port = sys.argv[1].rsplit(":", 1)
    host = host.strip("[]")
    server_class = V6Server if ":" in host else ThreadingHTTPServer
    server = server_class((host, int(port)), Handler)
    print("ready", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
