"""The OCI Distribution v2 API over real HTTP: every status code, header and error the spec names."""

import json
import os
import uuid

import pytest
from registry import (DOCKER_LIST, DOCKER_MANIFEST, OCI_CONFIG, OCI_INDEX, OCI_LAYER, OCI_MANIFEST, Registry,
                      digest)


@pytest.fixture
def repo(registry):
    name = f"test/{uuid.uuid4().hex[:10]}"
    registry.create(name)
    return name


def test_every_endpoint_demands_auth_the_same_way_for_existing_and_missing_repositories(registry, repo):
    layer = registry.push_blob(repo, b"secret layer")
    paths = ["/v2/", "/v2/_catalog", f"/v2/{repo}/tags/list", "/v2/nope/tags/list", f"/v2/{repo}/blobs/{layer}",
             f"/v2/nope/blobs/{layer}", f"/v2/{repo}/manifests/latest", f"/v2/{repo}/referrers/{layer}"]
    for path in paths:
        for method in ("GET", "HEAD"):
            r = registry.request(method, path, auth=False)
            assert r.status == 401, (method, path, r)
            assert r.headers["WWW-Authenticate"] == 'Basic realm="Stowage"'
            assert r.headers["Docker-Distribution-Api-Version"] == "registry/2.0"
            if method == "GET":
                assert r.errors() == ["UNAUTHORIZED"]
            else:
                assert r.body == b""
    for method, path in [("POST", f"/v2/{repo}/blobs/uploads/"), ("PUT", f"/v2/{repo}/manifests/x"), ("DELETE", f"/v2/{repo}/blobs/{layer}")]:
        assert registry.request(method, path, auth=False).status == 401
    # A tampered or foreign token is refused; a valid one is accepted.
    bad = registry.password[:-2] + ("AA" if not registry.password.endswith("AA") else "BB")
    assert registry.request("GET", "/v2/", headers=registry.auth_header(bad), auth=False).status == 401
    assert registry.request("GET", "/v2/", headers={"Authorization": "Basic " + "bm90OmF3cw=="}, auth=False).status == 401
    ok = registry.request("GET", "/v2/")
    assert ok.status == 200 and ok.json() == {}


def test_tokens_decide_the_account_and_region(server, registry, repo):
    other = Registry(server).login(account="123456789012", region="eu-west-1")
    assert repo in registry.request("GET", "/v2/_catalog").json()["repositories"]
    assert other.request("GET", "/v2/_catalog").json() == {"repositories": []}
    assert other.request("GET", f"/v2/{repo}/tags/list").errors() == ["NAME_UNKNOWN"]


def test_pushing_to_a_missing_repository_is_name_unknown_as_in_ecr(registry):
    r = registry.start_upload("does/not-exist")
    assert r.status == 404 and r.errors() == ["NAME_UNKNOWN"]
    assert registry.request("PUT", "/v2/does/not-exist/manifests/v1", body=b"{}").errors() == ["NAME_UNKNOWN"]
    assert registry.request("POST", "/v2/Bad_Name/blobs/uploads/").errors() == ["NAME_INVALID"]


def test_create_on_push_creates_the_repository(start_server, tmp_path):
    server = start_server("--ephemeral", "--auth", "none", "--create-on-push")
    registry = Registry(server)
    registry.push_image("auto/made", "v1")
    assert registry.request("GET", "/v2/_catalog").json() == {"repositories": ["auto/made"]}


