"""The `stowage` admin commands against a real server, and `stowage inspect` offline."""

import json
import subprocess

from conftest import BINARY
from registry import Registry, digest


def stowage(*args, check=True):
    result = subprocess.run([str(BINARY), *map(str, args)], capture_output=True, text=True, timeout=120)
    if check:
        assert result.returncode == 0, result.stderr
    return result


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
    assert "cli/app" in state and "v1, v2" in state
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
