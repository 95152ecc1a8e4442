#!/usr/bin/env python3
"""A minimal ECR GetAuthorizationToken endpoint for benchmarks and demos.

Answers every POST with a 12-hour token (or TTL_SECONDS) for the registry
id in the request and counts calls in COUNT_FILE, so a benchmark can prove
its warm runs made no API call, and scripts/fleet_model.py can count calls.
Usage: fake_ecr.py PORT COUNT_FILE [TTL_SECONDS]
"""
import base64
import http.server
import json
import sys
import threading
import time

port, count_file = int(sys.argv[1]), sys.argv[2]
ttl = float(sys.argv[3]) if len(sys.argv) > 3 else 12 * 3600
calls = 0
lock = threading.Lock()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):
        global calls
        body = self.rfile.read(int(self.headers.get("content-length", 0)))
        with lock:
            calls += 1
            n = calls
            with open(count_file, "w") as f:
                f.write(str(n))
        try:
            ids = json.loads(body or b"{}").get("registryIds") or ["123456789012"]
        except ValueError:
            ids = ["123456789012"]
        token = base64.b64encode(f"AWS:bench-{ids[0]}-{n}".encode()).decode()
        out = json.dumps({"authorizationData": [{
            "authorizationToken": token,
            "expiresAt": time.time() + ttl,
            "proxyEndpoint": f"https://{ids[0]}.dkr.ecr.us-east-1.amazonaws.com",
        }]}).encode()
        self.send_response(200)
        self.send_header("content-type", "application/x-amz-json-1.1")
        self.send_header("content-length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    def log_message(self, *args):
        pass


http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()
