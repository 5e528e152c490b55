"""Switches (referrers, deletes, Warning, a rate limit, the chunk minimum) and injected faults,
against the real binary, with real clients where one applies."""

import json
import time

import pytest
from commands import stowage, skopeo, ecr
from images import make_layout
from registry import OCI_MANIFEST, Registry, digest
from test_clients import Dockerd, require, work  # noqa: F401 (work is a fixture)


def artifact_with_subject(registry, name, subject_digest, subject_size):
    """Pushes an artifact manifest whose subject is the given manifest; returns (response, digest)."""
    config = registry.push_blob(name, b"{}")
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST, "artifactType": "application/vnd.example.sig",
        "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": config, "size": 2},
        "layers": [],
        "subject": {"mediaType": OCI_MANIFEST, "digest": subject_digest, "size": subject_size},
    }).encode()
    return registry.push_manifest(name, digest(manifest), manifest), digest(manifest)


def test_with_referrers_off_clients_get_what_sends_them_to_the_tag_schema(start_server):
    server = start_server("--ephemeral", "--auth", "none", "--no-referrers")
    registry = Registry(server)
    registry.create("ref/app")
    image, image_digest = registry.push_image("ref/app", "v1")
    pushed, artifact = artifact_with_subject(registry, "ref/app", image_digest, len(image))
    # No OCI-Subject header: the client must maintain the tag-schema index itself...
    assert pushed.status == 201 and "OCI-Subject" not in pushed.headers
    # ... and the referrers API is not there.
    missing = registry.request("GET", f"/v2/ref/app/referrers/{image_digest}")
    assert missing.status == 404 and "tag schema" in missing.json()["errors"][0]["message"]
    # The fallback the distribution-spec describes: an index under the tag sha256-<hex>.
    index = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": [
        {"mediaType": OCI_MANIFEST, "digest": artifact, "size": 0, "artifactType": "application/vnd.example.sig"}]})
    fallback_tag = image_digest.replace(":", "-")
    assert registry.request("PUT", f"/v2/ref/app/manifests/{fallback_tag}", body=index.encode(),
                            headers={"Content-Type": "application/vnd.oci.image.index.v1+json"}).status == 201
    # Switched back on at run time: the API answers, and the switch is history.
    assert "switches: every switch at its default" in stowage("config", "--referrers", "on", "--server", server.url).stdout
    found = registry.request("GET", f"/v2/ref/app/referrers/{image_digest}").json()["manifests"]
    assert [m["digest"] for m in found] == [artifact]
    log = stowage("log", "--kind", "configure", "--server", server.url).stdout
    assert "referrers off" in log and "every switch at its default" in log


def test_deletes_off_refuses_skopeo_delete_and_the_warning_header_reaches_clients(start_server, tmp_path):
    server = start_server("--ephemeral", "--auth", "none", "--no-deletes", "--warning", "this registry is a test double")
    registry = Registry(server)
    registry.create("del/app")
    make_layout(tmp_path / "img", seed="deletes")
    target = f"docker://{server.authority}/del/app:v1"
    skopeo("copy", "--dest-tls-verify=false", f"oci:{tmp_path}/img:v1", target)
    refused = skopeo("delete", "--tls-verify=false", target, check=False)
    assert refused.returncode != 0 and ("405" in refused.stderr or "UNSUPPORTED" in refused.stderr or "unsupported" in refused.stderr)
    response = registry.request("GET", "/v2/del/app/tags/list")
    assert response.headers["Warning"] == '299 - "this registry is a test double"'
    assert registry.request("GET", "/v2/del/app/manifests/nope").headers["Warning"].startswith("299 - ")
    stowage("config", "--deletes", "on", "--warning", "", "--server", server.url)
    skopeo("delete", "--tls-verify=false", target)
    assert "Warning" not in registry.request("GET", "/v2/").headers
    status, body = server.json("POST", "/_admin/config", {"deletes": "yes"})
    assert status == 400 and "true or false" in body["error"]["message"]
    assert server.json("POST", "/_admin/config", {"nosuch": 1})[1]["error"]["message"].startswith("'nosuch' is not a switch")


