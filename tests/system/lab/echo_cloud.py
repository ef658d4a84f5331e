"""A trivial stand-in for the cloud host: answers every request with the address it was sent to.

Used to test the lab's topology on its own (routes, addresses, DNAT) without the
emulator: the reply says which local address and port accepted the connection.
"""

from __future__ import annotations

import socket
import socketserver
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        host, port = self.connection.getsockname()[:2]
        body = f"echo-cloud {host} {port} {self.path} from {self.client_address[0]}\n".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        return


class _Server(ThreadingHTTPServer):
    def server_bind(self) -> None:
        # HTTPServer.server_bind resolves the host name (getfqdn), which stalls
        # for seconds in a namespace without DNS: bind the plain TCP way instead.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = "lab", self.server_address[1]


class _Server6(_Server):
    address_family = socket.AF_INET6

    def server_bind(self) -> None:
        self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        super().server_bind()


def main() -> None:
    servers: list[_Server] = []
    for spec in sys.argv[1:]:
        host, _, port = spec.rpartition(":")
        host = host.strip("[]")
        cls = _Server6 if ":" in host else _Server
        servers.append(cls((host, int(port)), _Handler))
    for server in servers[1:]:
        threading.Thread(target=server.serve_forever, daemon=True).start()
    servers[0].serve_forever()


if __name__ == "__main__":
    main()