def test_chunked_upload_with_content_ranges_then_commit(registry, repo):
    data = os.urandom(300_000)
    start = registry.start_upload(repo)
    assert start.status == 202
    assert start.headers["Range"] == "0-0" and start.headers["Content-Length"] == "0"
    location, uuid_header = start.headers["Location"], start.headers["Docker-Upload-UUID"]
    assert location.endswith(uuid_header)
    first = registry.request("PATCH", location, body=data[:100_000], headers={"Content-Range": "0-99999", "Content-Type": "application/octet-stream"})
    assert first.status == 202 and first.headers["Range"] == "0-99999"
    second = registry.request("PATCH", first.headers["Location"], body=data[100_000:250_000], headers={"Content-Range": "100000-249999"})
    assert second.headers["Range"] == "0-249999"
    status = registry.request("GET", location)
    assert status.status == 204 and status.headers["Range"] == "0-249999" and status.headers["Docker-Upload-UUID"] == uuid_header
    d = digest(data)
    done = registry.request("PUT", f"{location}?digest={d}", body=data[250_000:])
    assert done.status == 201
    assert done.headers["Location"] == f"/v2/{repo}/blobs/{d}" and done.headers["Docker-Content-Digest"] == d
    got = registry.request("GET", f"/v2/{repo}/blobs/{d}")
    assert got.status == 200 and got.body == data
    assert got.headers["Content-Type"] == "application/octet-stream" and got.headers["Docker-Content-Digest"] == d
    head = registry.request("HEAD", f"/v2/{repo}/blobs/{d}")
    assert head.status == 200 and head.headers["Content-Length"] == str(len(data)) and head.body == b""
    # The session is gone once committed.
    assert registry.request("GET", location).errors() == ["BLOB_UPLOAD_UNKNOWN"]


def test_chunked_transfer_encoding_without_content_length_as_docker_sends(registry, repo):
    pieces = [os.urandom(70_000) for _ in range(5)]
    data = b"".join(pieces)
    location = registry.start_upload(repo).headers["Location"]
    r = registry.request("PATCH", location, body=pieces, chunked=True)
    assert r.status == 202 and r.headers["Range"] == f"0-{len(data) - 1}"
    assert registry.request("PUT", f"{location}?digest={digest(data)}").status == 201
    assert registry.request("GET", f"/v2/{repo}/blobs/{digest(data)}").body == data


def test_an_out_of_order_chunk_is_416_with_the_current_range_and_the_upload_survives(registry, repo):
    location = registry.start_upload(repo).headers["Location"]
    registry.request("PATCH", location, body=b"12345", headers={"Content-Range": "0-4"})
    ahead = registry.request("PATCH", location, body=b"xyz", headers={"Content-Range": "7-9"})
    assert ahead.status == 416 and ahead.headers["Range"] == "0-4" and ahead.errors() == ["BLOB_UPLOAD_INVALID"]
    again = registry.request("PATCH", location, body=b"12345", headers={"Content-Range": "0-4"})
    assert again.status == 416
    ok = registry.request("PATCH", location, body=b"678", headers={"Content-Range": "5-7"})
    assert ok.status == 202 and ok.headers["Range"] == "0-7"
    assert registry.request("PUT", f"{location}?digest={digest(b'12345678')}").status == 201


def test_a_wrong_digest_is_refused_and_the_session_stays_usable_for_a_retry(registry, repo):
    location = registry.start_upload(repo).headers["Location"]
    registry.request("PATCH", location, body=b"hello")
    wrong = registry.request("PUT", f"{location}?digest={digest(b'other')}")
    assert wrong.status == 400 and wrong.errors() == ["DIGEST_INVALID"]
    assert registry.request("GET", location).headers["Range"] == "0-4"
    right = registry.request("PUT", f"{location}?digest={digest(b'hello')}")
    assert right.status == 201
    missing = registry.request("PUT", registry.start_upload(repo).headers["Location"])
    assert missing.status == 400 and missing.errors() == ["DIGEST_INVALID"]
    bad = registry.request("PUT", registry.start_upload(repo).headers["Location"] + "?digest=sha256:xyz")
    assert bad.errors() == ["DIGEST_INVALID"]


def test_single_request_upload_checks_the_digest(registry, repo):
    data = b"monolithic blob"
    ok = registry.request("POST", f"/v2/{repo}/blobs/uploads/?digest={digest(data)}", body=data)
    assert ok.status == 201 and ok.headers["Docker-Content-Digest"] == digest(data)
    bad = registry.request("POST", f"/v2/{repo}/blobs/uploads/?digest={digest(b'nope')}", body=data)
    assert bad.status == 400 and bad.errors() == ["DIGEST_INVALID"]
    assert registry.request("HEAD", f"/v2/{repo}/blobs/{digest(b'nope')}").status == 404


