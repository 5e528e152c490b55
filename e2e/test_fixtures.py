"""`stowage serve --fixture`: exports and OCI image layouts (tars and directories) loaded before the
server answers, checkpointed as `fixture`, and `reset --to fixture` to come back in O(1)."""

import subprocess
import tarfile

from conftest import BINARY
from commands import stowage
from images import make_layout
from registry import Registry


def layouts(tmp_path):
    directory = tmp_path / "layout-dir"
    from_dir = make_layout(directory, tag="v1", seed="directory")
    make_layout(tmp_path / "for-tar", tag="v2", seed="tar")
    archive = tmp_path / "layout.tar"
    with tarfile.open(archive, mode="w") as tar:
        tar.add(tmp_path / "for-tar", arcname=".")
    return directory, archive, from_dir


def test_fixtures_load_before_the_server_answers_and_reset_returns_to_them(start_server, tmp_path):
    source = start_server("--ephemeral", "--auth", "none")
    Registry(source).create("base/app")
    _, exported = Registry(source).push_image("base/app", "stable")
    export = tmp_path / "base.stowage"
    stowage("export", export, "--server", source.url)
    source.kill()
    directory, archive, from_dir = layouts(tmp_path)

    server = start_server("--ephemeral", "--auth", "none", "--fixture", f"dir/app={directory}",
                          "--fixture", f"tar/app={archive}", "--fixture", str(export))
    printed = "".join(server.output)
    assert "checkpoint fixture at record" in printed and "into dir/app, tags v1" in printed
    registry = Registry(server)
    catalog = registry.request("GET", "/v2/_catalog").json()["repositories"]
    assert catalog == ["base/app", "dir/app", "tar/app"]
    assert registry.request("GET", "/v2/dir/app/manifests/v1").body == from_dir["manifest"]
    assert registry.request("GET", "/v2/tar/app/tags/list").json()["tags"] == ["v2"]
    url = ["--server", server.url]
    # A test writes, deletes, resets...
    registry.push_image("tar/app", "v3", layers=(b"a test's layer",))
    assert registry.request("DELETE", f"/v2/base/app/manifests/{exported}").status == 202
    stowage("reset", *url)
    assert registry.request("GET", "/v2/_catalog").json()["repositories"] == []
    # ... and comes back to the fixtures in one call.
    assert "reset to checkpoint fixture" in stowage("reset", "--to", "fixture", *url).stdout
    assert registry.request("GET", "/v2/_catalog").json()["repositories"] == catalog
    assert registry.request("GET", "/v2/tar/app/tags/list").json()["tags"] == ["v2"]
    assert registry.request("GET", f"/v2/base/app/manifests/{exported}").status == 200
    status, body = server.json("POST", "/_admin/reset?to=fixture")
    assert status == 200 and body["checkpoint"] == "fixture"
    assert server.json("POST", "/_admin/reset?to=fixture&account=000000000000")[0] == 400
    assert server.json("POST", "/_admin/reset?to=nosuch")[1]["error"]["code"] == "HistoryUnavailable"


def test_fixtures_that_cannot_load_stop_the_server_with_the_reason(tmp_path):
    directory, archive, _ = layouts(tmp_path)

    def serve(*fixtures):
        args = [a for f in fixtures for a in ("--fixture", str(f))]
        return stowage("serve", "--ephemeral", "--port", "0", *args, check=False)

    missing = serve(tmp_path / "nothing")
    assert missing.returncode == 2 and "does not exist" in missing.stderr
    unnamed = serve(archive)
    assert unnamed.returncode == 2 and f"--fixture team/app={archive}" in unnamed.stderr
    junk = tmp_path / "junk.bin"
    junk.write_bytes(b"neither" * 200)
    refused = serve(f"x/y={junk}")
    assert refused.returncode == 2 and "neither an export file nor an OCI image layout" in refused.stderr
    empty = tmp_path / "empty.stowage"
    start = subprocess.Popen([str(BINARY), "serve", "--ephemeral", "--port", "0"], stdout=subprocess.PIPE, text=True)
    try:
        url = start.stdout.readline().split()[-1]
        stowage("export", empty, "--server", url)
    finally:
        start.kill()
        start.wait()
    twice = serve(empty, empty)
    assert twice.returncode == 2 and "at most one export file" in twice.stderr
