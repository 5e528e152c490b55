"""The `stowage` admin commands against a real server, and `stowage inspect` offline."""

import json
import os
import socket
import subprocess
import tarfile
import time

import boto3
import pytest
from botocore.config import Config
from conftest import BINARY
from commands import stowage
from images import make_layout
from registry import Registry, digest


def test_the_admin_commands_drive_a_running_server(start_server, tmp_path):
    data = tmp_path / "data"
    server = start_server("--data-dir", str(data), "--auth", "none")
    url = ["--server", server.url]
    registry = Registry(server)
    registry.create("cli/app")
    registry.push_image("cli/app", "v1")
    assert "checkpoint base at sequence" in stowage("checkpoint", "base", *url).stdout
    registry.push_image("cli/app", "v2", layers=(b"v2 layer",))
    state = stowage("state", *url).stdout
    assert "cli/app  2 image(s)" in state and "  v1\n" in state and "  v2\n" in state
    assert "rewound to checkpoint base" in stowage("rewind", "base", *url).stdout
    assert registry.request("GET", "/v2/cli/app/tags/list").json()["tags"] == ["v1"]
    export = tmp_path / "fixture.stowage"
    assert "exported" in stowage("export", export, *url).stdout
    assert "reset at sequence" in stowage("reset", *url).stdout
    assert registry.request("GET", "/v2/_catalog").json()["repositories"] == []
    assert "imported 1 repositories, 1 images" in stowage("import", export, *url).stdout
    assert registry.request("GET", "/v2/cli/app/tags/list").json()["tags"] == ["v1"]
    # An upload with a refused chunk, told by `log` and `upload`.
    start = registry.start_upload("cli/app")
    registry.request("PATCH", start.headers["Location"], body=b"abc", headers={"Content-Range": "4-6"})
    registry.request("PATCH", start.headers["Location"], body=b"abc")
    registry.request("PUT", start.headers["Location"] + "?digest=" + digest(b"abc"))
    story = stowage("upload", start.headers["Docker-Upload-UUID"], *url).stdout
    assert "committed" in story and "REFUSED" in story and "bytes 4+3" in story
    assert "committed  3 bytes  -> " + digest(b"abc") in stowage("uploads", *url).stdout
    log = stowage("log", "--upload", start.headers["Docker-Upload-UUID"], *url).stdout.splitlines()
    assert len(log) == 4 and "REFUSED" in log[1]
    records = [json.loads(line) for line in stowage("log", "--kind", "restore", "--json", *url).stdout.splitlines()]
    assert [r["kind"] for r in records] == ["restore", "restore"]
    assert stowage("clock", "--advance", "1h", *url).stdout.strip()
    assert "repositories: 1" in stowage("stats", *url).stdout
    assert json.loads(stowage("stats", "--json", *url).stdout)["repositories"] == 1
    refused = stowage("rewind", "no-such-checkpoint", *url, check=False)
    assert refused.returncode == 1 and "no checkpoint named" in refused.stderr
    assert stowage("reset", "--server", "http://127.0.0.1:9", check=False).returncode == 1
    # Offline: inspect the export, the data directory, and a damaged copy.
    assert "export" in stowage("inspect", export).stdout
    server.terminate()
    inspected = json.loads(stowage("inspect", data, "--json").stdout)
    assert inspected["checksumsHold"] is True and inspected["segments"]
    damaged = bytearray(export.read_bytes())
    damaged[-3] ^= 0xFF
    (tmp_path / "damaged.stowage").write_bytes(bytes(damaged))
    bad = stowage("inspect", tmp_path / "damaged.stowage", check=False)
    assert bad.returncode == 1 and "checksum" in bad.stdout


def test_the_login_line_works_as_printed_on_any_port(start_server):
    server = start_server("--ephemeral")
    login = next(line for line in server.output if line.startswith("log in: "))
    asked = login.removeprefix("log in: ").split(" | ")[0].split()
    assert asked[:3] == ["stowage", "login-password", "--server"] and asked[3] == server.authority
    password = stowage(*asked[1:]).stdout.strip()
    assert Registry(server, password=password).request("GET", "/v2/").status == 200
    # A bare host:port, from STOWAGE_SERVER as from --server; --help says where the default comes from.
    environment = {**os.environ, "STOWAGE_SERVER": server.authority}
    health = subprocess.run([str(BINARY), "health"], capture_output=True, text=True, env=environment, timeout=60)
    assert health.returncode == 0 and health.stdout.startswith("ok at record"), health.stderr
    assert "$STOWAGE_SERVER" in stowage("log", "--help").stdout


