"""Power loss, not only kill -9: the real binary runs on LazyFS (lazyfs.py), a file system that
forgets every byte and every name that was not fsynced. Writers push images, create repositories
and send uploads in chunks; at a random moment the server is SIGKILLed and the power is cut
(everything not durable is gone, as after a real power cut); the server restarts on what is
left. Every acknowledged repository, blob, manifest and tag must be there, every upload open at
the cut must resume where it was acknowledged and complete, and no request may answer 5xx."""

import http.client
import os
import random
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from conftest import Server, kill_while_writing
from registry import Registry
from test_crash import IMAGES, UPLOADS, check_images, push_image, resume_and_complete, upload_in_chunks

ROUNDS = 6
HERE = Path(__file__).resolve().parent


@pytest.fixture
def lazy_mount(tmp_path):
    """A LazyFS mount for the test, unmounted afterwards."""
    mount = tmp_path / "lazy"
    mount.mkdir()
    process = subprocess.Popen([sys.executable, str(HERE / "lazyfs.py"), str(mount)],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 30
    while not os.path.ismount(mount):
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise RuntimeError("LazyFS did not mount: " + (process.stdout.read() or ""))
        time.sleep(0.1)
    yield mount
    subprocess.run(["fusermount3", "-u", str(mount)], check=False)
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()


def power_loss(mount):
    """Everything not made durable is gone (the mkdir is the switch; it answers ENOENT)."""
    try:
        os.mkdir(mount / ".power-loss")
    except FileNotFoundError:
        pass


def test_a_power_cut_loses_nothing_that_was_acknowledged(lazy_mount):
    data = str(lazy_mount / "data")
    rng = random.Random(20261202)
    repositories, images, uploads, failures = set(), {}, [], []
    resumed = 0
    lock = threading.Lock()
    for round_number in range(ROUNDS):
        server = Server("--data-dir", data, "--auth", "none", "--log-level", "warning", "--fsync", "always",
                        "--snapshot-every", str(rng.choice([7, 25])))
        try:
            registry = Registry(server)
            if round_number == 0:
                registry.create(IMAGES)
                registry.create(UPLOADS)
            catalog = server.json("GET", "/v2/_catalog")[1]["repositories"]
            missing = repositories - set(catalog)
            assert not missing, f"round {round_number}: acknowledged repositories lost in the power cut: {sorted(missing)[:5]}"
            check_images(registry, images)
            for upload in uploads:
                resume_and_complete(registry, upload)
                resumed += 1
            uploads.clear()
            stop = threading.Event()

            def guarded(work):
                def run():
                    try:
                        work()
                    except (OSError, http.client.HTTPException):
                        return  # the server died under us: what was in flight is unacknowledged
                    except AssertionError as error:
                        failures.append(error)
                return run

            def repositories_writer():
                for i in range(10_000):
                    if stop.is_set():
                        return
                    name = f"power/r{round_number}-{i}"
                    status, _ = server.json("POST", "/_admin/repositories", {"name": name})
                    assert status < 500, status
                    if status == 201:
                        with lock:
                            repositories.add(name)

            def images_writer(k):
                def run():
                    local = random.Random(round_number * 10 + k)
                    for i in range(10_000):
                        if stop.is_set():
                            return
                        tag = f"p{round_number}-{k}-{i}"
                        pushed = push_image(registry, tag, local)
                        if pushed:
                            with lock:
                                images[tag] = pushed
                return run

            def uploads_writer():
                upload_in_chunks(registry, random.Random(round_number), uploads, lock, stop)

            writers = [repositories_writer, images_writer(0), images_writer(1), uploads_writer]
            threads = [threading.Thread(target=guarded(w)) for w in writers]
            kill_while_writing(server, threads, rng.uniform(0.5, 2.0), stop, failures)
            power_loss(lazy_mount)
        finally:
            server.kill()
    final = Server("--data-dir", data, "--auth", "none")
    try:
        registry = Registry(final)
        assert repositories <= set(final.json("GET", "/v2/_catalog")[1]["repositories"])
        check_images(registry, images)
        for upload in uploads:
            resume_and_complete(registry, upload)
            resumed += 1
        assert len(repositories) > ROUNDS and len(images) > ROUNDS, "the writers barely wrote: the test proves little"
        assert resumed > 0, "no upload was open at a power cut: the test proves little about uploads"
        assert final.terminate() == 0
    finally:
        final.kill()


def test_a_lone_writers_own_fsync_and_writers_at_once_lose_nothing_in_a_power_cut(lazy_mount):
    """One writer at a time runs its fsync itself (once a few syncs in a row covered one writer
    each); writers at once share the fsync thread's. What either acknowledged survives a power cut
    right after the last answer, with no time for anything else to reach the disk."""
    data = str(lazy_mount / "data")
    server = Server("--data-dir", data, "--auth", "none", "--log-level", "warning", "--fsync", "always")
    acknowledged = []
    try:
        def create(name):
            status, body = server.json("POST", "/_admin/repositories", {"name": name})
            assert status == 201, (status, body)
            acknowledged.append(name)

        # Alone, well past the syncs it takes before the writer leads its own.
        for i in range(30):
            create(f"lone/a{i}")
        # Eight at once: the fsync thread leads while they overlap.
        threads = [threading.Thread(target=lambda k=k: [create(f"burst/w{k}-{i}") for i in range(15)]) for k in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        # Alone again: the lead comes back to the writer.
        for i in range(30):
            create(f"lone/b{i}")
        server.kill()
        power_loss(lazy_mount)
    finally:
        server.kill()
    assert len(acknowledged) == 180, "a create failed: the test proves little"
    restarted = Server("--data-dir", data, "--auth", "none")
    try:
        catalog = set(restarted.json("GET", "/v2/_catalog?n=1000")[1]["repositories"])
        missing = sorted(set(acknowledged) - catalog)
        assert not missing, f"acknowledged repositories lost in the power cut: {missing[:5]} ({len(missing)})"
        assert restarted.terminate() == 0
    finally:
        restarted.kill()
