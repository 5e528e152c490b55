"""pytest-stowage's own tests: real pytest sessions (pytester) against the real stowage binary."""

import os
import subprocess
import tarfile
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BINARY = Path(os.environ.get("STOWAGE_BIN", ROOT / ".build" / "debug" / "stowage"))


@pytest.fixture
def session(pytester):
    """Runs a pytest session in a subprocess (so each has its own server) with the binary given."""
    assert BINARY.exists(), f"{BINARY} is missing: run `swift build` (make test does)"

    def run(source, *args):
        pytester.makepyfile(test_suite=textwrap.dedent(source))
        return pytester.runpytest_subprocess("--stowage-bin", str(BINARY), "-p", "no:cacheprovider", *args)

    return run


def layout(path, tag):
    """A one-layer OCI image layout, as a directory."""
    import hashlib
    import json

    def blob(data):
        digest = hashlib.sha256(data).hexdigest()
        (path / "blobs" / "sha256").mkdir(parents=True, exist_ok=True)
        (path / "blobs" / "sha256" / digest).write_bytes(data)
        return "sha256:" + digest

    config, layer = b'{"architecture":"amd64","os":"linux"}', b"a layer for " + tag.encode()
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": blob(config), "size": len(config)},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": blob(layer), "size": len(layer)}],
    }).encode()
    digest = blob(manifest)
    (path / "oci-layout").write_text('{"imageLayoutVersion":"1.0.0"}')
    (path / "index.json").write_text(json.dumps({"schemaVersion": 2, "manifests": [{
        "mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": digest, "size": len(manifest),
        "annotations": {"org.opencontainers.image.ref.name": tag}}]}))
    return digest


def test_each_test_gets_a_clean_registry_and_the_server_api(session):
    result = session("""
        import json, urllib.request

        def catalog(stowage):
            request = urllib.request.Request(f"{stowage.url}/v2/_catalog")
            request.add_header("Authorization", "Basic " + __import__("base64").b64encode(
                f"AWS:{stowage.password()}".encode()).decode())
            return json.load(urllib.request.urlopen(request))["repositories"]

        def test_first(stowage, stowage_server):
            assert stowage is stowage_server and stowage.host.startswith("127.0.0.1:")
            stowage.ecr().create_repository(repositoryName="one/app")
            assert catalog(stowage) == ["one/app"]
            stowage.checkpoint("mine")
            stowage.ecr().create_repository(repositoryName="two/app")
            stowage.rewind("mine")
            assert catalog(stowage) == ["one/app"]
            assert [r["kind"] for r in stowage.log(kind="checkpoint")] == ["checkpoint"]

        def test_second_starts_clean(stowage, tmp_path):
            assert catalog(stowage) == []
            ecr = stowage.ecr(account="123456789012", region="eu-west-1")
            uri = ecr.create_repository(repositoryName="far/app")["repository"]["repositoryUri"]
            assert uri.endswith("/far/app")
            stowage.export(tmp_path / "x.stowage")
            stowage.reset()
            assert stowage.import_file(tmp_path / "x.stowage")["repositories"] == 1
            config = stowage.docker_config(tmp_path / "docker")
            assert stowage.host in (config / "config.json").read_text()
            assert (config / "auth.json").exists()
    """)
    result.assert_outcomes(passed=2)


def test_a_failing_test_shows_its_registry_history_and_upload_stories(session):
    result = session("""
        import hashlib, http.client, base64

        def test_a_push_that_goes_wrong(stowage):
            stowage.ecr().create_repository(repositoryName="broken/app")
            host, port = stowage.host.split(":")
            auth = {"Authorization": "Basic " + base64.b64encode(f"AWS:{stowage.password()}".encode()).decode()}
            c = http.client.HTTPConnection(host, int(port))
            c.request("POST", "/v2/broken/app/blobs/uploads/", headers=auth)
            r = c.getresponse(); r.read()
            location = r.getheader("Location")
            c.request("PATCH", location, body=b"hello", headers={**auth, "Content-Range": "3-7"})
            c.getresponse().read()
            assert False, "the push failed"

        def test_a_passing_one(stowage):
            stowage.ecr().create_repository(repositoryName="fine/app")
    """)
    result.assert_outcomes(passed=1, failed=1)
    text = result.stdout.str()
    assert "stowage history" in text
    assert "createRepository  create repository broken/app" in text
    assert "REFUSED" in text and "starts at byte 3, but the upload stands at byte 0" in text
    assert "upload " in text and "bytes 3+5" in text
    assert "fine/app" not in text, "a passing test's records are not in the report"


def test_fixtures_load_once_and_each_test_starts_from_them(session, tmp_path):
    digest = layout(tmp_path / "layout", "v1")
    with tarfile.open(tmp_path / "layout.tar", mode="w") as tar:
        tar.add(tmp_path / "layout", arcname=".")
    source = """
        def test_one(stowage):
            ecr = stowage.ecr()
            assert [i["imageDigest"] for i in ecr.list_images(repositoryName="fix/app")["imageIds"]] == ["{digest}"]
            ecr.batch_delete_image(repositoryName="fix/app", imageIds=[{{"imageTag": "v1"}}])
            ecr.create_repository(repositoryName="extra/app")

        def test_two(stowage):
            names = sorted(r["repositoryName"] for r in stowage.ecr().describe_repositories()["repositories"])
            assert names == ["fix/app", "tar/app"]
            assert stowage.ecr().list_images(repositoryName="fix/app")["imageIds"][0]["imageTag"] == "v1"
    """.format(digest=digest)
    result = session(source, "--stowage-fixture", f"fix/app={tmp_path / 'layout'}",
                     "--stowage-fixture", f"tar/app={tmp_path / 'layout.tar'}")
    result.assert_outcomes(passed=2)


def test_a_running_server_can_be_used_instead(session, tmp_path):
    digest = layout(tmp_path / "layout", "v9")
    server = subprocess.Popen([str(BINARY), "serve", "--ephemeral", "--port", "0"], stdout=subprocess.PIPE, text=True)
    try:
        url = next(line for line in server.stdout if line.startswith("Stowage serving on ")).split()[-1]
        result = session("""
            def test_it(stowage):
                assert stowage.url == "{url}"
                tags = stowage.ecr().list_images(repositoryName="given/app")["imageIds"]
                assert tags == [{{"imageDigest": "{digest}", "imageTag": "v9"}}]
        """.format(url=url, digest=digest), "--stowage-url", url,
            "--stowage-fixture", f"given/app={tmp_path / 'layout'}")
        result.assert_outcomes(passed=1)
    finally:
        server.kill()
        server.wait()


def test_without_a_binary_the_session_says_how_to_get_one(pytester):
    pytester.makepyfile(test_suite="def test_it(stowage):\n    pass\n")
    result = pytester.runpytest_subprocess("--stowage-bin", "/nonexistent/stowage", "-p", "no:cacheprovider")
    result.assert_outcomes(errors=1)
    assert "no stowage binary" in result.stdout.str() and "--stowage-url" in result.stdout.str()
