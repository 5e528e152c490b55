"""Crash test: writers push through HTTP while the real server is SIGKILLed at random moments.

Half the writers create repositories; half push images through /v2 (a blob, then a tagged
manifest naming it). After each kill the server restarts on the same data directory, and every
write it acknowledged must be there, byte for byte; nothing half-made may be visible: every tag
resolves to a manifest whose blobs can all be read back with the right digest.
"""

import http.client
import json
import random
import signal
import threading
import time

from commands import ecr, stowage
from conftest import Server, kill_while_writing
from registry import OCI_CONFIG, OCI_LAYER, OCI_MANIFEST, Registry, digest

ROUNDS = 30
WRITERS = 4
IMAGES = "crash/images"
UPLOADS = "crash/uploads"


def push_image(registry, tag, rng):
    """Pushes a config, a layer and a manifest; returns what was acknowledged, or None."""
    layer = rng.randbytes(rng.randint(1, 50_000))
    config = json.dumps({"tag": tag}).encode()
    for blob in (config, layer):
        r = registry.request("POST", f"/v2/{IMAGES}/blobs/uploads/?digest={digest(blob)}", body=blob)
        assert r.status < 500, r
        if r.status != 201:
            return None
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": {"mediaType": OCI_CONFIG, "digest": digest(config), "size": len(config)},
        "layers": [{"mediaType": OCI_LAYER, "digest": digest(layer), "size": len(layer)}]}).encode()
    r = registry.push_manifest(IMAGES, tag, manifest)
    assert r.status < 500, r
    if r.status != 201:
        return None
    return manifest, layer


def check_images(registry, acknowledged):
    tags = registry.request("GET", f"/v2/{IMAGES}/tags/list").json()["tags"]
    missing = set(acknowledged) - set(tags)
    assert not missing, f"acknowledged images lost: {sorted(missing)[:5]}"
    for tag in tags:
        manifest = registry.request("GET", f"/v2/{IMAGES}/manifests/{tag}")
        assert manifest.status == 200, f"tag {tag} does not resolve"
        if tag in acknowledged:
            assert manifest.body == acknowledged[tag][0]
        for descriptor in [manifest.json()["config"]] + manifest.json()["layers"]:
            blob = registry.request("GET", f"/v2/{IMAGES}/blobs/{descriptor['digest']}")
            assert blob.status == 200 and digest(blob.body) == descriptor["digest"], f"tag {tag}: blob unreadable"
        if tag in acknowledged:
            layer = registry.request("GET", f"/v2/{IMAGES}/blobs/{manifest.json()['layers'][0]['digest']}").body
            assert layer == acknowledged[tag][1]


class OpenUpload:
    """An upload pushed chunk by chunk: the whole blob, and how much of it the server acknowledged."""

    def __init__(self, location, blob):
        self.location, self.blob, self.acknowledged = location, blob, 0
        self.completing = False  # a PUT was sent: the kill may have come before or after its commit


def upload_in_chunks(registry, rng, uploads, lock, stop):
    """Starts uploads and sends them in chunks (never completed here): a kill leaves them open."""
    while not stop.is_set():
        r = registry.request("POST", f"/v2/{UPLOADS}/blobs/uploads/")
        assert r.status < 500, r
        if r.status != 202:
            return
        upload = OpenUpload(r.headers["Location"], rng.randbytes(rng.randint(200_000, 2_000_000)))
        with lock:
            uploads.append(upload)
        while upload.acknowledged < len(upload.blob) and not stop.is_set():
            start = upload.acknowledged
            chunk = upload.blob[start:start + rng.randint(1_000, 40_000)]
            r = registry.request("PATCH", upload.location, body=chunk,
                                 headers={"Content-Range": f"{start}-{start + len(chunk) - 1}"})
            assert r.status < 500, r
            if r.status != 202:
                return
            upload.acknowledged = start + len(chunk)
        if upload.acknowledged == len(upload.blob) and not stop.is_set():
            upload.completing = True
            r = registry.request("PUT", upload.location + f"?digest={digest(upload.blob)}")
            assert r.status < 500, r
            if r.status == 201:
                with lock:
                    uploads.remove(upload)