def test_with_an_admin_port_the_login_line_asks_the_admin_listener(start_server):
    server = start_server("--ephemeral", "--admin-port", "0")
    login = server.line("log in: ")
    admin = server.line("Admin API on ").split()[-1]
    asked = login.removeprefix("log in: ").split(" | ")[0].split()
    assert "http://" + asked[3] + "/_admin" == admin and login.endswith(server.authority)
    assert len(stowage(*asked[1:]).stdout.strip()) > 20


def test_an_unknown_command_is_named_with_a_suggestion():
    typo = stowage("uplods", check=False)
    assert typo.returncode == 64 and "unknown command 'uplods'; did you mean 'uploads'?" in typo.stderr
    unknown = stowage("frobnicate", "--port", "1", check=False)
    assert unknown.returncode == 64 and "unknown command 'frobnicate'" in unknown.stderr
    assert "did you mean" not in unknown.stderr and "tag-history" in unknown.stderr


def test_a_port_in_use_is_named(start_server):
    server = start_server("--ephemeral")
    port = server.authority.split(":")[1]
    second = stowage("serve", "--ephemeral", "--port", port, check=False)
    assert second.returncode == 2 and f"port {port} is in use" in second.stderr, second.stderr
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        admin = str(taken.getsockname()[1])
        third = stowage("serve", "--ephemeral", "--port", "0", "--admin-port", admin, check=False)
    assert third.returncode == 2 and f"port {admin} is in use" in third.stderr and "--admin-port" in third.stderr


def test_every_admin_endpoint_has_a_verb_that_reads_at_a_glance(start_server, tmp_path):
    server = start_server("--data-dir", str(tmp_path / "data"), "--auth", "none")
    url = ["--server", server.authority]
    registry = Registry(server)
    assert "created " + server.authority + "/cli/app" in stowage("repositories", "--create", "cli/app", *url).stdout
    _, first = registry.push_image("cli/app", "v1")
    stowage("checkpoint", "base", *url)
    _, second = registry.push_image("cli/app", "v1", layers=(b"second layer",))
    stowage("checkpoint", "moved", *url)
    # log: what changed, at a glance; --limit honoured; --kind validated on the CLI and the API.
    log = stowage("log", *url).stdout.splitlines()
    put = [line for line in log if " putManifest " in line]
    assert len(put) == 2 and "v1" in put[0] and first in put[0] and second in put[1]
    assert len(stowage("log", "--limit", "2", *url).stdout.splitlines()) == 2
    bad = stowage("log", "--kind", "nosuch", *url, check=False)
    assert bad.returncode != 0 and "--kind must be one of" in bad.stderr and "putManifest" in bad.stderr
    assert server.json("GET", "/_admin/log?kind=nosuch")[0] == 400
    # diff and tag-history name both digests, and the cause.
    diff = stowage("diff", "base", "moved", *url).stdout
    assert f"~ tag v1: {first} -> {second}" in diff and "~ repository cli/app" in diff
    assert f"+ image {second}" in diff
    history = stowage("tag-history", "cli/app", "v1", *url).stdout.splitlines()
    assert first in history[1] and "PUT /v2" in history[1] and second in history[2]
    rewound = stowage("rewind", "base", *url).stdout
    assert "rewound to checkpoint base" in rewound
    restore = stowage("log", "--kind", "restore", *url).stdout
    assert "rewind to checkpoint base" in restore
    history = stowage("tag-history", "cli/app", "v1", *url).stdout.splitlines()
    assert first in history[3] and "rewind to checkpoint base" in history[3]
    # state at two points differs where the registry did.
    at_base = stowage("state", "--at", "base", *url).stdout
    at_moved = stowage("state", "--at", "moved", *url).stdout
    assert f"{first}  v1" in at_base and second not in at_base
    assert f"{first}  untagged" in at_moved and f"{second}  v1" in at_moved
    checkpoints = stowage("checkpoints", *url).stdout.splitlines()
    assert [line.split()[0] for line in checkpoints] == ["base", "moved"]
    # uploads, and one upload's story.
    start = registry.start_upload("cli/app")
    uuid = start.headers["Docker-Upload-UUID"]
    registry.request("PATCH", start.headers["Location"], body=b"abc")
    uploads = stowage("uploads", *url).stdout
    assert uuid in uploads.splitlines()[0] and "in flight" in uploads and "3 bytes" in uploads.splitlines()[0]
    # clock, with a negative duration as its own word.
    before = stowage("clock", *url).stdout.strip()
    after = stowage("clock", "--advance", "-1d", *url).stdout.strip()
    assert after[:10] < before[:10]
    # compact, lifecycle, scan-findings, health.
    assert stowage("compact", *url).stdout.startswith("snapshot at record ")
    assert stowage("lifecycle", *url).stdout.strip() == "nothing expired"
    seeded = stowage("scan-findings", second, "CVE-2024-1234:HIGH", *url).stdout
    assert "find 1 finding(s)" in seeded
    wrong = stowage("scan-findings", second, "CVE-2024-1234:SEVERE", *url, check=False)
    assert wrong.returncode == 1 and "severity must be one of" in wrong.stderr
    assert stowage("health", *url).stdout.startswith("ok at record ")
    assert "cli/app  1 image(s)  1 tag(s)" in stowage("repositories", *url).stdout