def test_a_rate_limit_answers_429_with_retry_after_and_ecr_throttles(start_server):
    server = start_server("--ephemeral", "--auth", "none", "--rate-limit", "5")
    registry = Registry(server)
    answers = [registry.request("GET", "/v2/") for _ in range(12)]
    limited = [a for a in answers if a.status == 429]
    assert limited and all(a.status in (200, 429) for a in answers)
    assert limited[0].errors() == ["TOOMANYREQUESTS"] and int(limited[0].headers["Retry-After"]) >= 1
    time.sleep(1.2)
    assert registry.request("GET", "/v2/").status == 200
    client = ecr(server)
    client.describe_repositories()
    stowage("config", "--rate-limit", "1", "--server", server.url)
    codes = []
    for i in range(12):
        try:
            client.describe_repositories()
            codes.append("ok")
        except client.exceptions.ClientError as error:
            codes.append(error.response["Error"]["Code"])
    assert "ThrottlingException" in codes
    stowage("config", "--rate-limit", "0", "--server", server.url)
    assert all(registry.request("GET", "/v2/").status == 200 for _ in range(20))


def test_an_injected_5xx_is_retried_by_docker_mid_push_and_shows_in_the_upload_story(start_server, work):
    require("dockerd")
    server = start_server("--ephemeral", "--auth", "none")
    url = ["--server", server.url]
    registry = Registry(server)
    registry.create("fault/app")
    make_layout(work / "img", seed="faults")
    skopeo("copy", f"oci:{work}/img:v1", f"docker-archive:{work}/seed.tar:stowage/seed:v1")
    added = stowage("faults", "--method", "PATCH", "--route", "upload", "--status", "503", "--count", "1", *url).stdout
    assert "added fault 1: 503" in added
    assert "1 left, 0 injected" in stowage("faults", *url).stdout
    engine = Dockerd(work)
    try:
        engine.docker("load", "-i", str(work / "seed.tar"))
        ref = f"{server.authority}/fault/app:v1"
        engine.docker("tag", "stowage/seed:v1", ref)
        pushed = engine.docker("push", ref).stdout
        assert "digest: sha256:" in pushed
    finally:
        engine.stop()
    assert stowage("faults", *url).stdout.strip() == "no faults", "a counted fault goes once spent"
    faults = [json.loads(line) for line in stowage("log", "--kind", "injectFault", "--json", *url).stdout.splitlines()]
    assert len(faults) == 1 and faults[0]["upload"] and "503" in faults[0]["summary"]
    story = stowage("upload", faults[0]["upload"], *url).stdout
    assert " fault" in story
    status, timeline = server.json("GET", f"/_admin/uploads/{faults[0]['upload']}")
    assert [e["event"] for e in timeline["events"]][:2] == ["started", "fault"]
    # The push went on: its blobs and its manifest are there.
    assert registry.request("GET", "/v2/fault/app/tags/list").json()["tags"] == ["v1"]


def test_dropped_connections_delays_and_ecr_faults_with_a_seed(start_server):
    server = start_server("--ephemeral", "--auth", "none")
    url = ["--server", server.url]
    registry = Registry(server)
    registry.create("drop/app")
    stowage("faults", "--route", "tags", "--drop", "--count", "1", *url)
    with pytest.raises(Exception):
        registry.request("GET", "/v2/drop/app/tags/list")
    assert registry.request("GET", "/v2/drop/app/tags/list").status == 200
    stowage("faults", "--route", "tags", "--delay", "400", "--count", "1", *url)
    started = time.monotonic()
    assert registry.request("GET", "/v2/drop/app/tags/list").status == 200
    assert time.monotonic() - started >= 0.35
    # The ECR API: a seeded probability chooses the same calls on every run.
    def outcomes():
        stowage("faults", "--clear", *url)
        stowage("faults", "--route", "ecr:DescribeRepositories", "--status", "500", "--probability", "0.5",
                "--seed", "42", *url)
        client, seen = ecr(server), []
        for _ in range(16):
            try:
                client.describe_repositories()
                seen.append("ok")
            except client.exceptions.ClientError as error:
                seen.append(error.response["Error"]["Code"])
        return seen
    first, second = outcomes(), outcomes()
    assert first == second and "ServerException" in first and "ok" in first
    bad = server.json("POST", "/_admin/faults", {"answer": {"status": 503, "code": "NOPE"}, "count": 1})
    assert bad[0] == 400 and "neither an OCI error code" in bad[1]["error"]["message"]
    assert server.json("POST", "/_admin/faults", {"answer": {"status": 503}})[0] == 400
    assert server.json("DELETE", "/_admin/faults?id=999")[0] == 404


