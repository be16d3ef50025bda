#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
# host_fake_gpuvisord.py SOCKET LOG: a stand-in for gpuvisord's /v1/host routes, for the test of
# `gpuvisor host` in daemon mode (tests/cli/host_test.sh daemon): what the CLI sends and how it
# shows the answers, not what the daemon does (the daemon's own tests do that). It answers in the
# API's forms (docs/api.md) and writes each request it got (method, path, body) as one JSON line
# to LOG. Paths or bodies that contain "refuse" answer 409, "badtype" 400; ?dry_run=1 answers the
# plan of two writes.
import http.server
import json
import socketserver
import sys

SOCK, LOG = sys.argv[1], sys.argv[2]

GPU = {"pci": "0000:41:00.0", "vendor": "0x10de", "device": "0x1eb8", "subsystem_vendor": "0x10de",
       "subsystem_device": "0x12a2", "class": "0x030200", "model": "Tesla T4", "driver": "nvidia",
       "iommu_group": 12,
       "group": [{"pci": "0000:41:00.1", "vendor": "0x10de", "device": "0x10fa",
                  "class": "0x040300", "driver": "snd_hda_intel", "role": "function"}],
       "mode": "host",
       "vgpu": {"mdev_types": 2, "mdevs": 0, "sriov_total": 0, "sriov_vfs": 0, "sriov_vgpus": 0}}
TYPE = {"id": "nvidia-222", "name": "GRID T4-1Q", "description": "", "framebuffer": 1 << 30,
        "available": 16, "kind": "mdev"}
PT = {"pci": "0000:41:00.0", "iommu_group": 12,
      "functions": [{"pci": "0000:41:00.0", "driver": "nvidia"},
                    {"pci": "0000:41:00.1", "driver": "snd_hda_intel"}]}
UUID = "c2177883-f1bb-47f0-914d-32a22e3a8804"
VGPU = {"id": UUID, "parent": "0000:41:00.0", "type": "nvidia-222", "type_name": "GRID T4-1Q",
        "kind": "mdev", "start": "auto"}
XML = ("<hostdev mode='subsystem' type='mdev' model='vfio-pci' display='off'>\n"
       "  <source><address uuid='%s'/></source>\n</hostdev>\n" % UUID)


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def answer(self, status, doc):
        body = json.dumps(doc).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def route(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n).decode() if n else None
        with open(LOG, "a") as f:
            f.write(json.dumps({"method": self.command, "path": self.path,
                                "body": json.loads(body) if body else None}) + "\n")
        p, m = self.path, self.command
        if "refuse" in p or "refuse" in (body or ""):
            return self.answer(409, {"error": "0000:41:00.0 is in use: process 4242 (python3) "
                                              "has /dev/nvidia0 open; stop it first"})
        if "badtype" in (body or ""):
            return self.answer(400, {"error": "0000:41:00.0 does not offer vGPU type \"badtype\""})
        if p.endswith("?dry_run=1"):
            return self.answer(200, {"dry_run": True, "writes": [
                {"path": "/sys/bus/pci/devices/0000:41:00.0/driver_override", "value": "vfio-pci"},
                {"path": "/sys/bus/pci/devices/0000:41:00.0/driver/unbind", "value": ""}],
                "notes": ["and the definition /etc/mdevctl.d/0000:41:00.0/x"]})
        if p == "/v1/host/gpus" and m == "GET":
            return self.answer(200, {"gpus": [GPU]})
        if p == "/v1/host/gpus/0000%3A41%3A00.0/types" and m == "GET":
            return self.answer(200, {"types": [TYPE]})
        if p == "/v1/host/passthrough" and m == "POST":
            return self.answer(201, PT)
        if p.startswith("/v1/host/passthrough/") and m == "DELETE":
            return self.answer(200, {"released": "0000:41:00.0"})
        if p == "/v1/host/vgpus" and m == "POST":
            return self.answer(201, VGPU)
        if p.startswith("/v1/host/vgpus/") and m == "DELETE":
            return self.answer(200, {"removed": p.rsplit("/", 1)[1]})
        if p.startswith("/v1/host/xml/") and m == "GET":
            return self.answer(200, {"xml": XML})
        if p == "/v1/host/apply" and m == "POST":
            return self.answer(200, {"done": 1, "already": 2, "failed": 0,
                                     "report": "0000:41:00.0: bound to vfio-pci\n"})
        return self.answer(404, {"error": "no route %s %s" % (m, p)})

    do_GET = do_POST = do_DELETE = route


class UnixServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True

    def get_request(self):
        conn, _ = super().get_request()
        return conn, ("local", 0)


UnixServer(SOCK, Handler).serve_forever()
