"""Crash test: writers push through HTTP while the real server is SIGKILLed at random moments.

Half the writers create repositories; half push images through /v2 (a blob, then a tagged
manifest naming it). After each kill the server restarts on the same data directory, and every
write it acknowledged must be there, byte for byte; nothing half-made may be visible: every tag
resolves to a manifest whose blobs can all be read back with the right digest.
"""

import json
import random
import signal
import threading
import time

from conftest import Server
from registry import OCI_CONFIG, OCI_LAYER, OCI_MANIFEST, Registry, digest

ROUNDS = 30
WRITERS = 4
IMAGES = "crash/images"


def push_image(registry, tag, rng):
    """Pushes a config, a layer and a manifest; returns what was acknowledged, or None."""
    layer = rng.randbytes(rng.randint(1, 50_000))
    config = json.dumps({"tag": tag}).encode()
    for blob in (config, layer):
        if registry.request("POST", f"/v2/{IMAGES}/blobs/uploads/?digest={digest(blob)}", body=blob).status != 201:
            return None
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": {"mediaType": OCI_CONFIG, "digest": digest(config), "size": len(config)},
        "layers": [{"mediaType": OCI_LAYER, "digest": digest(layer), "size": len(layer)}]}).encode()
    if registry.push_manifest(IMAGES, tag, manifest).status != 201:
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


def test_sigkill_at_random_moments_never_loses_an_acknowledged_write(tmp_path):
    data = str(tmp_path / "data")
    rng = random.Random(20261129)
    repositories, images = set(), {}
    attempted = set()
    lock = threading.Lock()
    for round_number in range(ROUNDS):
        # Small snapshot intervals make kills land during compaction too.
        server = Server("--data-dir", data, "--auth", "none", "--log-level", "warning",
                        "--snapshot-every", str(rng.choice([5, 17, 40])))
        try:
            registry = Registry(server)
            if round_number == 0:
                registry.create(IMAGES)
            status, catalog = server.json("GET", "/v2/_catalog")
            assert status == 200
            present = set(catalog["repositories"]) - {IMAGES}
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
                    except OSError:
                        return  # the server died under us: this write is unacknowledged
                    i += 1

            threads = [threading.Thread(target=writer, args=(k,)) for k in range(WRITERS)]
            for thread in threads:
                thread.start()
            time.sleep(rng.uniform(0.02, 0.35))
            server.process.send_signal(signal.SIGKILL)
            server.process.wait()
            stop.set()
            for thread in threads:
                thread.join(timeout=30)
        finally:
            server.kill()
    final = Server("--data-dir", data, "--auth", "none")
    try:
        catalog = final.json("GET", "/v2/_catalog")[1]["repositories"]
        assert repositories <= set(catalog)
        check_images(Registry(final), images)
        assert len(repositories) > ROUNDS * 3 and len(images) > ROUNDS * 2, "the writers barely wrote: the test proves little"
        assert final.terminate() == 0
    finally:
        final.kill()