def test_log_follow_starts_now_and_writes_each_record_as_it_comes(start_server):
    server = start_server("--ephemeral", "--auth", "none")
    registry = Registry(server)
    registry.create("follow/old")
    follower = subprocess.Popen(
        [str(BINARY), "log", "--follow", "--server", server.url], stdout=subprocess.PIPE, text=True)
    try:
        time.sleep(1)
        registry.create("follow/new")
        line = follower.stdout.readline()
        assert " createRepository " in line and "follow/new" in line, line
    finally:
        follower.kill()
        follower.wait()


def test_imports_say_what_they_did_and_how_to_do_what_was_meant(start_server, tmp_path):
    server = start_server("--ephemeral", "--auth", "none")
    url = ["--server", server.url]
    archives = []
    for seed in ("one", "two"):
        make_layout(tmp_path / seed, tag="v7", seed=seed)
        archive = tmp_path / f"{seed}.tar"
        with tarfile.open(archive, mode="w") as tar:
            tar.add(tmp_path / seed, arcname=".")
        archives.append(archive)
    mistaken = stowage("import", archives[0], *url, check=False)
    assert mistaken.returncode == 1 and "this is a tar archive" in mistaken.stderr
    assert "--oci-layout --repository" in mistaken.stderr
    first = stowage("import", "--oci-layout", "--repository", "fix/app", archives[0], *url).stdout
    assert "tag v7 -> sha256:" in first and "(new)" in first
    again = stowage("import", "--oci-layout", "--repository", "fix/app", archives[0], *url).stdout
    assert "no tag moved" in again
    moved = stowage("import", "--oci-layout", "--repository", "fix/app", archives[1], *url).stdout
    old = first.split("tag v7 -> ")[1].split()[0]
    assert f"(moved from {old})" in moved


def test_ecr_messages_name_what_was_sent(start_server):
    server = start_server("--ephemeral")
    ecr = boto3.client(
        "ecr", endpoint_url=server.url, region_name="us-east-1", aws_access_key_id="test",
        aws_secret_access_key="test", config=Config(retries={"max_attempts": 1}))
    ecr.create_repository(repositoryName="msg/app")
    with pytest.raises(ecr.exceptions.ImageNotFoundException) as missing:
        ecr.describe_images(repositoryName="msg/app", imageIds=[{"imageTag": "nope"}])
    message = missing.value.response["Error"]["Message"]
    assert '{"imageTag":"nope"}' in message and "[" not in message and "msg/app" in message
    status, _, body = server.request(
        "POST", "/", b'{"repositoryName": "msg/app",}',
        headers={"X-Amz-Target": "AmazonEC2ContainerRegistry_V20150921.DescribeRepositories",
                 "Content-Type": "application/x-amz-json-1.1"})
    answer = json.loads(body)
    assert status == 400 and answer["__type"] == "SerializationException" and "trailing comma" in answer["message"]
