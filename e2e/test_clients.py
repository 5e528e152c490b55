"""Round trips with the real clients — skopeo, podman, docker, oras — against a real `stowage serve`.

Images are made offline as OCI layouts (images.py); what comes back is compared byte for byte.
"""

import json
import os
import shutil
import signal
import subprocess
import time
import uuid
from pathlib import Path

import pytest
from images import layer_files, make_layout, read_layout


def run(*args, env=None, input=None, timeout=300, check=True):
    result = subprocess.run(args, capture_output=True, text=True, env=env, input=input, timeout=timeout)
    if check and result.returncode != 0:
        raise AssertionError(f"{' '.join(map(str, args))} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return result


def require(tool):
    assert shutil.which(tool), f"{tool} is not installed: `make test` installs it (scripts/install-test-deps.sh)"


@pytest.fixture
def work(tmp_path):
    # Lower-case: podman derives image names from layout paths.
    path = Path(f"/tmp/stowage-e2e-{uuid.uuid4().hex[:8]}")
    path.mkdir()
    yield path
    shutil.rmtree(path, ignore_errors=True)


def test_skopeo_copies_oci_and_v2s2_images_in_and_out_byte_for_byte(server, registry, work):
    require("skopeo")
    image = make_layout(work / "img", seed="skopeo")
    registry.create("skopeo/app")
    creds = f"AWS:{registry.password}"
    target = f"docker://{server.authority}/skopeo/app"
    run("skopeo", "copy", "--dest-tls-verify=false", "--dest-creds", creds, f"oci:{work}/img:v1", f"{target}:v1")
    # The manifest and blobs are stored exactly as pushed.
    raw = run("skopeo", "inspect", "--raw", "--tls-verify=false", "--creds", creds, f"{target}:v1").stdout
    assert raw.encode() == image["manifest"]
    inspected = json.loads(run("skopeo", "inspect", "--tls-verify=false", "--creds", creds, f"{target}:v1").stdout)
    assert inspected["Digest"] == image["manifest_digest"]
    run("skopeo", "copy", "--src-tls-verify=false", "--src-creds", creds, f"{target}:v1", f"oci:{work}/back:v1")
    back = read_layout(work / "back")
    assert back["manifest"] == image["manifest"] and back["config"] == image["config"] and back["layers"] == [image["layer"]]
    # Docker v2 schema 2 conversion.
    run("skopeo", "copy", "--dest-tls-verify=false", "--dest-creds", creds, "--format", "v2s2", f"oci:{work}/img:v1", f"{target}:v2s2")
    converted = json.loads(run("skopeo", "inspect", "--raw", "--tls-verify=false", "--creds", creds, f"{target}:v2s2").stdout)
    assert converted["mediaType"] == "application/vnd.docker.distribution.manifest.v2+json"
    tags = json.loads(run("skopeo", "list-tags", "--tls-verify=false", "--creds", creds, target).stdout)
    assert sorted(tags["Tags"]) == ["v1", "v2s2"]
    # Delete resolves the tag and deletes by digest.
    run("skopeo", "delete", "--tls-verify=false", "--creds", creds, f"{target}:v2s2")
    assert json.loads(run("skopeo", "list-tags", "--tls-verify=false", "--creds", creds, target).stdout)["Tags"] == ["v1"]
    # Without credentials skopeo is refused.
    refused = run("skopeo", "inspect", "--tls-verify=false", f"{target}:v1", check=False)
    assert refused.returncode != 0 and ("401" in refused.stderr or "unauthorized" in refused.stderr.lower())


def test_skopeo_registry_to_registry_copy_mounts_blobs(server, registry, work):
    require("skopeo")
    make_layout(work / "img", seed="mount")
    registry.create("mount/source")
    registry.create("mount/target")
    creds = f"AWS:{registry.password}"
    base = f"docker://{server.authority}"
    run("skopeo", "copy", "--dest-tls-verify=false", "--dest-creds", creds,
        f"oci:{work}/img:v1", f"{base}/mount/source:v1")
    run("skopeo", "copy", "--src-tls-verify=false", "--dest-tls-verify=false", "--src-creds", creds, "--dest-creds", creds,
        f"{base}/mount/source:v1", f"{base}/mount/target:v1")
    time.sleep(0.2)
    # skopeo knows the layer is in mount/source and asks to mount it: answered 201, no bytes sent.
    from urllib.parse import unquote
    mounts = [unquote(line) for line in server.output if "/v2/mount/target/blobs/uploads/?" in line and "mount=" in line]
    assert mounts, "skopeo did not try to mount"
    assert all(" 201 " in line and "from=mount/source" in line for line in mounts), mounts
    run("skopeo", "copy", "--src-tls-verify=false", "--src-creds", creds, f"{base}/mount/target:v1", f"oci:{work}/back:v1")
    assert read_layout(work / "back")["layers"] == read_layout(work / "img")["layers"]


def podman_env(work: Path, authority: str):
    (work / "storage.conf").write_text(f'[storage]\ndriver = "vfs"\ngraphroot = "{work}/graph"\nrunroot = "{work}/run"\n')
    (work / "registries.conf").write_text(
        f'unqualified-search-registries = []\n[[registry]]\nlocation = "{authority}"\ninsecure = true\n')
    (work / "auth.json").write_text("{}")
    env = dict(os.environ)
    env.update(CONTAINERS_STORAGE_CONF=str(work / "storage.conf"), CONTAINERS_REGISTRIES_CONF=str(work / "registries.conf"),
               REGISTRY_AUTH_FILE=str(work / "auth.json"))
    return env


def test_podman_logs_in_pushes_and_pulls(server, registry, work):
    require("podman")
    image = make_layout(work / "img", seed="podman")
    registry.create("podman/app")
    env = podman_env(work, server.authority)
    podman = ["podman", "--cgroup-manager=cgroupfs", "--events-backend=file"]
    run(*podman, "login", "--tls-verify=false", "-u", "AWS", "--password-stdin", server.authority, input=registry.password, env=env)
    assert "AWS" in (work / "auth.json").read_text() or server.authority in (work / "auth.json").read_text()
    loaded = run(*podman, "pull", f"oci:{work}/img:v1", env=env).stdout.strip().splitlines()[-1]
    ref = f"{server.authority}/podman/app:v1"
    run(*podman, "tag", loaded, ref, env=env)
    run(*podman, "push", "--digestfile", str(work / "digest"), ref, env=env)
    pushed = (work / "digest").read_text().strip()
    run(*podman, "rmi", "-a", "-f", env=env)
    run(*podman, "pull", ref, env=env)
    inspect = json.loads(run(*podman, "image", "inspect", ref, env=env).stdout)[0]
    assert pushed in inspect["RepoDigests"][0]
    # The pulled layer holds the files we made.
    r = registry.request("GET", f"/v2/podman/app/manifests/{pushed}")
    layer_digest = r.json()["layers"][0]["digest"]
    layer = registry.request("GET", f"/v2/podman/app/blobs/{layer_digest}").body
    assert layer_files(layer)["hello.txt"] == image["files"]["hello.txt"]
    run(*podman, "logout", server.authority, env=env)
    refused = run(*podman, "pull", "--tls-verify=false", ref, env=env, check=False)
    assert refused.returncode != 0
    run(*podman, "rmi", "-a", "-f", env=env, check=False)


class Dockerd:
    """A private docker engine: its own data root, exec root and socket; image operations only."""

    def __init__(self, work: Path):
        self.work = work
        (work / "daemon.json").write_text("{}")
        self.log = open(work / "dockerd.log", "w")
        self.socket = work / "docker.sock"
        self.process = subprocess.Popen([
            "dockerd", "--config-file", str(work / "daemon.json"), "--iptables=false", "--ip6tables=false",
            "--ip-forward=false", "--ip-masq=false", "--bridge=none", "--storage-driver=vfs",
            "--data-root", str(work / "root"), "--exec-root", str(work / "exec"), "--pidfile", str(work / "dockerd.pid"),
            "-H", f"unix://{self.socket}"], stdout=self.log, stderr=subprocess.STDOUT)
        self.env = dict(os.environ, DOCKER_HOST=f"unix://{self.socket}", DOCKER_CONFIG=str(work / "cli"))
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if run("docker", "version", env=self.env, check=False).returncode == 0:
                return
            if self.process.poll() is not None:
                break
            time.sleep(0.5)
        self.stop()
        raise AssertionError("dockerd did not start:\n" + (work / "dockerd.log").read_text()[-3000:])

    def docker(self, *args, **kwargs):
        return run("docker", *args, env=self.env, **kwargs)

    def stop(self):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()


def test_docker_logs_in_pushes_and_pulls(server, registry, work):
    require("dockerd")
    require("docker")
    require("skopeo")
    image = make_layout(work / "img", seed="docker")
    run("skopeo", "copy", f"oci:{work}/img:v1", f"docker-archive:{work}/seed.tar:stowage/seed:v1")
    registry.create("docker/app")
    engine = Dockerd(work)
    try:
        engine.docker("load", "-i", str(work / "seed.tar"))
        ref = f"{server.authority}/docker/app:v1"
        engine.docker("login", "-u", "AWS", "--password-stdin", server.authority, input=registry.password)
        engine.docker("tag", "stowage/seed:v1", ref)
        pushed = engine.docker("push", ref).stdout
        assert "digest: sha256:" in pushed
        digest = pushed.split("digest: ")[1].split()[0]
        engine.docker("rmi", ref, "stowage/seed:v1")
        engine.docker("pull", ref)
        inspect = json.loads(engine.docker("image", "inspect", ref).stdout)[0]
        assert any(d.endswith(digest) for d in inspect["RepoDigests"])
        manifest = registry.request("GET", f"/v2/docker/app/manifests/{digest}")
        assert manifest.headers["Content-Type"] == "application/vnd.docker.distribution.manifest.v2+json"
        layer = registry.request("GET", f"/v2/docker/app/blobs/{manifest.json()['layers'][0]['digest']}").body
        assert layer_files(layer)["random.bin"] == image["files"]["random.bin"]
        engine.docker("logout", server.authority)
        engine.docker("rmi", ref)
        assert engine.docker("pull", ref, check=False).returncode != 0
    finally:
        engine.stop()


def test_oras_chunked_push_artifact_with_subject_and_referrers(server, registry, work, monkeypatch):
    oras = pytest.importorskip("oras.client", reason="pip install oras (make test does)")
    import oras.provider
    # oras-py sleeps minutes between retries; a failing request should fail the test at once.
    monkeypatch.setattr(oras.provider.Registry, "do_request", oras.provider.Registry.do_request.__wrapped__, raising=False)
    monkeypatch.chdir(work)
    registry.create("oras/artifacts")
    client = oras.client.OrasClient(hostname=server.authority, insecure=True, auth_backend="basic")
    client.auth.set_basic_auth("AWS", registry.password)
    payload = os.urandom(1_500_000)
    Path("data.bin").write_bytes(payload)
    target = f"{server.authority}/oras/artifacts:v1"
    response = client.push(target=target, files=["data.bin"], do_chunked=True, chunk_size=400_000)
    assert response.status_code in (200, 201)
    patches = [line for line in server.output if "PATCH /v2/oras/artifacts/blobs/uploads/" in line and " 202 " in line]
    assert len(patches) >= 3, "oras should have pushed in several chunks"
    Path("out").mkdir()
    pulled = client.pull(target=target, outdir="out")
    assert Path(pulled[0]).read_bytes() == payload
    assert client.get_tags(f"{server.authority}/oras/artifacts") == ["v1"]
    # An artifact whose subject is v1, found through the referrers API.
    subject_digest = registry.request("HEAD", "/v2/oras/artifacts/manifests/v1").headers["Docker-Content-Digest"]
    manifest = registry.request("GET", "/v2/oras/artifacts/manifests/v1")
    Path("signature.txt").write_text("signed by stowage tests")
    from oras.oci import Subject
    subject = Subject(mediaType=manifest.headers["Content-Type"], digest=subject_digest, size=len(manifest.body))
    client.push(target=f"{server.authority}/oras/artifacts:sig", files=["signature.txt"], subject=subject,
                manifest_config=None)
    referrers = registry.request("GET", f"/v2/oras/artifacts/referrers/{subject_digest}").json()["manifests"]
    assert len(referrers) == 1
    assert referrers[0]["digest"] == registry.request("HEAD", "/v2/oras/artifacts/manifests/sig").headers["Docker-Content-Digest"]
