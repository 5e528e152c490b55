"""`stowage serve`: flags, environment variables, the base endpoints, and a clean stop."""

import hashlib
import http.client
import json
import os
import socket
import time


def test_serves_v2_and_health_on_a_free_port_and_stops_cleanly(start_server, tmp_path):
    server = start_server("--data-dir", str(tmp_path / "data"), "--auth", "none")
    status, headers, body = server.request("GET", "/v2/")
    assert status == 200
    assert json.loads(body) == {}
    assert headers["Docker-Distribution-Api-Version"] == "registry/2.0"
    assert server.json("GET", "/_admin/health") == (200, {"status": "ok", "sequence": 0})
    assert server.terminate() == 0
    log = "".join(server.output)
    assert "GET /v2/ 200" in log and "GET /_admin/health 200" in log
    assert "stopped" in log
    for sub in ("wal", "snap", "blobs", "uploads"):
        assert (tmp_path / "data" / sub).is_dir()


def test_environment_variables_mirror_the_flags(start_server, tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = start_server(env={"STOWAGE_DATA_DIR": str(tmp_path / "env-data"), "STOWAGE_AUTH": "none"})
    # --port 0 on the command line wins over the environment; the data dir comes from the environment.
    assert server.request("GET", "/v2/")[0] == 200
    assert (tmp_path / "env-data" / "wal").is_dir()
    server.terminate()
    fixed = start_server(env={"STOWAGE_EPHEMERAL": "1", "STOWAGE_AUTH": "none"})
    assert fixed.request("GET", "/v2/")[0] == 200
    fixed.terminate()
    assert port > 0


def test_ephemeral_mode_writes_nothing_and_forgets_on_restart(start_server, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    server = start_server("--ephemeral", "--auth", "none")
    assert server.json("POST", "/_admin/repositories", {"name": "eph/app"})[0] == 201
    assert server.json("GET", "/v2/_catalog")[1] == {"repositories": ["eph/app"]}
    server.terminate()
    assert list(tmp_path.iterdir()) == []
    again = start_server("--ephemeral", "--auth", "none")
    assert again.json("GET", "/v2/_catalog")[1] == {"repositories": []}


def test_state_survives_a_restart_and_repository_uris_use_the_bound_port(start_server, tmp_path):
    data = str(tmp_path / "data")
    server = start_server("--data-dir", data, "--auth", "none")
    status, body = server.json("POST", "/_admin/repositories", {"name": "team/app"})
    assert status == 201
    assert body["repositoryUri"] == f"{server.authority}/team/app"
    assert server.json("POST", "/_admin/repositories", {"name": "team/app"})[0] == 409
    assert server.json("POST", "/_admin/repositories", {"name": "Bad Name"})[0] == 400
    assert server.json("POST", "/_admin/repositories", b"not json")[0] == 400
    server.terminate()
    again = start_server("--data-dir", data, "--auth", "none")
    assert again.json("GET", "/v2/_catalog")[1] == {"repositories": ["team/app"]}
    stats = again.json("GET", "/_admin/stats")[1]
    # The create and the refused duplicate are logged; a bad name or body is refused at the edge.
    # The clean stop wrote a snapshot of both: nothing is replayed.
    assert stats["sequence"] == 2 and stats["repositories"] == 1
    assert stats["recovery"]["replayed"] == 0 and stats["recovery"]["snapshotSequence"] == 2


def test_the_zeros_the_log_writes_ahead_of_its_records_are_not_damage_after_a_kill(tmp_path):
    import json
    import subprocess
    import threading

    from conftest import BINARY, Server

    data = tmp_path / "data"
    server = Server("--data-dir", str(data), "--auth", "none")
    # Four writers at once: their records share syncs, and each lands over the zeros.
    def write(worker):
        for i in range(30):
            assert server.json("POST", "/_admin/repositories", {"name": f"w{worker}/r{i}"})[0] == 201
    threads = [threading.Thread(target=write, args=(w,)) for w in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    server.kill()
    segment = sorted((data / "wal").glob("*.wal"))[-1]
    raw = segment.read_bytes()
    end = len(raw.rstrip(b"\0"))
    assert len(raw) - end >= 4096, "zeros ahead of the records"
    inspected = json.loads(
        subprocess.run([str(BINARY), "inspect", str(data), "--json"], capture_output=True, text=True, check=True).stdout
    )
    last = inspected["segments"][-1]
    assert inspected["checksumsHold"] is True and last["records"] == 120 and last["recordBytes"] == end
    again = Server("--data-dir", str(data), "--auth", "none")
    try:
        stats = again.json("GET", "/_admin/stats")[1]
        assert stats["repositories"] == 120 and stats["recovery"]["replayed"] == 120
        assert not list((data / "wal").glob("*.broken")), "nothing to repair"
        assert again.json("POST", "/_admin/repositories", {"name": "after/restart"})[0] == 201
    finally:
        again.kill()
    third = Server("--data-dir", str(data), "--auth", "none")
    try:
        assert third.json("GET", "/_admin/stats")[1]["repositories"] == 121
        assert not list((data / "wal").glob("*.broken"))
    finally:
        third.terminate()


def test_a_damaged_log_stops_start_up_with_a_message_that_names_the_fix(tmp_path):
    import subprocess

    from conftest import BINARY, Server

    data = tmp_path / "data"
    server = Server("--data-dir", str(data), "--auth", "none")
    for i in range(5):
        assert server.json("POST", "/_admin/repositories", {"name": f"r/n{i}"})[0] == 201
    # Killed, not stopped: a clean stop would snapshot the records and leave the log's last
    # segment empty.
    server.kill()
    segment = sorted((data / "wal").glob("*.wal"))[-1]
    raw = bytearray(segment.read_bytes())
    raw[30] ^= 0xFF
    segment.write_bytes(bytes(raw))
    result = subprocess.run(
        [str(BINARY), "serve", "--port", "0", "--data-dir", str(data)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2
    assert str(segment) in result.stderr
    assert "truncate -s 0" in result.stderr


def test_tokens_survive_a_restart_and_login_password_prints_one(start_server, tmp_path):
    import subprocess

    from conftest import BINARY
    from registry import Registry

    data = str(tmp_path / "data")
    server = start_server("--data-dir", data)
    printed = subprocess.run([str(BINARY), "login-password", "--server", server.url], capture_output=True, text=True, timeout=60)
    assert printed.returncode == 0, printed.stderr
    token = printed.stdout.strip()
    assert token.startswith("v1.")
    assert Registry(server, token).request("GET", "/v2/").status == 200
    server.terminate()
    again = start_server("--data-dir", data)
    assert Registry(again, token).request("GET", "/v2/").status == 200
    # Another data directory has another secret: the token means nothing there.
    elsewhere = start_server("--data-dir", str(tmp_path / "other"))
    assert Registry(elsewhere, token).request("GET", "/v2/").status == 401
    unreachable = subprocess.run([str(BINARY), "login-password", "--server", "http://127.0.0.1:9"], capture_output=True, text=True, timeout=60)
    assert unreachable.returncode == 1 and "cannot reach" in unreachable.stderr


def test_blobs_nothing_links_are_collected_and_shared_ones_kept(start_server, tmp_path):
    import time

    from registry import Registry, digest

    data = tmp_path / "data"
    server = start_server("--data-dir", str(data), "--auth", "none", "--gc-interval", "0.2")
    registry = Registry(server)
    registry.create("gc/one")
    registry.create("gc/two")
    lonely = registry.push_blob("gc/one", b"only in one")
    shared = registry.push_blob("gc/one", b"in both")
    registry.push_blob("gc/two", b"in both")

    def stored(d):
        return (data / "blobs" / "sha256" / d[7:9] / d[7:]).exists()

    assert stored(lonely) and stored(shared)
    assert registry.request("DELETE", f"/v2/gc/one/blobs/{lonely}").status == 202
    assert registry.request("DELETE", f"/v2/gc/one/blobs/{shared}").status == 202
    deadline = time.monotonic() + 20
    while stored(lonely) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not stored(lonely)
    assert stored(shared)
    assert registry.request("GET", f"/v2/gc/two/blobs/{shared}").body == b"in both"
    assert digest(b"in both") == shared


def test_a_second_server_on_a_data_directory_refuses_and_the_first_keeps_every_write(start_server, tmp_path):
    import subprocess

    from conftest import BINARY

    data = tmp_path / "data"
    first = start_server("--data-dir", str(data), "--auth", "none")
    assert first.json("POST", "/_admin/repositories", {"name": "lock/one"})[0] == 201
    result = subprocess.run(
        [str(BINARY), "serve", "--port", "0", "--data-dir", str(data)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2
    assert str(data) in result.stderr and f"pid {first.pid}" in result.stderr
    # The first goes on writing, and all of it survives its restart.
    assert first.json("POST", "/_admin/checkpoints", {"name": "after"})[0] == 201
    assert first.json("POST", "/_admin/repositories", {"name": "lock/two"})[0] == 201
    assert first.terminate() == 0
    again = start_server("--data-dir", str(data), "--auth", "none")
    assert again.json("GET", "/v2/_catalog")[1]["repositories"] == ["lock/one", "lock/two"]
    assert [c["name"] for c in again.json("GET", "/_admin/checkpoints")[1]["checkpoints"]] == ["after"]
    # A live directory can still be read offline.
    inspect = subprocess.run([str(BINARY), "inspect", str(data)], capture_output=True, text=True, timeout=60)
    assert inspect.returncode == 0, inspect.stdout + inspect.stderr


def test_a_server_on_every_interface_names_the_host_its_clients_used(start_server):
    """With --host 0.0.0.0 (as in the container image) a repositoryUri, a proxyEndpoint and a layer
    downloadUrl name the host the client reached the server at, never 0.0.0.0."""
    from types import SimpleNamespace

    from commands import ecr
    server = start_server("--ephemeral", "--host", "0.0.0.0")
    port = server.url.rsplit(":", 1)[1]
    assert server.url == f"http://0.0.0.0:{port}"
    assert server.line("log in: ").endswith(f"--password-stdin 127.0.0.1:{port}")
    created = ecr(SimpleNamespace(url=f"http://127.0.0.1:{port}")).create_repository(repositoryName="any/app")
    assert created["repository"]["repositoryUri"] == f"127.0.0.1:{port}/any/app"
    by_name = ecr(SimpleNamespace(url=f"http://localhost:{port}"))
    assert by_name.describe_repositories()["repositories"][0]["repositoryUri"] == f"localhost:{port}/any/app"
    endpoint = by_name.get_authorization_token()["authorizationData"][0]["proxyEndpoint"]
    assert endpoint == f"http://localhost:{port}"


def test_the_server_starts_itself_again_once_asking_malloc_for_huge_pages(start_server, tmp_path):
    """A restart of a large state was a third page faults; glibc backs big allocations with 2 MiB
    pages only when its tunable says so at exec, so `serve` execs itself once with it (same pid)."""

    def environment_of(server):
        # What the process was exec'd with. (glibc ends each tunable's value with a NUL in place
        # as it reads them, so a second tunable shows here as an entry of its own.)
        raw = open(f"/proc/{server.process.pid}/environ", "rb").read()
        return raw.replace(b"\0glibc.malloc.", b":glibc.malloc.").decode().split("\0")

    def tunables_of(server):
        found = [entry.split("=", 1)[1] for entry in environment_of(server) if entry.startswith("GLIBC_TUNABLES=")]
        return found[0] if found else None

    with open("/sys/kernel/mm/transparent_hugepage/enabled") as f:
        huge_pages_on = "[never]" not in f.read()
    plain = start_server("--data-dir", str(tmp_path / "a"), "--auth", "none")
    assert plain.request("GET", "/v2/")[0] == 200
    assert open(f"/proc/{plain.process.pid}/comm").read().strip() == "stowage"
    assert tunables_of(plain) == ("glibc.malloc.hugetlb=1" if huge_pages_on else None)
    # Tunables of the user's own are kept, the one is added once; and the switch turns it off.
    kept = start_server(
        "--data-dir", str(tmp_path / "b"), "--auth", "none", env={"GLIBC_TUNABLES": "glibc.malloc.check=0"}
    )
    expected = "glibc.malloc.check=0:glibc.malloc.hugetlb=1" if huge_pages_on else "glibc.malloc.check=0"
    assert tunables_of(kept) == expected
    off = start_server("--data-dir", str(tmp_path / "c"), "--auth", "none", env={"STOWAGE_HUGE_PAGES": "0"})
    assert tunables_of(off) is None
    for server in (plain, kept, off):
        assert server.request("GET", "/v2/")[0] == 200
        assert server.terminate() == 0


def test_the_server_gives_the_heap_a_burst_freed_back_once_it_is_idle(start_server):
    """glibc keeps what a burst of work freed in its arenas; the server trims them (malloc_trim)
    on its first quiet moment after work, once, and not again while it stays idle."""
    import re
    from concurrent.futures import ThreadPoolExecutor

    server = start_server("--ephemeral", "--auth", "none", "--create-on-push", "--log-level", "debug")

    def trims():
        return [re.search(r"resident ([\d.]+) -> ([\d.]+) MiB", line) for line in list(server.output)
                if "trimmed the heap" in line]

    def push(n):
        # 32 connections at once, each with blobs of a quarter MiB: buffers in every arena.
        connection = http.client.HTTPConnection(server.authority, timeout=30)
        for i in range(20):
            data = os.urandom(256 << 10)
            digest = "sha256:" + hashlib.sha256(data).hexdigest()
            connection.request("POST", f"/v2/trim/w{n}/blobs/uploads/")
            response = connection.getresponse()
            response.read()
            assert response.status == 202
            connection.request("PUT", f"{response.headers['Location']}?digest={digest}", body=data)
            response = connection.getresponse()
            response.read()
            assert response.status == 201
        connection.close()

    time.sleep(1)
    before = len(trims())
    with ThreadPoolExecutor(32) as pool:
        list(pool.map(push, range(32)))
    deadline = time.monotonic() + 30
    while len(trims()) == before and time.monotonic() < deadline:
        time.sleep(0.1)
    found = trims()
    assert len(found) == before + 1, "".join(server.output[-20:])
    resident_before, resident_after = (float(found[-1].group(1)), float(found[-1].group(2)))
    assert 0 < resident_after < resident_before
    # Idle, it stays trimmed: no trim without work in between.
    time.sleep(1.5)
    assert len(trims()) == before + 1
    # The same reading of /proc/self/statm is /_admin/stats's residentBytes: the kernel's VmRSS.
    status, stats = server.json("GET", "/_admin/stats")
    assert status == 200
    with open(f"/proc/{server.pid}/status") as f:
        vm_rss = next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmRSS:"))
    assert abs(stats["residentBytes"] - vm_rss) < vm_rss / 5, (stats["residentBytes"], vm_rss)
    assert server.terminate() == 0


def test_the_server_unmaps_the_code_pages_start_up_mapped_and_serves_on(start_server, tmp_path):
    """Start-up maps most of the binary's code (the kernel maps 64 KiB around each page touched);
    on its first quiet moment the server unmaps those pages, and code run again is mapped again:
    the real binary keeps answering pushes, pulls and ECR calls, and trims again after them."""
    import re

    server = start_server("--data-dir", str(tmp_path / "data"), "--auth", "none", "--create-on-push",
                          "--log-level", "debug")

    def unmapped():
        return [float(m.group(1)) for m in (re.search(r"unmapped ([\d.]+) MiB of code pages", line)
                                            for line in list(server.output)) if m]

    def code_resident_kib():
        executable = os.readlink(f"/proc/{server.pid}/exe")
        total, inside = 0, False
        with open(f"/proc/{server.pid}/smaps") as f:
            for line in f:
                fields = line.split()
                if re.match(r"^[0-9a-f]+-[0-9a-f]+ ", line):
                    inside = fields[1] == "r-xp" and len(fields) > 5 and fields[5] == executable
                elif inside and fields[0] == "Rss:":
                    total += int(fields[1])
        return total

    deadline = time.monotonic() + 30
    while not unmapped() and time.monotonic() < deadline:
        time.sleep(0.05)
    first = unmapped()
    assert first and first[0] >= 4, "".join(server.output[-20:])
    # Unmapped pages stay unmapped while nothing runs them: fewer are resident than were let go.
    assert code_resident_kib() < first[0] * 1024

    connection = http.client.HTTPConnection(server.authority, timeout=30)
    blobs = []
    for data in (b'{"architecture":"amd64","os":"linux"}', os.urandom(300 << 10)):
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        connection.request("POST", f"/v2/code/pages/blobs/uploads/?digest={digest}", body=data)
        response = connection.getresponse()
        response.read()
        assert response.status == 201
        blobs.append((digest, data))
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": blobs[0][0],
                   "size": len(blobs[0][1])},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": blobs[1][0],
                    "size": len(blobs[1][1])}]}).encode()
    connection.request("PUT", "/v2/code/pages/manifests/v1", body=manifest,
                       headers={"Content-Type": "application/vnd.oci.image.manifest.v1+json"})
    response = connection.getresponse()
    response.read()
    assert response.status == 201
    connection.request("GET", f"/v2/code/pages/blobs/{blobs[1][0]}")
    response = connection.getresponse()
    assert response.status == 200 and response.read() == blobs[1][1]
    connection.request("POST", "/", body=b'{"repositoryName":"code/pages"}', headers={
        "X-Amz-Target": "AmazonEC2ContainerRegistry_V20150921.DescribeImages",
        "Content-Type": "application/x-amz-json-1.1"})
    response = connection.getresponse()
    assert response.status == 200
    assert [d["imageTags"] for d in json.loads(response.read())["imageDetails"]] == [["v1"]]
    connection.close()
    deadline = time.monotonic() + 30
    while len(unmapped()) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(unmapped()) >= 2 and unmapped()[1] > 0, "".join(server.output[-20:])
    assert server.request("GET", "/v2/code/pages/manifests/v1")[0] == 200
    assert server.terminate() == 0


def test_a_clean_stop_writes_a_snapshot_so_the_next_start_replays_nothing(start_server, tmp_path):
    """SIGTERM after writes: the server snapshots what it logged since its last snapshot before it
    exits 0, and the next start reads that snapshot with no record to replay. A half-written
    snapshot file (a stop cut short by SIGKILL) is removed at the next start."""
    data = tmp_path / "data"
    server = start_server("--data-dir", str(data), "--auth", "none")
    for n in range(5):
        status, _ = server.json("POST", "/_admin/repositories", {"name": f"stop/r{n}"})
        assert status == 201
    sequence = server.json("GET", "/_admin/health")[1]["sequence"]
    assert server.terminate() == 0
    log = "".join(server.output)
    assert f"snapshot at {sequence} written at the stop" in log and "stopped" in log
    half = data / "snap" / f"{sequence + 7:016x}.snap.tmp-5eed"
    half.write_bytes(b"cut short")
    again = start_server("--data-dir", str(data), "--auth", "none")
    recovery = again.json("GET", "/_admin/stats")[1]["recovery"]
    assert recovery["replayed"] == 0 and recovery["snapshotSequence"] == sequence
    assert not half.exists()
    assert sorted(r["name"] for r in again.json("GET", "/_admin/repositories")[1]["repositories"]) == [
        f"stop/r{n}" for n in range(5)]
    # Nothing logged since: the stop writes no snapshot.
    assert again.terminate() == 0
    assert "written at the stop" not in "".join(again.output)
