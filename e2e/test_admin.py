"""The /_admin API against a real server: reset, checkpoints, rewind, export and import, the log,
the state at a point, upload timelines, the clock."""

import io
import json
import tarfile
import time
import urllib.request
import zlib

import pytest
from conftest import Server
from images import make_layout
from registry import Registry, digest


@pytest.fixture
def server(start_server, tmp_path):
    return start_server("--data-dir", str(tmp_path / "data"), "--auth", "none", "--snapshot-every", "25")


@pytest.fixture
def registry(server):
    return Registry(server)


def registry_view(registry):
    """Everything /v2 answers about every repository: catalog, tags, manifests, blobs."""
    view = {}
    for name in registry.request("GET", "/v2/_catalog").json()["repositories"]:
        tags = registry.request("GET", f"/v2/{name}/tags/list").json()["tags"]
        manifests = {}
        for tag in tags:
            m = registry.request("GET", f"/v2/{name}/manifests/{tag}")
            parsed = m.json()
            blobs = [registry.request("GET", f"/v2/{name}/blobs/{d['digest']}").body for d in [parsed["config"]] + parsed["layers"]]
            manifests[tag] = (m.body, m.headers["Content-Type"], blobs)
        view[name] = manifests
    return view


def test_reset_empties_everything_even_with_uploads_in_flight(server, registry):
    registry.create("reset/app")
    registry.push_image("reset/app", "v1")
    location = registry.start_upload("reset/app").headers["Location"]
    registry.request("PATCH", location, body=b"half an upload")
    status, body = server.json("POST", "/_admin/reset")
    assert status == 200 and body["sequence"] > 0
    assert registry.request("GET", "/v2/_catalog").json() == {"repositories": []}
    assert registry.request("PATCH", location, body=b"more").errors() == ["NAME_UNKNOWN"]
    registry.create("reset/app")
    assert registry.request("GET", location).errors() == ["BLOB_UPLOAD_UNKNOWN"]
    stats = server.json("GET", "/_admin/stats")[1]
    assert stats["uploadsInFlight"] == 0 and stats["images"] == 0 and stats["repositories"] == 1


def test_reset_of_one_account_region_leaves_the_others(server, registry):
    registry.create("everywhere/app")
    assert server.json("POST", "/_admin/repositories?account=123456789012&region=eu-west-1", {"name": "elsewhere/app"})[0] == 201
    assert server.json("POST", "/_admin/reset?account=123456789012&region=eu-west-1")[0] == 200
    assert server.json("GET", "/_admin/repositories?account=123456789012&region=eu-west-1")[1] == {"repositories": []}
    assert [r["name"] for r in server.json("GET", "/_admin/repositories")[1]["repositories"]] == ["everywhere/app"]


def test_checkpoint_rewind_then_push_again(server, registry):
    registry.create("cp/app")
    registry.push_image("cp/app", "v1", layers=(b"first",))
    baseline = registry_view(registry)
    status, checkpoint = server.json("POST", "/_admin/checkpoints", {"name": "baseline"})
    assert status == 201 and checkpoint["name"] == "baseline"
    registry.push_image("cp/app", "v2", layers=(b"second",))
    registry.create("cp/other")
    assert server.json("DELETE", "/v2/cp/app/manifests/v1")[0] == 202
    status, rewound = server.json("POST", "/_admin/rewind", {"to": "baseline"})
    assert status == 200 and rewound["checkpoint"] == "baseline" and rewound["restored"] == checkpoint["sequence"]
    assert registry_view(registry) == baseline
    # The registry works on from the rewound state, and rewinding is itself history.
    registry.push_image("cp/app", "v3", layers=(b"third",))
    assert registry.request("GET", "/v2/cp/app/tags/list").json()["tags"] == ["v1", "v3"]
    kinds = [r["kind"] for r in server.json("GET", "/_admin/log?kind=restore")[1]["records"]]
    assert kinds == ["restore"]
    assert server.json("GET", "/_admin/checkpoints")[1]["checkpoints"][0]["name"] == "baseline"
    # Rewinding to a sequence number works too, and undoes the rewind.
    status, to_sequence = server.json("POST", "/_admin/rewind", {"to": rewound["sequence"] - 1})
    assert status == 200
    assert "v2" in registry.request("GET", "/v2/cp/app/tags/list").json()["tags"]
    assert server.json("POST", "/_admin/rewind", {"to": "nope"})[0] == 409
    assert server.json("POST", "/_admin/rewind", {"to": 10 ** 9})[0] == 409
    assert server.json("POST", "/_admin/rewind", {"wrong": 1})[0] == 400


