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

    def rss_mib(self):
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
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


class Bench:
    def __init__(self, args):
        self.args = args
        self.rows = []
        self.work = Path(tempfile.mkdtemp(prefix="stowage-bench-"))
        self.servers = {}

    def start(self):
        binary = ROOT / ".build" / "release" / "stowage"
        port = free_port()
        self.servers["stowage"] = Server("stowage", [str(binary), "serve", "--port", str(port), "--data-dir", str(self.work / "stowage"),
                                                     "--auth", "none", "--create-on-push", "--log-level", "warning"], port, "/v2/")
        port = free_port()
        config = self.work / "registry.yml"
        config.write_text(f"version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n"
                          f"    rootdirectory: {self.work / 'registry'}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:{port}\n")
        self.servers["registry"] = Server("registry", ["docker-registry", "serve", str(config)], port, "/v2/")
        port = free_port()
        self.servers["moto"] = Server("moto", ["moto_server", "-p", str(port)], port, "/moto-api/")

    def stop(self):
        for server in self.servers.values():
            server.stop()
        shutil.rmtree(self.work, ignore_errors=True)

    def wanted(self, name):
        return not self.args.only or any(word in name for word in self.args.only.split(","))

    def measure(self, server, work):
        s = self.servers[server]
        cpu, start = s.cpu(), time.perf_counter()
        units = work()
        return time.perf_counter() - start, s.cpu() - cpu, units

    def compare(self, name, unit, work, peer="registry", higher_is_better=True, per=None):
        """Runs `work(server)` against Stowage and a peer; records throughput and CPU per unit."""
        if not self.wanted(name):
            return
        results = {}
        for server in ("stowage", peer):
            wall, cpu, units = self.measure(server, lambda: work(server))
            results[server] = (wall, cpu, units)
        (sw, sc, su), (pw, pc, pu) = results["stowage"], results[peer]
        rate = lambda u, w: u / w if w else 0.0
        self.add(f"{name}: {unit}/s", rate(su, sw), rate(pu, pw), peer)
        self.add(f"{name}: server CPU ms per {per or unit}", 1000 * sc / su if su else 0, 1000 * pc / pu if pu else 0, peer, lower=True)

    def add(self, metric, stowage, peer, peer_name="", lower=False):
        ratio = (peer / stowage if lower else stowage / peer) if stowage and peer else None
        self.rows.append({"metric": metric, "stowage": stowage, "peer": peer, "peer_name": peer_name, "ratio": ratio,
                          "better": "lower" if lower else "higher"})
        print(f"  {metric}: stowage {stowage:.3f}  {peer_name} {peer:.3f}" + (f"  ({ratio:.2f}x)" if ratio else ""), flush=True)

    # Work

    def blobs(self):
        sizes = [(MIB, 20), (64 * MIB, 2)] + ([(1 << 30, 1)] if not self.args.quick else [])
        for size, count in sizes:
            data = [os.urandom(size) for _ in range(count)] if size <= 64 * MIB else [os.urandom(size)]
            label = f"{size // MIB} MiB" if size < (1 << 30) else "1 GiB"

            def push(server):
                client = Client(self.servers[server].port)
                for blob in data:
                    client.push_blob(f"bench/{server}", blob)
                return sum(len(b) for b in data) / MIB
            self.compare(f"push {label} (POST+PUT)", "MiB", push, per="MiB")

            def pull(server):
                client = Client(self.servers[server].port)
                for blob in data:
                    digest = "sha256:" + hashlib.sha256(blob).hexdigest()
                    status, _, body = client.call("GET", f"/v2/bench/{server}/blobs/{digest}")
                    assert status == 200 and len(body) == len(blob)
                return sum(len(b) for b in data) / MIB
            self.compare(f"pull {label}", "MiB", pull, per="MiB")
        total = (64 if self.args.quick else 256) * MIB
        chunked = os.urandom(total)

        def push_chunked(server):
            Client(self.servers[server].port).push_chunked(f"bench/{server}", chunked, 8 * MIB)
            return total / MIB
        self.compare(f"chunked push {total // MIB} MiB in 8 MiB PATCHes", "MiB", push_chunked, per="MiB")

        def ranges(server):
            client = Client(self.servers[server].port)
            digest = "sha256:" + hashlib.sha256(chunked).hexdigest()
            for i in range(50):
                start = (i * 7 * MIB) % (total - MIB)
                status, _, body = client.call("GET", f"/v2/bench/{server}/blobs/{digest}", headers={"Range": f"bytes={start}-{start + MIB - 1}"})
                assert status == 206 and len(body) == MIB
            return 50
        self.compare("1 MiB Range GETs", "requests", ranges, per="request")

    def small_requests(self):
        seconds = 3 if self.args.quick else 10
        for server in ("stowage", "registry"):
            client = Client(self.servers[server].port)
            config = client.push_blob(f"small/{server}", b'{"os":"linux"}')
            layer = client.push_blob(f"small/{server}", b"small layer")
            for t in range(1000):
                client.push_manifest(f"small/{server}", f"t{t:04d}", (config, 14), [(layer, 11)])
        for connections in (8, 64):
            for label, method, path in [("HEAD blob", "HEAD", "blobs/" + "sha256:" + hashlib.sha256(b"small layer").hexdigest()),
                                        ("GET manifest by tag", "GET", "manifests/t0500"), ("tags list of 1000 tags", "GET", "tags/list")]:
                def load(server):
                    port = self.servers[server].port
                    if method == "GET" and shutil.which("wrk"):
                        # wrk for GETs: a Python client would be the bottleneck.
                        out = subprocess.run(["wrk", "-t2", f"-c{connections}", f"-d{seconds}s",
                                              "-H", "Accept: application/vnd.oci.image.manifest.v1+json",
                                              f"http://127.0.0.1:{port}/v2/small/{server}/{path}"],
                                             capture_output=True, text=True).stdout
                        done = [line for line in out.splitlines() if "requests in" in line]
                        return int(done[0].split()[0]) if done else 0
                    count = [0]
                    lock = threading.Lock()
                    deadline = time.monotonic() + seconds

                    def worker():
                        client = Client(port)
                        n = 0
                        while time.monotonic() < deadline:
                            status, _, _ = client.call(method, f"/v2/small/{server}/{path}",
                                                       headers={"Accept": "application/vnd.oci.image.manifest.v1+json"})
                            assert status == 200, status
                            n += 1
                        with lock:
                            count[0] += n
                    with ThreadPoolExecutor(connections) as pool:
                        for _ in range(connections):
                            pool.submit(worker)
                    return count[0]
                self.compare(f"{label}, {connections} connections", "requests", load, per="request")

    def tiny_images(self):
        count = 200 if self.args.quick else 1000

        def push(server):
            def one(i):
                client = Client(self.servers[server].port)
                repo = f"tiny/{server}{i % 10}"
                config = client.push_blob(repo, json.dumps({"n": i}).encode())
                layer = client.push_blob(repo, f"layer {i}".encode())
                client.push_manifest(repo, f"v{i}", (config, len(json.dumps({"n": i}))), [(layer, len(f"layer {i}"))])
            with ThreadPoolExecutor(4) as pool:
                list(pool.map(one, range(count)))
            return count
        self.compare(f"{count} tiny images, 10 repositories, 4 workers", "images", push, per="image")

    def ecr(self):
        import boto3
        calls = 100 if self.args.quick else 400

        def loop(server):
            ecr = boto3.client("ecr", endpoint_url=f"http://127.0.0.1:{self.servers[server].port}", region_name="us-east-1",
                               aws_access_key_id="bench", aws_secret_access_key="bench")
            prefix = f"ecr{time.monotonic_ns()}"
            for i in range(calls // 4):
                ecr.create_repository(repositoryName=f"{prefix}/r{i}")
            manifest = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                                   "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": "sha256:" + "0" * 64, "size": 0}, "layers": []})
            if server == "stowage":  # Stowage checks that the config blob exists, as ECR does
                Client(self.servers[server].port).push_blob(f"{prefix}/r0", b"", "sha256:" + hashlib.sha256(b"").hexdigest())
                manifest = manifest.replace("0" * 64, hashlib.sha256(b"").hexdigest())
            for i in range(calls // 4):
                ecr.put_image(repositoryName=f"{prefix}/r0", imageManifest=manifest.replace('"layers"', f'"n{i}":{i},"layers"'), imageTag=f"v{i}")
            for i in range(calls // 4):
                ecr.batch_get_image(repositoryName=f"{prefix}/r0", imageIds=[{"imageTag": f"v{i}"}])
            for i in range(calls // 4):
                ecr.describe_images(repositoryName=f"{prefix}/r0", maxResults=10)
            return calls
        self.compare("ECR JSON (CreateRepository, PutImage, BatchGetImage, DescribeImages)", "calls", loop, peer="moto", per="call")

    def engine(self):
        if not self.wanted("engine"):
            return
        output = subprocess.run([str(ROOT / ".build" / "release" / "stowage-bench")] + (["--quick"] if self.args.quick else []),
                                capture_output=True, text=True, timeout=1800).stdout
        for line in output.splitlines():
            if "|" in line and not line.startswith(("metric", "---")):
                metric, value = [part.strip() for part in line.split("|")]
                self.rows.append({"metric": f"engine: {metric}", "stowage": float(value), "peer": None, "peer_name": "", "ratio": None, "better": ""})
                print(f"  engine: {metric}: {value}", flush=True)

    def run(self):
        self.start()
        try:
            for phase in (self.blobs, self.small_requests, self.tiny_images, self.ecr):
                print(f"== {phase.__name__}", flush=True)
                phase()
            rss = {name: server.rss_mib() for name, server in self.servers.items()}
        finally:
            self.stop()
        self.add("resident memory at the end (MiB)", rss["stowage"], rss["registry"], "registry", lower=True)
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