def test_an_upload_id_is_unknown_under_any_other_repository_whatever_the_verb(registry, repo):
    other = repo + "-other"
    registry.create(other)
    location = registry.start_upload(repo).headers["Location"]
    foreign = location.replace(f"/v2/{repo}/", f"/v2/{other}/")
    for method, kwargs in [("PATCH", {"body": b"x"}), ("PUT", {"body": b""}), ("GET", {}), ("DELETE", {})]:
        path = foreign + ("?digest=" + digest(b"x") if method == "PUT" else "")
        r = registry.request(method, path, **kwargs)
        assert r.status == 404 and r.errors() == ["BLOB_UPLOAD_UNKNOWN"], (method, r)
    assert registry.request("GET", location).status == 204
    assert registry.request("DELETE", location).status == 204
    assert registry.request("GET", location).errors() == ["BLOB_UPLOAD_UNKNOWN"]


@pytest.mark.parametrize("header,status,expected", [
    ("bytes=0-9", 206, (0, 10)), ("bytes=10-", 206, (10, 100)), ("bytes=-5", 206, (95, 100)), ("bytes=90-500", 206, (90, 100)),
    ("bytes=-500", 206, (0, 100)), ("bytes=100-", 416, None), ("bytes=200-300", 416, None), ("bytes=-0", 416, None),
    ("bytes=0-1,5-6", 200, (0, 100)), ("items=0-5", 200, (0, 100)), ("bytes=9-3", 416, None),
])
def test_range_reads(registry, repo, header, status, expected):
    data = bytes(range(100))
    d = registry.push_blob(repo, data)
    r = registry.request("GET", f"/v2/{repo}/blobs/{d}", headers={"Range": header})
    assert r.status == status, r
    if status == 206:
        a, b = expected
        assert r.body == data[a:b] and r.headers["Content-Range"] == f"bytes {a}-{b - 1}/100"
    elif status == 416:
        assert r.headers["Content-Range"] == "bytes */100"
        assert r.errors() == ["RANGE_INVALID"]
    else:
        assert r.body == data


def test_cross_repository_mounts(registry, repo):
    source, target = repo, repo + "-mount"
    registry.create(target)
    d = registry.push_blob(source, b"shared layer")
    mounted = registry.request("POST", f"/v2/{target}/blobs/uploads/?mount={d}&from={source}")
    assert mounted.status == 201 and mounted.headers["Location"] == f"/v2/{target}/blobs/{d}"
    assert registry.request("GET", f"/v2/{target}/blobs/{d}").body == b"shared layer"
    unknown = digest(b"never pushed")
    fallback = registry.request("POST", f"/v2/{target}/blobs/uploads/?mount={unknown}&from={source}")
    assert fallback.status == 202 and "/blobs/uploads/" in fallback.headers["Location"]
    third = repo + "-third"
    registry.create(third)
    anywhere = registry.request("POST", f"/v2/{third}/blobs/uploads/?mount={d}")
    assert anywhere.status == 201


def test_blob_delete_removes_only_this_repositorys_link(registry, repo):
    other = repo + "-keep"
    registry.create(other)
    d = registry.push_blob(repo, b"to delete")
    registry.push_blob(other, b"to delete")
    assert registry.request("DELETE", f"/v2/{repo}/blobs/{d}").status == 202
    assert registry.request("HEAD", f"/v2/{repo}/blobs/{d}").status == 404
    assert registry.request("GET", f"/v2/{repo}/blobs/{d}").errors() == ["BLOB_UNKNOWN"]
    assert registry.request("GET", f"/v2/{other}/blobs/{d}").body == b"to delete"
    assert registry.request("DELETE", f"/v2/{repo}/blobs/{d}").errors() == ["BLOB_UNKNOWN"]