def resume_and_complete(registry, upload):
    """After a restart: the upload stands at least where it was acknowledged, holds exactly those
    bytes, and completes with the rest. Nothing a crash left answers 5xx."""
    status = registry.request("GET", upload.location)
    if upload.completing and status.status == 404:
        # The commit landed before the kill: the blob is whole.
        blob = registry.request("GET", f"/v2/{UPLOADS}/blobs/{digest(upload.blob)}")
        assert blob.status == 200 and blob.body == upload.blob, "a committed upload's blob is missing or damaged"
        return
    assert status.status == 204, f"an upload open at the kill is gone or broken: {status}"
    # `Range: 0-0` is an empty upload here: every chunk sent is at least 1000 bytes.
    end = int(status.headers["Range"].split("-")[1])
    size = 0 if end == 0 else end + 1
    assert size >= upload.acknowledged, f"acknowledged bytes lost: {size} < {upload.acknowledged}"
    rest = upload.blob[size:]
    if rest:
        r = registry.request("PATCH", upload.location, body=rest,
                             headers={"Content-Range": f"{size}-{size + len(rest) - 1}"})
        assert r.status == 202, r
    r = registry.request("PUT", upload.location + f"?digest={digest(upload.blob)}")
    assert r.status == 201, f"completing a resumed upload: {r}"
    blob = registry.request("GET", f"/v2/{UPLOADS}/blobs/{digest(upload.blob)}")
    assert blob.status == 200 and blob.body == upload.blob


def test_sigkill_at_random_moments_never_loses_an_acknowledged_write(tmp_path):
    data = str(tmp_path / "data")
    rng = random.Random(20261129)
    repositories, images = set(), {}
    attempted = set()
    uploads, resumed, failures = [], 0, []
    lock = threading.Lock()
    for round_number in range(ROUNDS):
        # Small snapshot intervals make kills land during compaction too.
        server = Server("--data-dir", data, "--auth", "none", "--log-level", "warning",
                        "--snapshot-every", str(rng.choice([5, 17, 40])))
        try:
            registry = Registry(server)
            if round_number == 0:
                registry.create(IMAGES)
                registry.create(UPLOADS)
            # The uploads the last kill left open go on where they stood, and complete.
            for upload in uploads:
                resume_and_complete(registry, upload)
                resumed += 1
            uploads.clear()
            status, catalog = server.json("GET", "/v2/_catalog")
            assert status == 200
            present = set(catalog["repositories"]) - {IMAGES, UPLOADS}
            missing = repositories - present
            assert not missing, f"round {round_number}: acknowledged repositories lost: {sorted(missing)[:5]}"
            assert present <= attempted, "a repository nobody created appeared"
            check_images(registry, images)
            stop = threading.Event()

            def writer(k):
                local = random.Random(round_number * 100 + k)
                i = 0
                while not stop.is_set():
                    try:
                        if k % 2 == 0:
                            name = f"crash/r{round_number}-w{k}-{i}"
                            with lock:
                                attempted.add(name)
                            if server.json("POST", "/_admin/repositories", {"name": name})[0] == 201:
                                with lock:
                                    repositories.add(name)
                        else:
                            tag = f"r{round_number}-w{k}-{i}"
                            pushed = push_image(registry, tag, local)
                            if pushed:
                                with lock:
                                    images[tag] = pushed
                    except (OSError, http.client.HTTPException):
                        return  # the server died under us: this write is unacknowledged
                    except AssertionError as error:
                        failures.append(error)
                        return
                    i += 1

            threads = [threading.Thread(target=writer, args=(k,)) for k in range(WRITERS)]

            def chunks():
                try:
                    upload_in_chunks(registry, random.Random(round_number), uploads, lock, stop)
                except (OSError, http.client.HTTPException):
                    return  # the server died under us
                except AssertionError as error:
                    failures.append(error)

            threads.append(threading.Thread(target=chunks))
            kill_while_writing(server, threads, rng.uniform(0.02, 0.35), stop, failures, join_timeout=30)
        finally:
            server.kill()
    final = Server("--data-dir", data, "--auth", "none")
    try:
        catalog = final.json("GET", "/v2/_catalog")[1]["repositories"]
        assert repositories <= set(catalog)
        check_images(Registry(final), images)
        for upload in uploads:
            resume_and_complete(Registry(final), upload)
            resumed += 1
        assert len(repositories) > ROUNDS * 3 and len(images) > ROUNDS * 2, "the writers barely wrote: the test proves little"
        assert resumed >= ROUNDS // 2, "too few uploads were left open by the kills to prove resuming"
        assert final.terminate() == 0
    finally:
        final.kill()


