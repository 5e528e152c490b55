"""Recordings: the history of a real server saved with `stowage export --history`, served
read-only by `stowage serve --replay`, and walked with real clients at any point."""

import json

import pytest
from commands import stowage, skopeo, ecr
from images import make_layout
from registry import Registry, digest


@pytest.fixture
def recorded(start_server, tmp_path):
    """A CI job's registry: an image pushed by skopeo, a checkpoint, an upload that went wrong twice
    before it succeeded, the tag moved to another image, a second checkpoint; saved as a recording."""
    server = start_server("--data-dir", str(tmp_path / "data"), "--auth", "none")
    url = ["--server", server.url]
    registry = Registry(server)
    stowage("repositories", "--create", "ci/app", *url)
    first = make_layout(tmp_path / "first", tag="v1", seed="first")
    second = make_layout(tmp_path / "second", tag="v1", seed="second")
    target = f"docker://{server.authority}/ci/app:v1"
    skopeo("copy", "--dest-tls-verify=false", f"oci:{tmp_path}/first:v1", target)
    stowage("checkpoint", "before", *url)
    start = registry.start_upload("ci/app")
    location, upload = start.headers["Location"], start.headers["Docker-Upload-UUID"]
    assert registry.request("PATCH", location, body=b"world", headers={"Content-Range": "5-9"}).status == 416
    location = registry.request("PATCH", location, body=b"hello").headers["Location"]
    wrong = registry.request("PUT", location + "?digest=" + digest(b"something else"))
    assert wrong.status == 400 and wrong.errors() == ["DIGEST_INVALID"]
    assert registry.request("PUT", location + "?digest=" + digest(b"hello")).status == 201
    skopeo("copy", "--dest-tls-verify=false", f"oci:{tmp_path}/second:v1", target)
    stowage("checkpoint", "after", *url)
    recording = tmp_path / "ci.stowage-recording"
    assert "stowage serve --replay" in stowage("export", "--history", recording, *url).stdout
    since = tmp_path / "since.stowage-recording"
    stowage("export", "--history", "--since", "before", since, *url)
    server.terminate()
    return {"file": recording, "since": since, "first": first, "second": second, "upload": upload,
            "tmp": tmp_path}


def test_a_recording_replays_read_only_at_any_point_with_real_clients(start_server, recorded):
    replay = start_server("--replay", str(recorded["file"]), "--auth", "none")
    assert any("read-only" in line for line in replay.output)
    url = ["--server", replay.url]
    tmp = recorded["tmp"]
    source = f"docker://{replay.authority}/ci/app:v1"
    # At its end: the tag names the second image; skopeo pulls it, bytes and all.
    raw = skopeo("inspect", "--raw", "--tls-verify=false", source).stdout.encode()
    assert raw == recorded["second"]["manifest"]
    skopeo("copy", "--src-tls-verify=false", source, f"oci:{tmp}/pulled-end:v1")
    # Moved to the first checkpoint: every reader sees the first image.
    assert "checkpoint before" in stowage("replay", "before", *url).stdout
    skopeo("copy", "--src-tls-verify=false", source, f"oci:{tmp}/pulled-before:v1")
    index = json.loads((tmp / "pulled-before" / "index.json").read_text())
    assert index["manifests"][0]["digest"] == recorded["first"]["manifest_digest"]
    layer = recorded["first"]["layer_digest"].split(":")[1]
    assert (tmp / "pulled-before" / "blobs" / "sha256" / layer).read_bytes() == recorded["first"]["layer"]
    client = ecr(replay)
    described = client.describe_images(repositoryName="ci/app")["imageDetails"]
    assert [d["imageDigest"] for d in described] == [recorded["first"]["manifest_digest"]]
    status, view = replay.json("GET", "/_admin/replay")
    assert status == 200 and view["checkpoint"] == "before" and view["at"] < view["end"]
    # The whole history is still there to read: the story of the upload, the diff, the tag's moves.
    story = stowage("upload", recorded["upload"], *url).stdout
    assert story.count("REFUSED") == 2 and "committed" in story and digest(b"hello") in story
    diff = stowage("diff", "before", "after", *url).stdout
    assert f"~ tag v1: {recorded['first']['manifest_digest']} -> {recorded['second']['manifest_digest']}" in diff
    moves = stowage("tag-history", "ci/app", "v1", *url).stdout
    assert recorded["first"]["manifest_digest"] in moves and recorded["second"]["manifest_digest"] in moves
    # Nothing can be written, on any face, and nothing was logged by trying.
    end = replay.json("GET", "/_admin/replay")[1]["end"]
    pushed = skopeo("copy", "--dest-tls-verify=false", f"oci:{tmp}/pulled-end:v1",
                    f"docker://{replay.authority}/ci/other:v1", check=False)
    assert pushed.returncode != 0
    with pytest.raises(client.exceptions.ClientError) as refused:
        client.create_repository(repositoryName="ci/new")
    assert refused.value.response["Error"]["Code"] == "UnsupportedOperationException"
    status, body = replay.json("POST", "/_admin/reset")
    assert status == 409 and body["error"]["code"] == "ReadOnly"
    rewind = stowage("rewind", "before", *url, check=False)
    assert rewind.returncode == 1 and "read-only" in rewind.stderr
    assert json.loads(stowage("log", "--json", "--limit", "1", "--after", str(end - 1), *url).stdout)["sequence"] == end
    assert stowage("log", "--after", str(end), *url).stdout == ""
    # And back to its end.
    stowage("replay", "after", *url)
    assert skopeo("inspect", "--raw", "--tls-verify=false", source).stdout.encode() == recorded["second"]["manifest"]


def test_a_recording_since_a_checkpoint_starts_there_and_opens_at_a_point(start_server, recorded):
    inspected = json.loads(stowage("inspect", recorded["since"], "--json").stdout)
    assert inspected["kind"] == "recording" and inspected["valid"] is True and inspected["firstSequence"] > 1
    replay = start_server("--replay", str(recorded["since"]), "--at", "before", "--auth", "none")
    registry = Registry(replay)
    assert registry.request("GET", "/v2/ci/app/manifests/v1").body == recorded["first"]["manifest"]
    status, view = replay.json("GET", "/_admin/replay")
    assert status == 200 and view["replaying"] and view["at"] == view["start"] == inspected["firstSequence"] - 1


def test_a_damaged_recording_is_refused_and_a_live_server_does_not_move(start_server, recorded, tmp_path):
    damaged = bytearray(recorded["file"].read_bytes())
    damaged[len(damaged) // 2] ^= 0xFF
    (tmp_path / "damaged").write_bytes(bytes(damaged))
    result = stowage("serve", "--replay", tmp_path / "damaged", "--port", "0", check=False)
    assert result.returncode == 2 and "checksum" in result.stderr
    export = stowage("serve", "--replay", tmp_path / "nothing-here", "--port", "0", check=False)
    assert export.returncode == 2 and "cannot read the recording" in export.stderr
    live = start_server("--ephemeral")
    status, body = live.json("POST", "/_admin/replay", {"at": 0})
    assert status == 409 and body["error"]["code"] == "NotReplaying"
    assert "live, not a replay" in stowage("replay", "--server", live.url).stdout
