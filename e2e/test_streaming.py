"""Blob bodies stream: pushing and pulling 1 GiB keeps the server's memory flat."""

import hashlib
import http.client
import os

from conftest import Server
from registry import Registry

GIB = 1 << 30
BLOCK = os.urandom(1 << 20)


def peak_rss(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM")


def test_a_1_gib_blob_pushes_and_pulls_with_flat_memory(tmp_path):
    server = Server("--data-dir", str(tmp_path / "data"), "--auth", "none", "--log-level", "warning")
    try:
        registry = Registry(server)
        registry.create("big/blob")
        before = peak_rss(server.pid)
        location = registry.start_upload("big/blob").headers["Location"]
        expected = hashlib.sha256()
        for _ in range(GIB // len(BLOCK)):
            expected.update(BLOCK)
        digest = "sha256:" + expected.hexdigest()
        pieces = (BLOCK for _ in range(GIB // len(BLOCK)))
        r = registry.request("PATCH", location, body=pieces, chunked=True)
        assert r.status == 202 and r.headers["Range"] == f"0-{GIB - 1}"
        assert registry.request("PUT", f"{location}?digest={digest}").status == 201
        after_push = peak_rss(server.pid)
        host, port = server.authority.split(":")
        connection = http.client.HTTPConnection(host, int(port), timeout=300)
        connection.request("GET", f"/v2/big/blob/blobs/{digest}")
        response = connection.getresponse()
        assert response.status == 200 and int(response.headers["Content-Length"]) == GIB
        received = hashlib.sha256()
        total = 0
        while chunk := response.read(1 << 20):
            received.update(chunk)
            total += len(chunk)
        connection.close()
        assert total == GIB and "sha256:" + received.hexdigest() == digest
        after_pull = peak_rss(server.pid)
        print(f"peak RSS: before {before >> 20} MiB, after push {after_push >> 20} MiB, after pull {after_pull >> 20} MiB")
        # Streaming, not buffering: the peak grows by far less than the blob (1 GiB).
        assert after_push - before < 128 << 20, f"push raised peak RSS by {(after_push - before) >> 20} MiB"
        assert after_pull - before < 192 << 20, f"pull raised peak RSS by {(after_pull - before) >> 20} MiB"
    finally:
        server.kill()
