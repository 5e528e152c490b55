#!/usr/bin/env python3
"""`make bench`: Stowage side by side with the reference registry (CNCF distribution, Debian's
docker-registry) and moto, in one run, on loopback.

Every server is started here and stopped by its pid. For each phase the table shows wall-clock
figures and each server's own CPU time (from /proc/<pid>/stat), which stays meaningful on a shared
machine where wall time does not. It is a benchmark: it never fails for being slow.
"""

import argparse
import hashlib
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TICK = os.sysconf("SC_CLK_TCK")
MIB = 1 << 20


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(port, path="/", timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            c.request("GET", path)
            c.getresponse().read()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing answers on port {port}")


class Server:
    def __init__(self, name, args, port, ready_path="/", env=None):
        self.name, self.port = name, port
        self.process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
        wait_for(port, ready_path)

    def cpu(self):
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / TICK

    def wait_idle(self, timeout=60):
        """Returns once the server used no CPU for half a second (or after `timeout` seconds)."""
        deadline = time.monotonic() + timeout
        last = self.cpu()
        while time.monotonic() < deadline:
            time.sleep(0.5)
            now = self.cpu()
            if now == last:
                return
            last = now

    def rss_mib(self, field="VmRSS"):
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
        return 0.0

    def stop(self):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


class Client:
    """Keep-alive HTTP against one server (one per thread)."""

    def __init__(self, port):
        self.port = port
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=600)

    def call(self, method, path, body=None, headers=None):
        self.connection.request(method, path, body=body, headers=headers or {})
        response = self.connection.getresponse()
        data = response.read()
        return response.status, response.headers, data

    def push_blob(self, repo, data, digest=None):
        digest = digest or "sha256:" + hashlib.sha256(data).hexdigest()
        status, headers, _ = self.call("POST", f"/v2/{repo}/blobs/uploads/")
        assert status == 202, status
        location = headers["Location"]
        sep = "&" if "?" in location else "?"
        status, _, _ = self.call("PUT", f"{location}{sep}digest={digest}", body=data, headers={"Content-Length": str(len(data))})
        assert status == 201, status
        return digest

    def push_chunked(self, repo, data, chunk):
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        status, headers, _ = self.call("POST", f"/v2/{repo}/blobs/uploads/")
        location = headers["Location"]
        for start in range(0, len(data), chunk):
            piece = data[start:start + chunk]
            status, headers, _ = self.call("PATCH", location, body=piece, headers={
                "Content-Range": f"{start}-{start + len(piece) - 1}", "Content-Length": str(len(piece))})
            assert status == 202, status
            location = headers["Location"]
        sep = "&" if "?" in location else "?"
        assert self.call("PUT", f"{location}{sep}digest={digest}")[0] == 201
        return digest

    def push_manifest(self, repo, tag, config, layers):
        manifest = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                               "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config[0], "size": config[1]},
                               "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": d, "size": n} for d, n in layers]}).encode()
        status, _, _ = self.call("PUT", f"/v2/{repo}/manifests/{tag}", body=manifest,
                                 headers={"Content-Type": "application/vnd.oci.image.manifest.v1+json"})
        assert status == 201, status
        return manifest


def location_url(port, location):
    return location if location.startswith("http") else f"http://127.0.0.1:{port}{location}"


def with_query(url, query):
    return f"{url}{'&' if '?' in url else '?'}{query}"