def test_manifests_round_trip_exactly_by_tag_and_digest(registry, repo):
    manifest, d = registry.push_image(repo, "v1")
    for reference in ("v1", d):
        r = registry.request("GET", f"/v2/{repo}/manifests/{reference}", headers={"Accept": OCI_MANIFEST})
        assert r.status == 200 and r.body == manifest
        assert r.headers["Content-Type"] == OCI_MANIFEST and r.headers["Docker-Content-Digest"] == d
        head = registry.request("HEAD", f"/v2/{repo}/manifests/{reference}")
        assert head.status == 200 and head.headers["Content-Length"] == str(len(manifest)) and head.body == b""
    assert registry.request("GET", f"/v2/{repo}/manifests/v2").errors() == ["MANIFEST_UNKNOWN"]
    # A tag fetch with an Accept list that excludes the type is refused; a digest fetch is not.
    assert registry.request("GET", f"/v2/{repo}/manifests/v1", headers={"Accept": DOCKER_MANIFEST}).status == 404
    assert registry.request("GET", f"/v2/{repo}/manifests/{d}", headers={"Accept": DOCKER_MANIFEST}).status == 200


def test_a_manifest_with_missing_blobs_lists_every_one(registry, repo):
    config = registry.push_blob(repo, b"{}")
    missing = [digest(b"missing one"), digest(b"missing two")]
    manifest = {"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                "config": {"mediaType": OCI_CONFIG, "digest": config, "size": 2},
                "layers": [{"mediaType": OCI_LAYER, "digest": m, "size": 1} for m in missing]}
    r = registry.push_manifest(repo, "v1", manifest)
    assert r.status == 400
    assert r.errors() == ["MANIFEST_BLOB_UNKNOWN", "MANIFEST_BLOB_UNKNOWN"]
    assert [e["detail"]["digest"] for e in r.json()["errors"]] == missing
    assert registry.request("GET", f"/v2/{repo}/tags/list").json()["tags"] == []