def test_rewind_survives_a_restart(start_server, tmp_path):
    data = str(tmp_path / "data")
    server = start_server("--data-dir", data, "--auth", "none", "--snapshot-every", "7")
    registry = Registry(server)
    registry.create("restart/app")
    registry.push_image("restart/app", "v1")
    server.json("POST", "/_admin/checkpoints", {"name": "base"})
    for i in range(5):
        registry.push_image("restart/app", f"t{i}", layers=(f"layer {i}".encode(),))
    server.json("POST", "/_admin/rewind", {"to": "base"})
    before = registry_view(registry)
    server.terminate()
    again = start_server("--data-dir", data, "--auth", "none")
    assert registry_view(Registry(again)) == before
    assert again.json("POST", "/_admin/rewind", {"to": "base"})[0] == 200


def test_export_then_import_into_a_fresh_server_gives_identical_answers_and_bytes(start_server, tmp_path, registry, server):
    registry.create("fixture/app")
    registry.create("fixture/base")
    registry.push_image("fixture/app", "v1", layers=(b"app layer", b"second layer"))
    registry.push_image("fixture/base", "latest", layers=(b"base layer",))
    status, _, exported = server.request("GET", "/_admin/export")
    assert status == 200 and exported[:8] == b"STOWEXPT"
    assert server.request("GET", "/_admin/export")[2] == exported  # the same state exports to the same bytes
    fresh = start_server("--ephemeral", "--auth", "none")
    status, imported = fresh.json("POST", "/_admin/import", exported)
    assert status == 200, imported
    # One config shared by both images, three layers.
    assert imported["repositories"] == 2 and imported["images"] == 2 and imported["blobs"] == 4
    assert registry_view(Registry(fresh)) == registry_view(registry)
    assert fresh.request("GET", "/_admin/export")[2] == exported
    # Without blobs: importable where the blobs already are, refused where they are not.
    without = server.request("GET", "/_admin/export?blobs=false")[2]
    assert len(without) < len(exported)
    assert fresh.json("POST", "/_admin/import", without)[0] == 200
    empty = start_server("--ephemeral", "--auth", "none")
    status, body = empty.json("POST", "/_admin/import", without)
    assert status == 400 and "lacks" in body["error"]["message"]