def test_switches_survive_a_restart_and_a_rewind_but_not_the_flags_absence(start_server, tmp_path):
    data = str(tmp_path / "data")
    server = start_server("--data-dir", data, "--auth", "none", "--no-deletes", "--chunk-min-length", "4096")
    url = ["--server", server.url]
    stowage("checkpoint", "before", *url)
    stowage("config", "--referrers", "off", *url)
    stowage("rewind", "before", *url)
    assert "referrers off" in stowage("config", *url).stdout, "a rewind keeps the switches"
    server.terminate()
    again = start_server("--data-dir", data, "--auth", "none")
    summary = stowage("config", "--server", again.url).stdout
    assert "deletes off" in summary and "referrers off" in summary and "chunk minimum 4096" in summary
    registry = Registry(again)
    registry.create("chunk/app")
    assert registry.start_upload("chunk/app").headers["OCI-Chunk-Min-Length"] == "4096"


def test_the_ecr_profile_refuses_what_ecr_refuses_and_the_spec_profile_does_not(start_server):
    ecr_like = start_server("--ephemeral", "--auth", "none")
    registry = Registry(ecr_like)
    refused = registry.request("GET", "/v2/_catalog?n=1001")
    assert refused.status == 400 and "less than or equal to 1000" in refused.json()["errors"][0]["message"]
    assert registry.request("GET", "/v2/_catalog?n=1000").status == 200
    assert registry.request("POST", "/v2/new/app/blobs/uploads/").errors() == ["NAME_UNKNOWN"]
    spec = start_server("--ephemeral", "--auth", "none", "--profile", "spec")
    open_registry = Registry(spec)
    assert open_registry.request("GET", "/v2/_catalog?n=5000").status == 200
    open_registry.push_image("new/app", "v1")
    assert open_registry.request("GET", "/v2/new/app/tags/list?n=2000").json()["tags"] == ["v1"]


def test_ecr_shaped_hosts_name_their_account_and_region(start_server):
    server = start_server("--ephemeral", "--registry-host", "localhost:5000")
    client = ecr(server)
    uri = client.create_repository(repositoryName="team/app")["repository"]["repositoryUri"]
    assert uri == "000000000000.dkr.ecr.us-east-1.localhost:5000/team/app"
    far = boto3_client_in(server, "123456789012", "eu-west-1")
    far.create_repository(repositoryName="far/app")
    status, body = server.json("POST", "/_admin/token?account=123456789012&region=eu-west-1")
    registry = Registry(server, password=body["password"])
    host = {"Host": "123456789012.dkr.ecr.eu-west-1.localhost:5000"}
    # The host names the account-region, as ECR's host names do; the token must agree.
    assert registry.request("GET", "/v2/far/app/tags/list", headers=host).status == 200
    denied = Registry(server).login().request("GET", "/v2/far/app/tags/list", headers=host)
    assert denied.status == 403 and denied.errors() == ["DENIED"]
    # Without authentication, the host alone decides.
    open_server = start_server("--ephemeral", "--auth", "none")
    Registry(open_server).request("GET", "/v2/")
    status, _ = open_server.json("POST", "/_admin/repositories?account=123456789012&region=eu-west-1", {"name": "far/app"})
    assert status == 201
    anonymous = Registry(open_server)
    assert anonymous.request("GET", "/v2/far/app/tags/list", headers=host).status == 200
    assert anonymous.request("GET", "/v2/far/app/tags/list").errors() == ["NAME_UNKNOWN"]


def boto3_client_in(server, account, region):
    import boto3
    from botocore.config import Config

    return boto3.client(
        "ecr", endpoint_url=server.url, region_name=region, aws_access_key_id=account,
        aws_secret_access_key="test", config=Config(retries={"max_attempts": 1}))
