#!/usr/bin/env python3
"""A minimal ECR GetAuthorizationToken endpoint for the benchmark, the demo and the e2e suite.

Answers every POST with a 12-hour token (or TTL_SECONDS) for the registry id
in the request and counts calls in COUNT_FILE, so a benchmark can prove its
warm runs made no API call. With --log it appends one line per call (registry
id, User-Agent product) so calls can be told apart by helper.

Usage: fake_ecr.py PORT COUNT_FILE [TTL_SECONDS] [--host ADDR] [--tls CERT KEY]
                   [--log FILE] [--moto-token]
With --tls it speaks HTTPS, so a hosts entry for api.ecr.<region>.amazonaws.com
can send a helper with no endpoint override (the Go helper) here.
--moto-token issues moto's fixed token (`<registryId>-auth-token`) instead of
one numbered per call, so a registry's password works behind either emulator.
"""
import argparse
import base64
import http.server
import json
import socket
import ssl
import threading
import time

ap = argparse.ArgumentParser()
ap.add_argument("port", type=int)
ap.add_argument("count_file")
ap.add_argument("ttl", type=float, nargs="?", default=12 * 3600)
ap.add_argument("--host", default="127.0.0.1")
ap.add_argument("--tls", nargs=2, metavar=("CERT", "KEY"))
ap.add_argument("--log")
ap.add_argument("--moto-token", action="store_true")
args = ap.parse_args()

lock = threading.Lock()
calls = 0


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def setup(self):
        # No Nagle: the header and body writes would otherwise wait out the
        # client's delayed ACK (40 ms), which a benchmark would blame on the helper.
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        # The TLS handshake runs here, in the connection's own thread, so 64
        # parallel clients are not handshaken one after another by accept().
        if isinstance(self.request, ssl.SSLSocket):
            self.request.do_handshake()
        super().setup()

    def do_POST(self):
        global calls
        body = self.rfile.read(int(self.headers.get("content-length", 0)))
        try:
            ids = json.loads(body or b"{}").get("registryIds") or ["123456789012"]
        except ValueError:
            ids = ["123456789012"]
        agent = (self.headers.get("user-agent") or "-").split(" ")[0]
        with lock:
            calls += 1
            n = calls
            with open(count_file, "w") as f:
                f.write(str(n))
            if args.log:
                with open(args.log, "a") as f:
                    f.write(f"{time.time():.3f} {ids[0]} {agent}\n")
        password = f"{ids[0]}-auth-token" if args.moto_token else f"bench-{ids[0]}-{n}"
        token = base64.b64encode(f"AWS:{password}".encode()).decode()
        out = json.dumps({"authorizationData": [{
            "authorizationToken": token,
            "expiresAt": time.time() + args.ttl,
            "proxyEndpoint": f"https://{ids[0]}.dkr.ecr.us-east-1.amazonaws.com",
        }]}).encode()
        self.send_response(200)
        self.send_header("content-type", "application/x-amz-json-1.1")
        self.send_header("content-length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    def log_message(self, *args):
        pass


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # listen() backlog: room for 64 parallel cold gets


count_file = args.count_file
server = Server((args.host, args.port), Handler)
if args.tls:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(*args.tls)
    server.socket = ctx.wrap_socket(server.socket, server_side=True, do_handshake_on_connect=False)
server.serve_forever()