class Bench:
    def __init__(self, args):
        self.args = args
        self.rows = []
        self.measured = {}
        self.work = Path(tempfile.mkdtemp(prefix="stowage-bench-"))
        self.servers = {}
        self.binary = ROOT / ".build" / "release" / "stowage"
        self.tool = ROOT / ".build" / "release" / "stowage-bench"

    def start_stowage(self, name, data_dir, ready="/v2/", log_level="warning"):
        """Stowage on its defaults (`--fsync always`), or with `data_dir` None all in memory (`--ephemeral`)."""
        port = free_port()
        storage = ["--data-dir", str(data_dir)] if data_dir else ["--ephemeral"]
        self.servers[name] = Server(name, [str(self.binary), "serve", "--port", str(port), *storage,
                                           "--auth", "none", "--create-on-push", "--log-level", log_level], port, ready)
        return self.servers[name]

    def start_registry(self, name, storage):
        port = free_port()
        config = self.work / f"{name}.yml"
        config.write_text(f"version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n{storage}  delete:\n"
                          f"    enabled: true\nhttp:\n  addr: 127.0.0.1:{port}\n")
        self.servers[name] = Server(name, ["docker-registry", "serve", str(config)], port, "/v2/")
        return self.servers[name]

    def start(self):
        self.start_stowage("stowage", self.work / "stowage")
        # In memory, as a test suite may run it: the like of registry-mem and moto, which keep nothing.
        self.start_stowage("stowage-mem", None)
        self.start_stowage("stowage-logged", None, log_level="info")
        self.start_registry("registry", f"  filesystem:\n    rootdirectory: {self.work / 'registry'}\n")
        self.start_registry("registry-mem", "  inmemory:\n")
        port = free_port()
        self.servers["moto"] = Server("moto", ["moto_server", "-p", str(port)], port, "/moto-api/")
        # The limit: Hummingbird answering the same request shapes from empty handlers.
        port = free_port()
        self.servers["limit"] = Server("limit", [str(self.tool), "empty", "--port", str(port)], port, "/v2/")

    def stop(self):
        for server in self.servers.values():
            server.stop()
        self.servers.clear()
        shutil.rmtree(self.work, ignore_errors=True)

    def wanted(self, name):
        return not self.args.only or any(word in name for word in self.args.only.split(","))

    def measure(self, server, work):
        """Runs `work` against `server`: (wall seconds, server CPU seconds, units of work)."""
        # Written-back before, not during: otherwise a server pays for the last one's dirty pages.
        os.sync()
        s = self.servers[server]
        cpu, start = s.cpu(), time.perf_counter()
        units = work()
        return time.perf_counter() - start, s.cpu() - cpu, units

    def compare(self, name, unit, work, peer="registry", per=None, servers=None, reuse=None):
        """Runs `work(server)` against Stowage and a peer; records throughput and server CPU per unit.

        With `reuse`, a server's measurement under that key is taken from an earlier call instead of
        running the work again (a peer compared with both Stowage modes runs once).
        """
        if not self.wanted(name):
            return
        results = {}
        for server in servers or ("stowage", peer):
            if reuse and (reuse, server) in self.measured:
                results[server] = self.measured[(reuse, server)]
                continue
            results[server] = self.measure(server, lambda: work(server))
            if reuse:
                self.measured[(reuse, server)] = results[server]
        (sw, sc, su), (pw, pc, pu) = results[servers[0] if servers else "stowage"], results[servers[1] if servers else peer]
        rate = lambda u, w: u / w if w else 0.0
        label = peer if not servers else servers[1]
        self.add(f"{name}: {unit}/s", rate(su, sw), rate(pu, pw), label)
        self.add(f"{name}: server CPU ms per {per or unit}", 1000 * sc / su if su else 0, 1000 * pc / pu if pu else 0,
                 label, lower=True)

    def add(self, metric, stowage, peer, peer_name="", lower=False):
        ratio = (peer / stowage if lower else stowage / peer) if stowage and peer else None
        self.rows.append({"metric": metric, "stowage": stowage, "peer": peer, "peer_name": peer_name, "ratio": ratio,
                          "better": "lower" if lower else "higher"})
        print(f"  {metric}: stowage {stowage:.3f}  {peer_name} {peer if peer is not None else 0:.3f}"
              + (f"  ({ratio:.2f}x)" if ratio else ""), flush=True)

    # Work

    def curl(self, args):
        """Runs curl with one `-w` line per transfer; returns the (status, bytes) of each."""
        out = subprocess.run(["curl", "-s", "-H", "Expect:", "-w", "%{http_code} %{size_download}\n"] + args,
                             capture_output=True, text=True, check=True).stdout
        return [tuple(int(x) for x in line.split()) for line in out.splitlines() if line.strip()]

    def blob_files(self, label, size, count):
        """`count` files of random bytes (two sets: POST+PUT and single POST), with their digests."""
        sets = []
        for kind in ("put", "post"):
            files = []
            for i in range(count):
                path = self.work / f"blob-{label}-{kind}-{i}"
                digest = hashlib.sha256()
                with open(path, "wb") as f:
                    left = size
                    while left:
                        piece = os.urandom(min(left, 64 * MIB))
                        digest.update(piece)
                        f.write(piece)
                        left -= len(piece)
                files.append((path, "sha256:" + digest.hexdigest()))
            sets.append(files)
        return sets

    def blobs(self):
        sizes = [("1 MiB", MIB, 32), ("64 MiB", 64 * MIB, 4)] + ([("1 GiB", 1 << 30, 1)] if not self.args.quick else [])
        for label, size, count in sizes:
            names = [f"push {label} (POST+PUT)", f"push {label} (single POST ?digest=)", f"pull {label}"]
            if not any(self.wanted(n) for n in names):
                continue
            put_files, post_files = self.blob_files(label.replace(" ", ""), size, count)
            mib = size * count / MIB

            def push_put(server):
                port = self.servers[server].port
                client = Client(port)
                args = []
                for path, digest in put_files:
                    status, headers, _ = client.call("POST", f"/v2/blobs/{server}/blobs/uploads/")
                    assert status == 202, status
                    args += ["-T", str(path), "-o", "/dev/null",
                             with_query(location_url(port, headers["Location"]), f"digest={digest}")]
                assert all(status == 201 for status, _ in self.curl(args))
                return mib

            def push_post(server):
                port = self.servers[server].port
                args = ["-X", "POST"]
                for path, digest in post_files:
                    # No trailing slash: curl -T appends the file's name to a URL that ends in one.
                    args += ["-T", str(path), "-o", "/dev/null",
                             f"http://127.0.0.1:{port}/v2/blobs/{server}/blobs/uploads?digest={digest}"]
                assert all(status == 201 for status, _ in self.curl(args))
                return mib

            # Small pulls are repeated to at least 256 MiB: CPU time is read in 10 ms ticks.
            repeat = max(1, (256 * MIB) // (size * count))

            def pull(server):
                port = self.servers[server].port
                args = []
                for _ in range(repeat):
                    for _, digest in put_files:
                        args += ["-o", "/dev/null", f"http://127.0.0.1:{port}/v2/blobs/{server}/blobs/{digest}"]
                assert all(status == 200 and n == size for status, n in self.curl(args))
                return mib * repeat

            self.compare(names[0], "MiB", push_put, per="MiB", reuse=names[0])
            if (names[0], "stowage") in self.measured:
                # The least storing these bytes costs here: sha256 in one core, a write and an fsync.
                out = subprocess.run([str(self.tool), "limit-push", str(self.work), *[str(p) for p, _ in put_files]],
                                     capture_output=True, text=True, check=True).stdout.split()
                wall, cpu, units = self.measured[(names[0], "stowage")]
                self.add(f"{names[0]} against the limit (sha256 in one core + write + fsync of the same bytes): "
                         "CPU ms per MiB", 1000 * cpu / units, 1000 * float(out[0]) / mib, "limit", lower=True)
            if not self.wanted(names[0]):
                for server in ("stowage", "registry"):
                    push_put(server)  # the pulls need them
            if self.wanted(names[1]):
                # docker-registry 2.8 answers 404 BLOB_UPLOAD_INVALID: the spec's single POST is optional.
                wall, cpu, units = self.measure("stowage", lambda: push_post("stowage"))
                self.add(f"{names[1]}: MiB/s", units / wall, None, "registry: unsupported")
                self.add(f"{names[1]}: server CPU ms per MiB", 1000 * cpu / units, None, "registry: unsupported")
            self.compare(names[2], "MiB", pull, per="MiB")
            if size >= 64 * MIB:
                # curl is the bottleneck of the pull rows on 2 cores; this reader discards in the kernel.
                def pull_own(server):
                    port = self.servers[server].port
                    out = subprocess.run([str(self.tool), "load", "--port", str(port), "--method", "GET", "--path",
                                          f"/v2/blobs/{server}/blobs/{put_files[0][1]}", "--connections", "2",
                                          "--seconds", "3" if self.args.quick else "8"],
                                         capture_output=True, text=True, check=True).stdout.split()
                    assert out[3] == "0", f"{out[3]} failed requests"
                    return int(out[1]) * size / MIB
                self.compare(f"pull {label}, 2 connections, a reader that discards in the kernel (recv MSG_TRUNC)",
                             "MiB", pull_own, per="MiB")
            for path, _ in put_files + post_files:
                path.unlink()

        total = (64 if self.args.quick else 256) * MIB
        names = [f"chunked push {total // MIB} MiB in 8 MiB PATCHes", "1 MiB Range GETs"]
        if not any(self.wanted(n) for n in names):
            return
        chunked = os.urandom(total)
        digest = "sha256:" + hashlib.sha256(chunked).hexdigest()

        def push_chunked(server):
            Client(self.servers[server].port).push_chunked(f"chunked/{server}", chunked, 8 * MIB)
            return total / MIB
        self.compare(names[0], "MiB", push_chunked, per="MiB")
        if not self.wanted(names[0]):
            for server in ("stowage", "registry"):
                push_chunked(server)

        def ranges(server):
            client = Client(self.servers[server].port)
            for i in range(100):
                start = (i * 7 * MIB) % (total - MIB)
                status, _, body = client.call("GET", f"/v2/chunked/{server}/blobs/{digest}",
                                              headers={"Range": f"bytes={start}-{start + MIB - 1}"})
                assert status == 206 and len(body) == MIB
            return 100
        self.compare(names[1], "requests", ranges, per="request")

    def load(self, server, method, path, connections, seconds, body_file=None):
        """Requests answered 2xx in `seconds` on `connections` keep-alive connections."""
        port = self.servers[server].port
        accept = "Accept: application/vnd.oci.image.manifest.v1+json"
        if method == "GET" and shutil.which("wrk"):
            out = subprocess.run(["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "-H", accept,
                                  f"http://127.0.0.1:{port}{path}"], capture_output=True, text=True).stdout
            done = [line for line in out.splitlines() if "requests in" in line]
            errors = [line for line in out.splitlines() if "Non-2xx" in line]
            assert not errors, errors
            return int(done[0].split()[0]) if done else 0
        args = [str(self.tool), "load", "--port", str(port), "--method", method, "--path", path, "--connections",
                str(connections), "--seconds", str(seconds), "--header", accept]
        if body_file:
            args += ["--header", "Content-Type: application/vnd.oci.image.manifest.v1+json", "--body-file", str(body_file)]
        out = subprocess.run(args, capture_output=True, text=True, check=True).stdout.split()
        assert out[3] == "0", f"{out[3]} failed requests"
        return int(out[1])

    def small_requests(self):
        seconds = 3 if self.args.quick else 8
        servers = ("stowage", "registry-mem")
        config_bytes, layer_bytes = b'{"os":"linux"}', b"small layer"
        manifest = None
        for server in servers + ("stowage-mem", "stowage-logged"):
            client = Client(self.servers[server].port)
            config = client.push_blob(f"small/{server}", config_bytes)
            layer = client.push_blob(f"small/{server}", layer_bytes)
            client.push_blob(f"put/{server}", config_bytes)
            client.push_blob(f"put/{server}", layer_bytes)
            for t in range(1000):
                manifest = client.push_manifest(f"small/{server}", f"t{t:04d}", (config, len(config_bytes)), [(layer, len(layer_bytes))])
        body_file = self.work / "manifest.json"
        body_file.write_bytes(manifest)
        layer = "sha256:" + hashlib.sha256(layer_bytes).hexdigest()
        for connections in (8, 64):
            for label, method, path in [("HEAD blob", "HEAD", f"/v2/small/{{server}}/blobs/{layer}"),
                                        ("GET manifest by tag", "GET", "/v2/small/{server}/manifests/t0500"),
                                        ("tags list of 1000 tags", "GET", "/v2/small/{server}/tags/list"),
                                        ("PUT manifest", "PUT", "/v2/put/{server}/manifests/p{n}")]:
                def work(server):
                    return self.load(server, method, path.replace("{server}", server), connections, seconds,
                                     body_file if method == "PUT" else None)
                key = f"{label}, {connections}"
                self.compare(f"{label}, {connections} connections", "requests", work, per="request", servers=servers,
                             reuse=key)
                if method == "PUT":
                    self.compare(f"{label}, {connections} connections, Stowage --ephemeral", "requests", work,
                                 per="request", servers=("stowage-mem", "registry-mem"), reuse=key)
                if method == "HEAD":
                    # Stowage (in memory, logging each request) read against what the HTTP stack alone costs.
                    self.compare(f"{label}, {connections} connections, Stowage --ephemeral with request logging, "
                                 "against the limit (an empty Hummingbird handler)", "requests", work, per="request",
                                 servers=("stowage-logged", "limit"))

    def push_tiny(self, server, count, prefix, workers=4):
        def one(i):
            client = Client(self.servers[server].port)
            repo = f"{prefix}/{server}{i % 10}"
            config = json.dumps({"n": i}).encode()
            layer = f"layer {i}".encode()
            client.push_manifest(repo, f"v{i}", (client.push_blob(repo, config), len(config)),
                                 [(client.push_blob(repo, layer), len(layer))])
        with ThreadPoolExecutor(workers) as pool:
            list(pool.map(one, range(count)))
        return count

    def tiny_images(self):
        count = 200 if self.args.quick else 1000
        self.compare(f"{count} tiny images, 10 repositories, 4 workers", "images",
                     lambda server: self.push_tiny(server, count, "tiny"), per="image")
        self.compare(f"{count} tiny images, 10 repositories, 4 workers, in memory", "images",
                     lambda server: self.push_tiny(server, count, "tiny"), per="image",
                     servers=("stowage-mem", "registry-mem"))

        def pull_manifests(server):
            def one(i):
                client = Client(self.servers[server].port)
                status, _, _ = client.call("GET", f"/v2/tiny/{server}{i % 10}/manifests/v{i}",
                                           headers={"Accept": "application/vnd.oci.image.manifest.v1+json"})
                assert status == 200, status
            with ThreadPoolExecutor(4) as pool:
                list(pool.map(one, range(count)))
            return count
        self.compare(f"GET each of the {count} tiny images' manifests, 4 workers", "manifests", pull_manifests, per="manifest")

    def ecr(self):
        import boto3
        calls = 100 if self.args.quick else 300
        operations = ["CreateRepository", "PutImage", "BatchGetImage", "DescribeImages"]
        clients = {}
        for server in ("stowage", "stowage-mem", "moto", "limit"):
            ecr = boto3.client("ecr", endpoint_url=f"http://127.0.0.1:{self.servers[server].port}", region_name="us-east-1",
                               aws_access_key_id="bench", aws_secret_access_key="bench")
            ecr.create_repository(repositoryName="ecr/images")
            manifest = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                                   "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                                              "digest": "sha256:" + hashlib.sha256(b"").hexdigest(), "size": 0}, "layers": []})
            if server.startswith("stowage"):  # Stowage checks that the config blob exists, as ECR does
                Client(self.servers[server].port).push_blob("ecr/images", b"")
            clients[server] = (ecr, manifest)
        totals = {server: [0.0, 0.0, 0] for server in clients}

        def loop(operation):
            def run(server):
                ecr, manifest = clients[server]
                started = time.perf_counter()
                cpu = self.servers[server].cpu()
                for i in range(calls):
                    if operation == "CreateRepository":
                        ecr.create_repository(repositoryName=f"ecr/r{i}")
                    elif operation == "PutImage":
                        ecr.put_image(repositoryName="ecr/images", imageTag=f"v{i}",
                                      imageManifest=manifest.replace('"layers"', f'"n{i}":{i},"layers"'))
                    elif operation == "BatchGetImage":
                        ecr.batch_get_image(repositoryName="ecr/images", imageIds=[{"imageTag": f"v{i % 50}"}])
                    else:
                        ecr.describe_images(repositoryName="ecr/images", maxResults=10)
                totals[server][0] += time.perf_counter() - started
                totals[server][1] += self.servers[server].cpu() - cpu
                totals[server][2] += calls
                return calls
            return run
        for operation in operations:
            self.compare(f"ECR {operation}, boto3", "calls", loop(operation), peer="moto", per="call", reuse=operation)
            self.compare(f"ECR {operation}, boto3, Stowage --ephemeral", "calls", loop(operation), per="call",
                         servers=("stowage-mem", "moto"), reuse=operation)
            self.compare(f"ECR {operation}, boto3, Stowage --ephemeral against the limit (the JSON 1.1 envelope "
                         "answered by an empty handler)", "calls", loop(operation), per="call",
                         servers=("stowage-mem", "limit"), reuse=operation)
        for server, suffix in (("stowage", ""), ("stowage-mem", ", Stowage --ephemeral")):
            if totals[server][2] and totals["moto"][2]:
                (sw, sc, sn), (mw, mc, mn) = totals[server], totals["moto"]
                self.add(f"ECR JSON, all four operations{suffix}: calls/s", sn / sw, mn / mw, "moto")
                self.add(f"ECR JSON, all four operations{suffix}: server CPU ms per call", 1000 * sc / sn,
                         1000 * mc / mn, "moto", lower=True)

    def held_load(self):
        """64 keep-alive connections of mixed traffic held for a minute against Stowage on its defaults:
        pushes of tiny images, pulls, manifest and tag reads, HEADs and ECR calls. Errors should be 0 and
        resident memory flat."""
        name = "held load, 64 connections of mixed traffic"
        if not self.wanted(name):
            return
        seconds = 15 if self.args.quick else 60
        server = self.servers["stowage"]
        seed = Client(server.port)
        config = seed.push_blob("held/app", b'{"os":"linux"}')
        layer = seed.push_blob("held/app", b"held layer")
        seed.push_manifest("held/app", "v0", (config, 14), [(layer, 10)])
        ecr = {"Content-Type": "application/x-amz-json-1.1"}
        counts = {"requests": 0, "errors": []}
        lock = threading.Lock()
        deadline = time.monotonic() + seconds

        def worker(n):
            client = Client(server.port)
            done, errors, i = 0, [], 0
            while time.monotonic() < deadline:
                i += 1
                try:
                    kind = i % 8
                    if kind == 0:
                        # The same image again and again: the registry's state stays the size it is, so
                        # memory that grows is memory the server keeps per request.
                        repo = f"held/w{n}"
                        c = client.push_blob(repo, json.dumps({"n": n}).encode())
                        b = client.push_blob(repo, f"layer {n}".encode())
                        client.push_manifest(repo, "latest", (c, len(json.dumps({"n": n}))), [(b, len(f"layer {n}"))])
                        done += 5
                        continue
                    if kind == 1:
                        status = client.call("GET", "/v2/held/app/manifests/v0",
                                             headers={"Accept": "application/vnd.oci.image.manifest.v1+json"})[0]
                    elif kind == 2:
                        status = client.call("HEAD", f"/v2/held/app/blobs/{layer}")[0]
                    elif kind == 3:
                        status = client.call("GET", f"/v2/held/app/blobs/{layer}")[0]
                    elif kind == 4:
                        status = client.call("GET", "/v2/held/app/tags/list")[0]
                    elif kind == 5:
                        status = client.call("POST", "/", body=b'{"repositoryName":"held/app","maxResults":5}', headers=dict(
                            ecr, **{"X-Amz-Target": "AmazonEC2ContainerRegistry_V20150921.DescribeImages"}))[0]
                    elif kind == 6:
                        status = client.call("POST", "/", body=b'{"repositoryName":"held/app","imageIds":[{"imageTag":"v0"}]}',
                                             headers=dict(ecr, **{"X-Amz-Target": "AmazonEC2ContainerRegistry_V20150921.BatchGetImage"}))[0]
                    else:
                        status = client.call("GET", "/v2/")[0]
                    done += 1
                    if status >= 300:
                        errors.append(status)
                except Exception as error:  # a refused or dropped request is an error of the row, not of the bench
                    errors.append(repr(error))
                    client = Client(server.port)
            with lock:
                counts["requests"] += done
                counts["errors"] += errors

        # A few seconds of the same load first, so "start" is the warmed-up server.
        start_rss = None
        threads = [threading.Thread(target=worker, args=(n,)) for n in range(64)]
        started = time.monotonic()
        for thread in threads:
            thread.start()
        time.sleep(min(5, seconds / 3))
        start_rss = server.rss_mib()
        for thread in threads:
            thread.join()
        elapsed = time.monotonic() - started
        end_rss = server.rss_mib()
        self.add(f"{name}, {seconds} s: requests/s", counts["requests"] / elapsed, None)
        self.add(f"{name}, {seconds} s: errors", float(len(counts["errors"])), None)
        if counts["errors"]:
            print(f"  first errors: {counts['errors'][:5]}", flush=True)
        self.add(f"{name}, {seconds} s: resident memory at the start and the end (MiB)", end_rss, start_rss, "start",
                 lower=True)

    def write_stall(self, name, action, seconds_after=0.0):
        """Tiny-image pushes while `action` runs on the server: the seconds the action took to
        answer, the slowest push from its start until `seconds_after` past its answer (work it
        left in the background), and the slowest of the pushes just before, with nothing else
        running."""
        server = self.servers[name]
        admin = Client(server.port)
        stop = threading.Event()
        pushes = []  # (start, seconds)

        def pusher():
            client = Client(server.port)
            i = 0
            while not stop.is_set():
                repo = f"stall/{name}{i % 10}"
                config = json.dumps({"stall": i, "at": time.time()}).encode()
                layer = f"stall layer {i} {time.time()}".encode()
                started = time.perf_counter()
                client.push_manifest(repo, f"s{i}", (client.push_blob(repo, config), len(config)),
                                     [(client.push_blob(repo, layer), len(layer))])
                pushes.append((started, time.perf_counter() - started))
                i += 1

        thread = threading.Thread(target=pusher)
        thread.start()
        try:
            time.sleep(1.0)  # warm: the first pushes into new repositories
            before = time.perf_counter()
            time.sleep(3.0)
            start = time.perf_counter()
            action(admin)
            answered = time.perf_counter()
            time.sleep(seconds_after)
            end = time.perf_counter()
        finally:
            stop.set()
            thread.join()
        during = [seconds for started, seconds in pushes if started + seconds > start and started < end]
        quiet = [seconds for started, seconds in pushes if before <= started and started + seconds <= start]
        assert during and quiet, (len(during), len(quiet))
        return answered - start, during, quiet

    def snapshot_stall(self, name, stored):
        """The slowest tiny-image push while a snapshot of the whole state is written, and while a
        checkpoint of it is taken (its state is written in the background)."""
        def compact(admin):
            status, _, body = admin.call("POST", "/_admin/compact")
            assert status == 200, (status, body)

        took, during, quiet = self.write_stall(name, compact)
        self.add(f"tiny-image push while a snapshot of {stored:,} images is written ({took:.1f} s, "
                 f"{len(during)} pushes): the slowest push (ms)", 1000 * max(during), 1000 * max(quiet),
                 f"the slowest of {len(quiet)} just before", lower=True)

        def checkpoint(admin):
            status, _, body = admin.call("POST", "/_admin/checkpoints", json.dumps({"name": "stall"}).encode(),
                                         {"Content-Type": "application/json"})
            assert status == 201, (status, body)

        linger = 2.0 if self.args.quick else 12.0
        took, during, quiet = self.write_stall(name, checkpoint, linger)
        self.add(f"checkpoint with {stored:,} images stored: until it is answered (ms)", 1000 * took, None, lower=True)
        self.add(f"tiny-image push while that checkpoint is taken and for {linger:.0f} s after its answer (its state "
                 f"is written meanwhile; {len(during)} pushes): the slowest push (ms)", 1000 * max(during),
                 1000 * max(quiet), f"the slowest of {len(quiet)} just before", lower=True)

    def scale(self):
        """Stowage alone: the cost of a push as the registry grows, restarts, cold start."""
        large = 10_000 if self.args.quick else 1_000_000
        if self.wanted("push at") or self.wanted("stored"):
            results = {}
            for stored in (100, large):
                directory = self.work / f"seeded-{stored}"
                subprocess.run([str(self.tool), "seed", "--dir", str(directory), "--images", str(stored)], check=True)
                name = f"seeded-{stored}"
                started = time.perf_counter()
                self.start_stowage(name, directory)
                if stored == large:
                    # The server's restart on the seeded snapshot, as a user waits for it.
                    self.add(f"restart with {large:,} images over 1,000 repositories, from the snapshot, to the first "
                             "answer (s)", time.perf_counter() - started, None, lower=True)
                    self.add("server CPU of that restart (s)", self.servers[name].cpu(), None, lower=True)
                    self.add("resident memory after that restart (MiB)", self.servers[name].rss_mib(), None, lower=True)
                self.push_tiny(name, 50, "warm")
                # A restart on a seeded log snapshots soon after its first writes (1.6 s of CPU at
                # 100,000 images): let that finish, so the figure is a push's own cost. What
                # snapshots add per command, amortised, is the engine row "command CPU at ...".
                self.servers[name].wait_idle()
                results[stored] = self.measure(name, lambda: self.push_tiny(name, 300, "scale"))
                if stored == large:
                    self.snapshot_stall(name, large)
                self.servers.pop(name).stop()
                if stored == large:
                    # The worst restart: the server stopped just before its next snapshot, which at
                    # this size comes after many records (their spacing keeps a snapshot's cost per
                    # record within a budget), so all of them are replayed onto the snapshot.
                    tail = large // 10
                    subprocess.run([str(self.tool), "seed", "--dir", str(directory), "--tail", str(tail)], check=True)
                    started = time.perf_counter()
                    self.start_stowage(name, directory)
                    self.add(f"restart with {large:,} images and {2 * tail:,} records after the snapshot to replay, "
                             "to the first answer (s)", time.perf_counter() - started, None, lower=True)
                    self.servers.pop(name).stop()
                shutil.rmtree(directory, ignore_errors=True)
            (lw, lc, ln), (sw, sc, sn) = results[large], results[100]
            self.add(f"tiny-image push with {large:,} images stored (vs 100): images/s", ln / lw, sn / sw, "at 100 images")
            self.add(f"tiny-image push with {large:,} images stored (vs 100): server CPU ms per image", 1000 * lc / ln,
                     1000 * sc / sn, "at 100 images", lower=True)
        if self.wanted("start"):
            def ready_seconds(args, port, path="/v2/"):
                started = time.perf_counter()
                server = Server("timed", args, port, path)
                elapsed = time.perf_counter() - started
                rss = server.rss_mib()
                server.stop()
                return elapsed, rss
            port = free_port()
            stowage_cold, _ = ready_seconds([str(self.binary), "serve", "--port", str(port), "--data-dir",
                                             str(self.work / "cold"), "--auth", "none"], port)
            port = free_port()
            config = self.work / "cold-registry.yml"
            config.write_text(f"version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {self.work / 'cold-r'}\n"
                              f"http:\n  addr: 127.0.0.1:{port}\n")
            registry_cold, _ = ready_seconds(["docker-registry", "serve", str(config)], port)
            self.add("cold start to the first answer (ms)", 1000 * stowage_cold, 1000 * registry_cold, "registry", lower=True)
            for commands in ([10_000, 100_000] if self.args.quick else [10_000, 1_000_000]):
                directory = self.work / f"churn-{commands}"
                subprocess.run([str(self.tool), "seed", "--dir", str(directory), "--churn", str(commands)], check=True)
                port = free_port()
                elapsed, rss = ready_seconds([str(self.binary), "serve", "--port", str(port), "--data-dir", str(directory),
                                              "--auth", "none"], port)
                self.add(f"restart with {commands:,} logged commands to the first answer (s)", elapsed, None)
                self.add(f"resident memory after restart with {commands:,} logged commands (MiB)", rss, None)
                shutil.rmtree(directory, ignore_errors=True)

    def engine(self):
        if not self.wanted("engine"):
            return
        output = subprocess.run([str(self.tool), "--no-restart"] + (["--quick"] if self.args.quick else []),
                                capture_output=True, text=True, timeout=1800).stdout
        for line in output.splitlines():
            if "|" in line and not line.startswith(("metric", "---")):
                metric, value = [part.strip() for part in line.split("|")]
                self.add(f"engine: {metric}", float(value), None)

    def run(self):
        try:  # a server that cannot start stops the ones started before it
            self.start()
            time.sleep(2)
            idle = {name: server.rss_mib() for name, server in self.servers.items()}
            self.add("resident memory idle after start (MiB)", idle["stowage"], idle["registry"], "registry", lower=True)
            # What of it is the process's own (heap, stacks, written data) rather than the binary's
            # clean code pages, which the kernel maps 64 KiB around every page the program touches.
            anon = {name: self.servers[name].rss_mib("RssAnon") for name in ("stowage", "registry")}
            self.add("of it private (RssAnon, MiB)", anon["stowage"], anon["registry"], "registry", lower=True)
            self.add("resident memory idle after start, Stowage --ephemeral against the empty Hummingbird server (MiB)",
                     idle["stowage-mem"], idle["limit"], "limit", lower=True)
            for phase in (self.blobs, self.small_requests, self.tiny_images, self.ecr, self.held_load):
                print(f"== {phase.__name__}", flush=True)
                phase()
            rss = {name: server.rss_mib() for name, server in self.servers.items()}
            self.add("resident memory at the end of the work above (MiB)", rss["stowage"], rss["registry"], "registry", lower=True)
            # Both servers give memory back once idle (Go's scavenger, Stowage's heap trim): a few seconds later.
            time.sleep(5)
            rss = {name: server.rss_mib() for name, server in self.servers.items()}
            self.add("resident memory 5 s after the work above (MiB)", rss["stowage"], rss["registry"], "registry", lower=True)
            print("== scale", flush=True)
            self.scale()
        finally:
            self.stop()
        print("== engine", flush=True)
        self.engine()

    def table(self):
        lines = ["| metric | Stowage | peer | peer value | Stowage vs peer |", "|---|---|---|---|---|"]
        for row in self.rows:
            peer = "" if row["peer"] is None else f"{row['peer']:.3f}"
            ratio = "" if row["ratio"] is None else f"{row['ratio']:.2f}x better" if row["ratio"] >= 1 else f"{1 / row['ratio']:.2f}x worse"
            lines.append(f"| {row['metric']} | {row['stowage']:.3f} | {row['peer_name']} | {peer} | {ratio} |")
        return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="smaller sizes and shorter loads (about 2 minutes)")
    parser.add_argument("--only", help="comma-separated words: run only the metrics whose name contains one")
    parser.add_argument("--json", help="also write the results as JSON to this path")
    args = parser.parse_args()
    bench = Bench(args)
    started = time.monotonic()
    bench.run()
    print()
    print(f"Stowage benchmark, {time.strftime('%Y-%m-%d')}, {os.cpu_count()} cores, {time.monotonic() - started:.0f} s")
    print(bench.table())
    if args.json:
        Path(args.json).write_text(json.dumps({"date": time.strftime("%Y-%m-%d"), "rows": bench.rows}, indent=2))


if __name__ == "__main__":
    sys.exit(main())
