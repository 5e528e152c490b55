"""Crash test: writers push through HTTP while the real server is SIGKILLed at random moments.

After each kill the server restarts on the same data directory, and every write it had
acknowledged must be there; nothing half-made may be visible.
"""

import random
import signal
import threading
import time

from conftest import Server

ROUNDS = 30
WRITERS = 4


def test_sigkill_at_random_moments_never_loses_an_acknowledged_write(tmp_path):
    data = str(tmp_path / "data")
    rng = random.Random(20261129)
    acknowledged = set()
    attempted = set()
    lock = threading.Lock()
    for round_number in range(ROUNDS):
        # Small snapshot intervals make kills land during compaction too.
        server = Server("--data-dir", data, "--auth", "none", "--snapshot-every", str(rng.choice([5, 17, 40])))
        try:
            status, catalog = server.json("GET", "/v2/_catalog")
            assert status == 200
            present = set(catalog["repositories"])
            missing = acknowledged - present
            assert not missing, f"round {round_number}: acknowledged writes lost: {sorted(missing)[:5]}"
            assert present <= attempted, "a repository nobody created appeared"
            stop = threading.Event()

            def writer(k):
                i = 0
                while not stop.is_set():
                    name = f"crash/r{round_number}-w{k}-{i}"
                    with lock:
                        attempted.add(name)
                    try:
                        status, _ = server.json("POST", "/_admin/repositories", {"name": name})
                    except OSError:
                        return  # the server died under us: this write is unacknowledged
                    if status == 201:
                        with lock:
                            acknowledged.add(name)
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
        assert acknowledged <= set(catalog)
        assert len(acknowledged) > ROUNDS * 5, "the writers barely wrote: the test proves little"
        stats = final.json("GET", "/_admin/stats")[1]
        assert stats["repositories"] == len(catalog)
        assert final.terminate() == 0
    finally:
        final.kill()
