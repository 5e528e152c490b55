"""Shared fixtures for the end-to-end tests: a real `stowage serve` on a free loopback port."""

import json
import os
import signal
import subprocess
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BINARY = Path(os.environ.get("STOWAGE_BIN", ROOT / ".build" / "debug" / "stowage"))


class Server:
    """A `stowage serve` process started on a free port and stopped by its pid."""

    def __init__(self, *args, env=None):
        if not BINARY.exists():
            raise RuntimeError(f"{BINARY} is missing: run `swift build` (make test does)")
        environment = {k: v for k, v in os.environ.items() if not k.startswith("STOWAGE_")}
        environment.update(env or {})
        self.args = [str(BINARY), "serve", "--port", "0", *args]
        self.process = subprocess.Popen(
            self.args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=environment, text=True
        )
        self.output = []
        self.url = None
        deadline = time.monotonic() + 60
        for line in self.process.stdout:
            self.output.append(line)
            if line.startswith("Stowage serving on "):
                self.url = line.split()[-1]
                break
            if time.monotonic() > deadline:
                break
        if self.url is None:
            self.process.kill()
            self.process.wait()
            raise RuntimeError("server did not start:\n" + "".join(self.output) + self.process.stdout.read())
        self.drainer = threading.Thread(target=self._drain, daemon=True)
        self.drainer.start()

    def _drain(self):
        for line in self.process.stdout:
            self.output.append(line)

    def line(self, prefix, timeout=30):
        """The first output line that starts with `prefix`, waiting for it (the admin listener's
        line may come after the main one's)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = next((line for line in list(self.output) if line.startswith(prefix)), None)
            if found:
                return found.rstrip("\n")
            time.sleep(0.02)
        raise AssertionError(f"no line starting {prefix!r} in:\n" + "".join(self.output))

    @property
    def pid(self):
        return self.process.pid

    @property
    def authority(self):
        return self.url.removeprefix("http://")

    def request(self, method, path, body=None, headers=None, timeout=30):
        """Returns (status, headers, body bytes); never raises on HTTP error statuses."""
        data = body if isinstance(body, (bytes, type(None))) else json.dumps(body).encode()
        request = urllib.request.Request(self.url + path, data=data, method=method, headers=headers or {})
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                return response.status, response.headers, response.read()
        except urllib.error.HTTPError as error:
            return error.code, error.headers, error.read()

    def json(self, method, path, body=None, headers=None):
        status, _, data = self.request(method, path, body, headers)
        return status, (json.loads(data) if data else None)

    def terminate(self, timeout=20):
        """SIGTERM, and wait for a clean exit; returns the exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=timeout)
        finally:
            self.kill()

    def kill(self):
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self.drainer.join(timeout=5)


def kill_while_writing(server, threads, delay, stop, failures, join_timeout=60):
    """Starts the writer threads, SIGKILLs the server `delay` seconds later, tells the writers to
    stop and waits for them; then no writer may have seen an answer it should not have."""
    for thread in threads:
        thread.start()
    time.sleep(delay)
    server.process.send_signal(signal.SIGKILL)
    server.process.wait()
    stop.set()
    for thread in threads:
        thread.join(timeout=join_timeout)
    assert not failures, failures


@pytest.fixture
def start_server():
    """Starts servers for a test and makes sure every one is gone afterwards."""
    servers = []

    def start(*args, env=None):
        server = Server(*args, env=env)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.kill()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """One server per test module, with a data directory and ECR auth (modules override it as needed)."""
    server = Server("--data-dir", str(tmp_path_factory.mktemp("server") / "data"))
    yield server
    server.kill()


@pytest.fixture
def registry(server):
    """A /v2 client logged in to the module's server."""
    from registry import Registry

    return Registry(server).login()