def test_a_snapshot_read_on_every_core_brings_back_every_image_after_a_sigkill(tmp_path):
    """A state whose repositories take more than a few MiB is read from its snapshot on every core
    at a restart (runs of repositories, one thread each): after a SIGKILL the real server comes
    back from that snapshot with the very state it had, exported byte for byte."""
    data = str(tmp_path / "data")
    server = Server("--data-dir", data)
    try:
        registry = Registry(server).login()
        names = [f"large/r{n}" for n in range(40)]
        config, layer = b'{"os":"linux"}', b"one layer"
        for name in names:
            registry.create(name)
            registry.push_blob(name, config)
            registry.push_blob(name, layer)
        failures = []

        def manifest(annotations):
            return json.dumps({
                "schemaVersion": 2, "mediaType": OCI_MANIFEST,
                "config": {"mediaType": OCI_CONFIG, "digest": digest(config), "size": len(config)},
                "layers": [{"mediaType": OCI_LAYER, "digest": digest(layer), "size": len(layer)}],
                "annotations": annotations}).encode()

        def push(share):
            for name in share:
                for n in range(230):
                    r = registry.push_manifest(name, f"t{n}", manifest({"n": f"{name} {n}"}))
                    if r.status != 201:
                        failures.append(r)
                        return

        writers = [threading.Thread(target=push, args=(names[i::4],)) for i in range(4)]
        for writer in writers:
            writer.start()
        for writer in writers:
            writer.join(timeout=600)
        assert not failures, failures[:3]
        status, compacted = server.json("POST", "/_admin/compact")
        assert status == 200 and compacted["bytes"] > 0
        status, _, exported = server.request("GET", "/_admin/export")
        assert status == 200
        server.process.send_signal(signal.SIGKILL)
        server.process.wait()
    finally:
        server.kill()
    # The snapshot holds well over the 4 MiB of text above which a read takes every core, in
    # format 3: zlib streams of about 4 MiB of repositories each, each inflated and read on a core.
    newest = max((tmp_path / "data" / "snap").glob("*.snap"))
    assert int.from_bytes(newest.read_bytes()[24:32], "little") > 6 << 20
    inspected = json.loads(stowage("inspect", newest, "--json").stdout)
    assert inspected["format"] == 3 and inspected["zlibStreams"] >= 2 and inspected["images"] == 40 * 230
    again = Server("--data-dir", data)
    try:
        stats = again.json("GET", "/_admin/stats")[1]
        assert stats["images"] == 40 * 230 and stats["tags"] == 40 * 230
        assert stats["recovery"]["replayed"] == 0 and stats["recovery"]["snapshotSequence"] == compacted["sequence"]
        assert again.request("GET", "/_admin/export")[2] == exported
        registry = Registry(again).login()
        tags = registry.request("GET", "/v2/large/r39/tags/list?n=1000").json()["tags"]
        assert sorted(tags) == sorted(f"t{n}" for n in range(230))
        # The first snapshot after the restart copies from the one it read what no push touched
        # since: four writers push into two repositories (the first and the last) at once.
        status, first = again.json("POST", "/_admin/compact")
        assert status == 200 and first["unitsWritten"] == 0 and first["unitsCopied"] >= 2

        def push_more(name, n):
            r = registry.push_manifest(name, f"more{n}", manifest({"more": f"{name} {n}"}))
            if r.status != 201:
                failures.append(r)

        writers = [threading.Thread(target=lambda w=w: [push_more(names[-(w % 2)], w * 100 + n) for n in range(25)])
                   for w in range(4)]
        for writer in writers:
            writer.start()
        for writer in writers:
            writer.join(timeout=600)
        assert not failures, failures[:3]
        status, second = again.json("POST", "/_admin/compact")
        assert status == 200 and 1 <= second["unitsWritten"] <= 2
        assert second["unitsCopied"] == first["unitsCopied"] - second["unitsWritten"]
        status, _, exported = again.request("GET", "/_admin/export")
        assert status == 200
    finally:
        again.kill()  # SIGKILL
    last = Server("--data-dir", data)
    try:
        stats = last.json("GET", "/_admin/stats")[1]
        assert stats["images"] == 40 * 230 + 100 and stats["recovery"]["replayed"] == 0
        assert last.request("GET", "/_admin/export")[2] == exported
        tags = Registry(last).login().request("GET", "/v2/large/r0/tags/list?n=1000").json()["tags"]
        assert len(tags) == 230 + 50
    finally:
        last.kill()


def test_an_account_region_emptied_of_repositories_does_not_break_the_snapshot(tmp_path):
    """A region whose repositories were all deleted sorts before one that has some: its snapshot
    part has no segments, so the numbers skip one. Such snapshots were refused at every restart
    and set aside; the server comes back from this one, with nothing replayed and nothing set aside."""
    data = str(tmp_path / "data")
    server = Server("--data-dir", data)
    try:
        early = ecr(server, region="ap-south-1")
        early.create_repository(repositoryName="gone/soon")
        early.delete_repository(repositoryName="gone/soon", force=True)
        late = ecr(server)
        for n in range(3):
            late.create_repository(repositoryName=f"kept/r{n}")
        status, compacted = server.json("POST", "/_admin/compact")
        assert status == 200
    finally:
        server.kill()  # SIGKILL
    again = Server("--data-dir", data)
    try:
        recovery = again.json("GET", "/_admin/stats")[1]["recovery"]
        assert recovery["snapshotsSetAside"] == [] and recovery["replayed"] == 0
        assert recovery["snapshotSequence"] == compacted["sequence"]
        names = [r["repositoryName"] for r in ecr(again).describe_repositories()["repositories"]]
        assert sorted(names) == ["kept/r0", "kept/r1", "kept/r2"]
        assert ecr(again, region="ap-south-1").describe_repositories()["repositories"] == []
    finally:
        again.kill()