def test_damaged_imports_are_refused_and_nothing_changes(server, registry):
    registry.create("keep/app")
    registry.push_image("keep/app", "v1")
    exported = server.request("GET", "/_admin/export")[2]
    before = server.request("GET", "/_admin/export")[2]
    flipped = bytearray(exported)
    flipped[-10] ^= 0xFF
    wrong_version = bytearray(exported)
    wrong_version[8] = 9
    bomb_payload = zlib.compress(b"\0" * (64 << 20), 9)
    header = b"STOWEXPT" + (1).to_bytes(4, "little") + (1).to_bytes(4, "little") + (64 << 20).to_bytes(8, "little") \
        + zlib.crc32(bomb_payload).to_bytes(4, "little")
    bomb = header + zlib.crc32(header).to_bytes(4, "little") + bomb_payload
    cases = {"truncated": exported[: len(exported) // 2], "flipped": bytes(flipped), "wrong version": bytes(wrong_version),
             "not an export": b"hello world, this is not an export", "empty": b""}
    for name, body in cases.items():
        status, answer = server.json("POST", "/_admin/import", body)
        assert status == 400, (name, answer)
        assert answer["error"]["code"] == "InvalidImport" and "nothing changed" in answer["error"]["message"]
    small = Server("--ephemeral", "--auth", "none", "--max-import-bytes", str(1 << 20))
    try:
        status, answer = small.json("POST", "/_admin/import", bomb)
        assert status == 400 and "limit" in answer["error"]["message"], answer
        assert small.json("GET", "/_admin/health")[0] == 200
    finally:
        small.kill()
    assert server.request("GET", "/_admin/export")[2] == before
    assert registry.request("GET", "/v2/keep/app/tags/list").json()["tags"] == ["v1"]


def test_an_upload_with_a_wrong_chunk_and_a_wrong_digest_tells_its_whole_story(server, registry):
    registry.create("story/app")
    start = registry.start_upload("story/app")
    location = start.headers["Location"]
    upload_id = start.headers["Docker-Upload-UUID"]
    registry.request("PATCH", location, body=b"12345", headers={"Content-Range": "0-4"})
    assert registry.request("PATCH", location, body=b"890", headers={"Content-Range": "7-9"}).status == 416
    registry.request("PATCH", location, body=b"678", headers={"Content-Range": "5-7"})
    assert registry.request("PUT", f"{location}?digest={digest(b'wrong')}").status == 400
    assert registry.request("PUT", f"{location}?digest={digest(b'12345678')}").status == 201
    status, story = server.json("GET", f"/_admin/uploads/{upload_id}")
    assert status == 200
    assert story["status"] == "committed" and story["blob"] == digest(b"12345678") and story["repository"] == "story/app"
    events = [(e["event"], e.get("offset"), e.get("length"), "refused" in e) for e in story["events"]]
    assert events == [("started", None, None, False), ("chunk", 0, 5, False), ("chunk", 7, 3, True), ("chunk", 5, 3, False),
                      ("commit", None, None, True), ("commit", None, None, False)]
    wrong = story["events"][4]
    assert wrong["claimed"] == digest(b"wrong") and wrong["computed"] == digest(b"12345678")
    assert "stands at byte 5" in story["events"][2]["refused"]
    listed = server.json("GET", "/_admin/uploads")[1]["uploads"]
    assert any(u["id"] == upload_id and u["refusals"] == 2 for u in listed)
    log = server.json("GET", f"/_admin/log?upload={upload_id}")[1]["records"]
    assert [r["applied"] for r in log] == [True, True, False, True, False, True]
    assert server.json("GET", "/_admin/uploads/nope")[0] == 404


def test_state_at_a_point_before_and_after_a_delete(server, registry):
    registry.create("past/app")
    _, d = registry.push_image("past/app", "v1")
    before_delete = server.json("GET", "/_admin/health")[1]["sequence"]
    time.sleep(0.05)
    moment = server.json("GET", "/_admin/clock")[1]["now"]
    time.sleep(0.05)
    registry.request("DELETE", f"/v2/past/app/manifests/{d}")
    def tags_at(at):
        status, state = server.json("GET", f"/_admin/state?at={at}")
        assert status == 200, state
        repos = state["registries"][0]["repositories"]
        return repos[0]["tags"]
    assert tags_at(before_delete) == {"v1": d}
    assert tags_at(urllib.request.quote(moment)) == {"v1": d}
    assert server.json("GET", "/_admin/state")[1]["registries"][0]["repositories"][0]["tags"] == {}
    assert server.json("GET", "/_admin/state?at=999999")[0] == 410
    assert server.json("GET", "/_admin/state?at=yesterday")[0] == 400


def test_the_clock_moves_a_token_past_its_expiry(start_server, tmp_path):
    server = start_server("--ephemeral")
    registry = Registry(server).login()
    assert registry.request("GET", "/v2/").status == 200
    status, clock = server.json("POST", "/_admin/clock", {"advance": "11h59m"})
    assert status == 200
    assert registry.request("GET", "/v2/").status == 200
    server.json("POST", "/_admin/clock", {"advance": "2m"})
    expired = registry.request("GET", "/v2/")
    assert expired.status == 401 and "expired" in expired.json()["errors"][0]["message"]
    assert server.json("POST", "/_admin/clock", {"set": "2030-01-01T00:00:00Z"})[1]["now"].startswith("2030-01-01T00:00:00")
    assert server.json("POST", "/_admin/clock", {"advance": "soon"})[0] == 400
    assert server.json("POST", "/_admin/clock", {})[0] == 400
    # Commands are stamped with the server's clock.
    Registry(server).login()
    server.json("POST", "/_admin/repositories", {"name": "clock/app"})
    assert server.json("GET", "/_admin/log?kind=createRepository")[1]["records"][0]["time"].startswith("2030-01-01")


def test_the_log_stream_delivers_records_as_they_happen(server, registry):
    import http.client
    import threading
    host, port = server.authority.split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=30)
    connection.request("GET", "/_admin/log/stream?kind=createRepository")
    response = connection.getresponse()
    assert response.status == 200 and response.headers["Content-Type"] == "text/event-stream"
    writer = threading.Timer(0.3, lambda: registry.create("stream/app"))
    writer.start()
    lines = []
    while not any(line.startswith("data: ") for line in lines):
        lines.append(response.readline().decode().strip())
    writer.join()
    data = json.loads(next(l for l in lines if l.startswith("data: "))[6:])
    assert data["kind"] == "createRepository" and data["repository"] == "stream/app"
    connection.close()