def test_indexes_docker_types_and_missing_children(registry, repo):
    manifest, d = registry.push_image(repo, "amd64")
    child = {"mediaType": OCI_MANIFEST, "digest": d, "size": len(manifest), "platform": {"architecture": "amd64", "os": "linux"}}
    ghost = {"mediaType": OCI_MANIFEST, "digest": digest(b"ghost"), "size": 3}
    bad = registry.push_manifest(repo, "multi", {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [child, ghost]}, OCI_INDEX)
    # The spec's code for a manifest that references a manifest or blob unknown to the registry.
    assert bad.status == 400 and bad.errors() == ["MANIFEST_BLOB_UNKNOWN"]
    good = registry.push_manifest(repo, "multi", {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [child]}, OCI_INDEX)
    assert good.status == 201
    assert registry.request("GET", f"/v2/{repo}/manifests/multi").headers["Content-Type"] == OCI_INDEX
    config = registry.push_blob(repo, b'{"os":"linux"}')
    layer = registry.push_blob(repo, b"docker layer")
    docker = {"schemaVersion": 2, "mediaType": DOCKER_MANIFEST,
              "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "digest": config, "size": 14},
              "layers": [{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", "digest": layer, "size": 12},
                         {"mediaType": "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip", "digest": digest(b"windows"), "size": 9, "urls": ["https://example.invalid/l"]}]}
    r = registry.push_manifest(repo, "docker", docker, DOCKER_MANIFEST)
    assert r.status == 201, r
    listing = registry.push_manifest(repo, "list", {"schemaVersion": 2, "mediaType": DOCKER_LIST, "manifests": [
        {"mediaType": DOCKER_MANIFEST, "digest": r.headers["Docker-Content-Digest"], "size": len(json.dumps(docker)), "platform": {"architecture": "amd64", "os": "linux"}}]}, DOCKER_LIST)
    assert listing.status == 201


@pytest.mark.parametrize("body,content_type", [
    (b"not json", OCI_MANIFEST), (b"[1,2]", OCI_MANIFEST), (b'{"schemaVersion":1,"name":"x"}', OCI_MANIFEST),
    (b'{"schemaVersion":2,"mediaType":"text/plain"}', OCI_MANIFEST),
    (b'{"schemaVersion":2,"mediaType":"' + OCI_MANIFEST.encode() + b'"}', OCI_MANIFEST),
    (b'{"schemaVersion":2,"mediaType":"' + OCI_MANIFEST.encode() + b'","config":{"mediaType":"x","digest":"sha256:zz","size":1}}', OCI_MANIFEST),
    (b'{"schemaVersion":2,"mediaType":"' + OCI_MANIFEST.encode() + b'","config":{"mediaType":"x","digest":"' + digest(b"").encode() + b'","size":-1}}', OCI_MANIFEST),
    (b'{"schemaVersion":2,"mediaType":"' + OCI_INDEX.encode() + b'"}', OCI_INDEX),
    (b"\xff\xfe{}", OCI_MANIFEST),
])
def test_malformed_manifests_are_manifest_invalid_never_a_server_error(registry, repo, body, content_type):
    r = registry.push_manifest(repo, "bad", body, content_type)
    assert r.status == 400 and r.errors() == ["MANIFEST_INVALID"], r


def test_manifest_size_limit_and_digest_references(registry, repo):
    manifest, d = registry.push_image(repo, "v1")
    big = json.loads(manifest)
    big["annotations"] = {"pad": "x" * (4 * 1024 * 1024 - len(manifest) - 100)}
    raw = json.dumps(big).encode()
    assert len(raw) <= 4 * 1024 * 1024
    assert registry.push_manifest(repo, "big", raw).status == 201
    big["annotations"]["pad"] += "x" * 200
    too_big = json.dumps(big).encode()
    r = registry.push_manifest(repo, "too-big", too_big)
    assert r.status == 413 and r.errors() == ["SIZE_INVALID"]
    assert registry.push_manifest(repo, d, manifest).status == 201
    wrong = registry.push_manifest(repo, digest(b"something else"), manifest)
    assert wrong.status == 400 and wrong.errors() == ["DIGEST_INVALID"]
    assert registry.push_manifest(repo, "bad:tag", manifest).status == 400
    assert registry.push_manifest(repo, "-bad", manifest).errors() == ["TAG_INVALID"]


def test_immutable_repositories_refuse_moving_a_tag(server, registry):
    name = f"immutable/{uuid.uuid4().hex[:8]}"
    assert server.json("POST", "/_admin/repositories", {"name": name, "tagMutability": "IMMUTABLE"})[0] == 201
    registry.push_image(name, "v1", layers=(b"one",))
    same = registry.push_image(name, "v1", layers=(b"one",))
    assert same
    config = registry.push_blob(name, b"{}")
    other = {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": {"mediaType": OCI_CONFIG, "digest": config, "size": 2}, "layers": []}
    r = registry.push_manifest(name, "v1", other)
    assert r.status == 400 and r.errors() == ["TAG_INVALID"]
    assert registry.push_manifest(name, "v2", other).status == 201


def test_deleting_by_tag_keeps_the_image_and_by_digest_removes_it_with_its_tags(registry, repo):
    manifest, d = registry.push_image(repo, "v1")
    registry.push_manifest(repo, "v2", manifest)
    assert registry.request("DELETE", f"/v2/{repo}/manifests/v1").status == 202
    assert registry.request("GET", f"/v2/{repo}/manifests/v1").status == 404
    assert registry.request("GET", f"/v2/{repo}/manifests/{d}").status == 200
    assert registry.request("DELETE", f"/v2/{repo}/manifests/{d}").status == 202
    assert registry.request("GET", f"/v2/{repo}/manifests/v2").status == 404
    assert registry.request("GET", f"/v2/{repo}/tags/list").json() == {"name": repo, "tags": []}
    assert registry.request("DELETE", f"/v2/{repo}/manifests/{d}").errors() == ["MANIFEST_UNKNOWN"]


def test_tags_are_listed_in_lexical_order_with_link_pagination(registry, repo):
    manifest, _ = registry.push_image(repo, "b")
    for tag in ["a", "c", "B", "a1", "z"]:
        assert registry.push_manifest(repo, tag, manifest).status == 201
    assert registry.request("GET", f"/v2/{repo}/tags/list").json()["tags"] == ["B", "a", "a1", "b", "c", "z"]
    seen, path = [], f"/v2/{repo}/tags/list?n=2"
    while path:
        r = registry.request("GET", path)
        seen += r.json()["tags"]
        link = r.headers.get("Link")
        path = link[1:link.index(">")] if link else None
        if path:
            assert link.endswith('rel="next"')
    assert seen == ["B", "a", "a1", "b", "c", "z"]
    assert registry.request("GET", f"/v2/{repo}/tags/list?n=0").json()["tags"] == []
    assert registry.request("GET", f"/v2/{repo}/tags/list?n=-1").errors() == ["PAGINATION_NUMBER_INVALID"]
    assert registry.request("GET", f"/v2/{repo}/tags/list?last=b").json()["tags"] == ["c", "z"]


def test_referrers_and_the_subject_header(registry, repo):
    manifest, subject = registry.push_image(repo, "v1")
    empty = registry.push_blob(repo, b"{}")
    def artifact(kind, note):
        return {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "artifactType": kind,
                "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": empty, "size": 2}, "layers": [],
                "subject": {"mediaType": OCI_MANIFEST, "digest": subject, "size": len(manifest)}, "annotations": {"note": note}}
    sig = registry.push_manifest(repo, digest(json.dumps(artifact("application/vnd.example.sig", "s")).encode()), artifact("application/vnd.example.sig", "s"))
    assert sig.status == 201 and sig.headers["OCI-Subject"] == subject
    sbom = registry.push_manifest(repo, "sbom", artifact("application/vnd.example.sbom", "b"))
    assert sbom.status == 201
    r = registry.request("GET", f"/v2/{repo}/referrers/{subject}")
    assert r.status == 200 and r.headers["Content-Type"] == OCI_INDEX
    index = r.json()
    assert index["schemaVersion"] == 2 and index["mediaType"] == OCI_INDEX
    assert {m["artifactType"] for m in index["manifests"]} == {"application/vnd.example.sig", "application/vnd.example.sbom"}
    assert all(m["annotations"]["note"] in ("s", "b") and m["size"] > 0 for m in index["manifests"])
    filtered = registry.request("GET", f"/v2/{repo}/referrers/{subject}?artifactType=application/vnd.example.sbom")
    assert filtered.headers["OCI-Filters-Applied"] == "artifactType"
    assert [m["digest"] for m in filtered.json()["manifests"]] == [sbom.headers["Docker-Content-Digest"]]
    nothing = registry.request("GET", f"/v2/{repo}/referrers/{digest(b'unknown')}")
    assert nothing.status == 200 and nothing.json()["manifests"] == []
    # A subject that does not exist (yet) is accepted.
    dangling = artifact("application/vnd.example.sig", "d")
    dangling["subject"]["digest"] = digest(b"not pushed yet")
    assert registry.push_manifest(repo, "dangling", dangling).status == 201
    assert registry.request("GET", f"/v2/{repo}/referrers/bad").errors() == ["DIGEST_INVALID"]


def test_catalog_pagination(start_server):
    server = start_server("--ephemeral", "--auth", "none")
    registry = Registry(server)
    names = [f"cat/r{i}" for i in range(7)]
    for name in names:
        registry.create(name)
    seen, path = [], "/v2/_catalog?n=3"
    while path:
        r = registry.request("GET", path)
        seen += r.json()["repositories"]
        link = r.headers.get("Link")
        path = link[1:link.index(">")] if link else None
    assert seen == sorted(names)


@pytest.mark.parametrize("name", ["a/blobs/b", "x/manifests/tags", "blobs/uploads", "tags/list", "m/referrers/r"])
def test_repository_names_that_contain_route_words_work_end_to_end(registry, name):
    registry.create(name)
    manifest, d = registry.push_image(name, "v1", layers=(name.encode(),))
    assert registry.request("GET", f"/v2/{name}/manifests/v1").body == manifest
    assert registry.request("GET", f"/v2/{name}/tags/list").json() == {"name": name, "tags": ["v1"]}
    assert registry.request("GET", f"/v2/{name}/blobs/{digest(name.encode())}").body == name.encode()
    location = registry.start_upload(name).headers["Location"]
    assert registry.request("GET", location).status == 204


@pytest.mark.parametrize("method,path", [
    ("GET", "/v2/%zz/tags/list"), ("GET", "/v2/a/blobs/sha256:%00"), ("PATCH", "/v2/a/tags/list"), ("GET", "/v2/../../etc/passwd"),
    ("GET", "/v2/a/manifests/" + "x" * 5000), ("PUT", "/v2/a/blobs/uploads/..%2F..%2Fx?digest=sha256:00"), ("DELETE", "/v2/"),
    ("GET", "/v2/a/blobs/uploads/" + "z" * 300), ("POST", "/v2/a/manifests/v1"),
])
def test_malformed_requests_are_4xx_with_an_oci_error_and_no_internal_paths(registry, method, path):
    r = registry.request(method, path, body=b"junk" if method in ("PUT", "PATCH", "POST") else None)
    assert 400 <= r.status < 500, r
    body = r.body.decode(errors="replace")
    assert "errors" in json.loads(body)
    assert "/tmp" not in body and "/work" not in body and ".swift" not in body


@pytest.mark.parametrize("query", ["n=9223372036854775807&last=b", "n=9223372036854775807", "n=99999999999999999999999"])
def test_huge_page_sizes_do_not_crash_the_server(registry, repo, server, query):
    manifest, _ = registry.push_image(repo, "b")
    registry.push_manifest(repo, "c", manifest)
    r = registry.request("GET", f"/v2/{repo}/tags/list?{query}")
    assert r.status in (200, 400)
    assert registry.request("GET", f"/v2/_catalog?{query}").status in (200, 400)
    assert registry.request("GET", "/v2/").status == 200  # still alive


@pytest.mark.parametrize("content_range", ["0-9223372036854775807", "9223372036854775806-9223372036854775807", "0-99999999999999999999"])
def test_huge_content_ranges_are_refused_without_crashing(registry, repo, content_range):
    location = registry.start_upload(repo).headers["Location"]
    r = registry.request("PATCH", location, body=b"abc", headers={"Content-Range": content_range})
    assert 400 <= r.status < 500
    assert registry.request("GET", "/v2/").status == 200


def open_descriptors(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def test_large_blobs_go_out_whole_and_by_range_on_one_connection_and_leave_no_descriptor_open(server, registry, repo):
    """Bodies from 64 KiB on are sent with sendfile(2): every byte must still be the blob's."""
    import http.client
    import socket
    import time

    data = os.urandom(3 * (1 << 20) + 17)
    d = registry.push_blob(repo, data)
    before = open_descriptors(server.pid)
    host, port = registry.authority.split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=60)
    headers = registry.auth_header()
    reads = [(None, 0, len(data)), ("bytes=0-", 0, len(data)), ("bytes=1000-2000000", 1000, 2000001),
             ("bytes=-70000", len(data) - 70000, len(data)), ("bytes=5-9", 5, 10), ("bytes=3000000-", 3000000, len(data)),
             (None, 0, len(data))]
    for header, start, end in reads:
        connection.request("GET", f"/v2/{repo}/blobs/{d}", headers=dict(headers, **({"Range": header} if header else {})))
        r = connection.getresponse()
        body = r.read()
        assert r.status == (206 if header else 200), (header, r.status)
        assert int(r.headers["Content-Length"]) == end - start and body == data[start:end], header
        connection.request("HEAD", f"/v2/{repo}/blobs/{d}", headers=headers)
        head = connection.getresponse()
        assert head.status == 200 and head.read() == b"" and int(head.headers["Content-Length"]) == len(data)
    connection.close()
    # A client that hangs up mid-body: the server neither crashes nor keeps the file open.
    for _ in range(5):
        with socket.create_connection((host, int(port))) as raw:
            auth = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
            raw.sendall(f"GET /v2/{repo}/blobs/{d} HTTP/1.1\r\nHost: {host}\r\n{auth}\r\n".encode())
            raw.recv(1000)
    deadline = time.monotonic() + 10
    while open_descriptors(server.pid) > before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert open_descriptors(server.pid) <= before
    assert registry.request("GET", f"/v2/{repo}/blobs/{d}").body == data
