#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
# fake_gpuvisord.py SOCKET|tcp LOG: a stand-in for gpuvisord's REST API, for the CLI's tests that
# are about the client, not the daemon: it answers every route from the JSON fixtures next to this
# file and writes each request it got (method, path, Authorization, Content-Type, body) as one JSON
# line to LOG, so a test can check what the CLI sent. Listens on the unix socket SOCKET, or with
# "tcp" on 127.0.0.1 at a free port, which it writes to LOG.port. Requests whose path or body
# contains "refuse" answer 409 with an error, "garbage" 200 with a body that is not JSON; /v1/instances/ids
# of the fixtures answer the instance, others 404.
import http.server
import json
import os
import socketserver
import sys

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures")
SOCK, LOG = sys.argv[1], sys.argv[2]


def fixture(name):
    with open(os.path.join(HERE, name)) as f:
        return json.load(f)


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def answer(self, status, doc=None, raw=None):
        body = raw if raw is not None else (json.dumps(doc).encode() if doc is not None else b"")
        self.send_response(status)
        if body:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def route(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n).decode() if n else None
        with open(LOG, "a") as f:
            f.write(json.dumps({"method": self.command, "path": self.path,
                                "auth": self.headers.get("Authorization"),
                                "type": self.headers.get("Content-Type"),
                                "body": json.loads(body) if body else None}) + "\n")
        p, m = self.path, self.command
        if "refuse" in p or "refuse" in (body or ""):
            return self.answer(409, {"error": "GPU 0 has 2 GiB of memory left, 4 GiB asked"})
        if "garbage" in p:
            return self.answer(200, raw=b"<html>not json</html>")
        if os.environ.get("FAKE_NEED_TOKEN") and not self.headers.get("Authorization"):
            return self.answer(401, {"error": "missing token"})
        if m == "DELETE":
            return self.answer(204)
        if p == "/v1/gpus":
            return self.answer(200, fixture("gpus.json"))
        if p.startswith("/v1/gpus/"):
            return self.answer(200, fixture("gpu.json"))
        if p == "/v1/profiles":
            return self.answer(200, fixture("profiles.json"))
        if p.startswith("/v1/instances") and m == "GET" and p.count("/") == 2:
            return self.answer(200, fixture("instances.json"))
        if p.startswith("/v1/instances/"):
            inst = fixture("instance.json")
            key = p.rsplit("/", 1)[1]
            if key not in (inst["id"], inst["name"]):
                return self.answer(404, {"error": "no instance \"%s\"" % key})
            return self.answer(201 if m == "POST" else 200, inst)
        if p == "/v1/instances" and m == "POST":
            return self.answer(201, fixture("instance.json"))
        if p.startswith("/v1/tenants") and (m == "POST" or p.endswith("/token")):
            return self.answer(201, fixture("tenant_token.json"))
        if p.startswith("/v1/tenants"):
            return self.answer(200, fixture("tenants.json"))
        if p.startswith("/v1/events"):
            return self.answer(200, fixture("events.json"))
        return self.answer(404, {"error": "no route %s" % p})

    do_GET = do_POST = do_PATCH = do_DELETE = route


class UnixServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True

    def get_request(self):
        conn, _ = super().get_request()
        return conn, ("local", 0)


class TCPServer(socketserver.ThreadingMixIn, socketserver.TCPServer):
    daemon_threads = True


if SOCK == "tcp":
    srv = TCPServer(("127.0.0.1", 0), Handler)
    with open(LOG + ".port.tmp", "w") as f:
        f.write(str(srv.server_address[1]))
    os.rename(LOG + ".port.tmp", LOG + ".port")
else:
    srv = UnixServer(SOCK, Handler)
srv.serve_forever()