def test_an_oci_layout_tar_becomes_a_repository_offline(server, registry, tmp_path):
    image = make_layout(tmp_path / "layout", tag="v7", seed="fixture")
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w") as tar:
        tar.add(tmp_path / "layout", arcname=".")
    status, body = server.json("POST", "/_admin/import?format=oci-layout&repository=fixtures/app", archive.getvalue())
    assert status == 201, body
    assert body["tags"] == ["v7"] and body["manifests"] == [image["manifest_digest"]]
    assert registry.request("GET", "/v2/fixtures/app/manifests/v7").body == image["manifest"]
    assert registry.request("GET", f"/v2/fixtures/app/blobs/{image['layer_digest']}").body == image["layer"]
    status, body = server.json("POST", "/_admin/import?format=oci-layout&repository=fixtures/bad", b"not a tar at all" * 100)
    assert status == 400
    assert server.json("POST", "/_admin/import?format=oci-layout", archive.getvalue())[0] == 400


def test_an_admin_token_protects_the_admin_api(start_server):
    server = start_server("--ephemeral", "--auth", "none", "--admin-token", "s3cret")
    assert server.json("GET", "/_admin/health")[0] == 401
    assert server.json("GET", "/_admin/health", headers={"Authorization": "Bearer wrong"})[0] == 401
    assert server.json("GET", "/_admin/health", headers={"Authorization": "Bearer s3cret"})[0] == 200
    assert server.request("GET", "/v2/")[0] == 200


def test_an_oci_archive_written_by_skopeo_imports_and_pulls_back(server, registry, tmp_path):
    import shutil
    import subprocess
    assert shutil.which("skopeo"), "skopeo is installed by make test"
    image = make_layout(tmp_path / "layout", tag="v1", seed="skopeo archive")
    archive = tmp_path / "app.tar"
    subprocess.run(["skopeo", "copy", f"oci:{tmp_path}/layout:v1", f"oci-archive:{archive}:v1"], check=True, capture_output=True)
    status, body = server.json("POST", "/_admin/import?format=oci-layout&repository=archived/app", archive.read_bytes())
    assert status == 201, body
    assert body["tags"] == ["v1"]
    pulled = registry.request("GET", "/v2/archived/app/manifests/v1")
    assert pulled.status == 200 and json.loads(pulled.body)["layers"][0]["digest"] == image["layer_digest"]
    assert registry.request("GET", f"/v2/archived/app/blobs/{image['layer_digest']}").body == image["layer"]


def test_an_admin_port_moves_the_admin_api_off_the_main_listener(tmp_path):
    import http.client
    import re

    from conftest import Server
    server = Server("--ephemeral", "--auth", "none", "--admin-port", "0")
    try:
        deadline = time.monotonic() + 20
        while not any("Admin API on" in line for line in server.output) and time.monotonic() < deadline:
            time.sleep(0.05)
        admin_port = int(re.search(r"Admin API on http://127\.0\.0\.1:(\d+)/_admin", "".join(server.output)).group(1))
        assert server.request("GET", "/_admin/health")[0] == 404  # not on the main listener
        assert server.request("GET", "/v2/")[0] == 200
        connection = http.client.HTTPConnection("127.0.0.1", admin_port, timeout=10)
        connection.request("POST", "/_admin/repositories", body=json.dumps({"name": "admin/port"}))
        assert connection.getresponse().status == 201
        assert Registry(server).request("GET", "/v2/_catalog").json()["repositories"] == ["admin/port"]
        assert server.terminate() == 0
    finally:
        server.kill()


@pytest.mark.parametrize("advance", ["99999999999999999999h", "1e400d", "-99999999999999999999d", "9999999999999999s"])
def test_absurd_clock_moves_are_refused_without_crashing(server, advance):
    assert server.json("POST", "/_admin/clock", {"advance": advance})[0] == 400
    assert server.json("GET", "/_admin/health")[0] == 200
