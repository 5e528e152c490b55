"""The container image (`make image`, scripts/image.sh): built offline in the tests' own dockerd,
run there with host networking, and used as a registry by the docker in which it runs."""

import json
import socket
import subprocess
import time

from conftest import BINARY, ROOT, Server
from registry import Registry
from test_clients import Dockerd, podman_env, require, run, work  # noqa: F401 (work is a fixture)


class Container:
    """The server inside the container, seen from the host (host networking)."""

    request = Server.request
    json = Server.json
    authority = Server.authority

    def __init__(self, port):
        self.url = f"http://127.0.0.1:{port}"


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for(what, condition, timeout=90):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.25)
    raise AssertionError(f"{what} did not happen within {timeout}s")


def test_the_image_builds_offline_runs_as_a_registry_and_stops_cleanly(work):
    for tool in ("dockerd", "docker", "strip"):
        require(tool)
    engine = Dockerd(work)
    container = None
    try:
        built = subprocess.run(["bash", str(ROOT / "scripts" / "image.sh")], env=engine.env, capture_output=True,
                               text=True, timeout=1800)
        assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
        version = run(str(BINARY), "--version").stdout.strip()
        image = json.loads(engine.docker("image", "inspect", f"stowage:{version}").stdout)[0]
        assert image["Id"] == json.loads(engine.docker("image", "inspect", "stowage:latest").stdout)[0]["Id"]
        config = image["Config"]
        assert config["User"] == "10001:10001"
        assert config["Healthcheck"]["Test"] == ["CMD", "/usr/bin/stowage", "health"]
        assert "/data" in config["Volumes"] and "5000/tcp" in config["ExposedPorts"]
        assert "STOWAGE_HOST=0.0.0.0" in config["Env"] and "STOWAGE_PORT=5000" in config["Env"]
        assert config["Labels"]["org.opencontainers.image.version"] == version
        assert image["Size"] <= 60_000_000, f"the image is {image['Size']} bytes; the README promises at most 60 MB"

        # STOWAGE_* variables configure it: a free port (host networking), create-on-push.
        port = free_port()
        container = engine.docker("run", "-d", "--network", "host", "-e", f"STOWAGE_PORT={port}",
                                  "-e", "STOWAGE_CREATE_ON_PUSH=1", "stowage:latest").stdout.strip()
        server = Container(port)
        wait_for("the HEALTHCHECK passing", lambda: engine.docker(
            "inspect", "-f", "{{.State.Health.Status}}", container).stdout.strip() == "healthy")
        pid = engine.docker("inspect", "-f", "{{.State.Pid}}", container).stdout.strip()
        uids = next(line for line in open(f"/proc/{pid}/status") if line.startswith("Uid:")).split()[1:]
        assert set(uids) == {"10001"}, f"the server runs as {uids}, not the image's non-root user"

        # The docker the container runs in pushes its own multi-layer image to it, and pulls it back.
        registry = Registry(server).login()
        engine.docker("login", "-u", "AWS", "--password-stdin", server.authority, input=registry.password)
        ref = f"{server.authority}/stowage/self:v1"
        engine.docker("tag", "stowage:latest", ref)
        pushed = engine.docker("push", ref).stdout
        digest = pushed.split("digest: ")[1].split()[0]
        manifest = registry.request("GET", f"/v2/stowage/self/manifests/{digest}").json()
        assert len(manifest["layers"]) >= 2
        engine.docker("rmi", ref)
        engine.docker("pull", ref)
        assert any(d.endswith(digest) for d in json.loads(engine.docker("image", "inspect", ref).stdout)[0]["RepoDigests"])

        # SIGTERM stops it cleanly (exit 0, not a kill after the timeout); /data keeps the push.
        engine.docker("stop", "-t", "60", container)
        assert engine.docker("inspect", "-f", "{{.State.ExitCode}}", container).stdout.strip() == "0"
        engine.docker("start", container)
        wait_for("the restarted server answering", lambda: _answers(server))
        assert registry.login().request("GET", "/v2/stowage/self/tags/list").json()["tags"] == ["v1"]

        # Between tests: a reset empties it.
        status, _ = server.json("POST", "/_admin/reset")
        assert status == 200
        assert registry.login().request("GET", "/v2/stowage/self/tags/list").status == 404
        engine.docker("stop", "-t", "60", container)
        assert engine.docker("inspect", "-f", "{{.State.ExitCode}}", container).stdout.strip() == "0"
    finally:
        if container:
            engine.docker("rm", "-f", container, check=False)
        engine.stop()


def test_podman_builds_the_same_image_where_there_is_no_docker_and_pushes_it(start_server, work):
    # (Running it under podman is not tried: crun cannot set RLIMIT_NOFILE in this machine's sandbox.)
    require("podman")
    server = start_server("--ephemeral", "--auth", "none", "--create-on-push")
    env = dict(podman_env(work, server.authority), IMAGE_BUILDER="podman")
    built = subprocess.run(["bash", str(ROOT / "scripts" / "image.sh")], env=env, capture_output=True, text=True,
                           timeout=1800)
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    assert "with podman" in built.stdout
    podman = ["podman", "--cgroup-manager=cgroupfs", "--events-backend=file"]
    version = run(str(BINARY), "--version").stdout.strip()
    image = json.loads(run(*podman, "image", "inspect", f"stowage:{version}", env=env).stdout)[0]
    assert image["Config"]["User"] == "10001:10001" and image["Size"] <= 60_000_000
    assert image["Healthcheck"]["Test"] == ["CMD", "/usr/bin/stowage", "health"]  # podman keeps it beside Config
    ref = f"{server.authority}/stowage/podman:v1"
    run(*podman, "tag", "stowage:latest", ref, env=env)
    run(*podman, "push", "--tls-verify=false", ref, env=env)
    manifest = Registry(server).request("GET", "/v2/stowage/podman/manifests/v1").json()
    assert len(manifest["layers"]) >= 2


def _answers(server):
    try:
        return server.request("GET", "/_admin/health", timeout=2)[0] == 200
    except OSError:
        return False
