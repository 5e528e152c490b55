"""Concurrency against the real binary with real threads: decisions that depend on the state are
the single writer's, so parallel first pushes to a repository that does not exist yet all succeed
and create it exactly once."""

import hashlib
import http.client
import threading

import boto3
import pytest

ROUNDS = 20
PARALLEL = 16


def first_pushes(server, name, password=None):
    """PARALLEL requests released at once: uploads started, and a few single-request blob pushes."""
    host, port = server.authority.split(":")
    barrier = threading.Barrier(PARALLEL)
    statuses = [None] * PARALLEL

    def push(n):
        connection = http.client.HTTPConnection(host, int(port), timeout=60)
        headers = {}
        barrier.wait()
        if n % 4 == 3:
            body = f"blob {name} {n}".encode()
            path = f"/v2/{name}/blobs/uploads/?digest=sha256:{hashlib.sha256(body).hexdigest()}"
            connection.request("POST", path, body=body, headers=headers)
        else:
            connection.request("POST", f"/v2/{name}/blobs/uploads/", body=b"", headers=headers)
        response = connection.getresponse()
        response.read()
        statuses[n] = response.status
        connection.close()

    threads = [threading.Thread(target=push, args=(n,)) for n in range(PARALLEL)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return statuses


def creations(server, name):
    """The applied createRepository records of a repository."""
    status, body = server.json("GET", f"/_admin/log?repository={name}&kind=createRepository")
    assert status == 200
    return [r for r in body["records"] if not r.get("refusal")]


def ecr(server):
    return boto3.client("ecr", endpoint_url=server.url, region_name="us-east-1", aws_access_key_id="test",
                        aws_secret_access_key="test")


@pytest.mark.parametrize("round_", range(ROUNDS))
def test_parallel_first_pushes_with_create_on_push_all_succeed_and_create_the_repository_once(shared_flag_server, round_):
    name = f"race/flag-{round_}"
    statuses = first_pushes(shared_flag_server, name)
    assert statuses == [201 if n % 4 == 3 else 202 for n in range(PARALLEL)], statuses
    assert len(creations(shared_flag_server, name)) == 1


@pytest.mark.parametrize("round_", range(ROUNDS))
def test_parallel_first_pushes_under_a_create_on_push_template_create_it_once_with_its_settings(shared_template_server, round_):
    name = f"tmpl/app-{round_}"
    statuses = first_pushes(shared_template_server, name)
    assert statuses == [201 if n % 4 == 3 else 202 for n in range(PARALLEL)], statuses
    assert len(creations(shared_template_server, name)) == 1
    client = ecr(shared_template_server)
    repository = client.describe_repositories(repositoryNames=[name])["repositories"][0]
    assert repository["imageTagMutability"] == "IMMUTABLE"
    tags = client.list_tags_for_resource(resourceArn=repository["repositoryArn"])["tags"]
    assert tags == [{"Key": "team", "Value": "race"}]


def test_without_the_flag_or_a_template_parallel_first_pushes_are_all_name_unknown(shared_template_server):
    statuses = first_pushes(shared_template_server, "untemplated/app")
    assert statuses == [404] * PARALLEL
    assert creations(shared_template_server, "untemplated/app") == []


@pytest.fixture(scope="module")
def shared_flag_server(tmp_path_factory):
    from conftest import Server
    server = Server("--data-dir", str(tmp_path_factory.mktemp("flag") / "data"), "--auth", "none", "--create-on-push",
                    "--log-level", "warning")
    yield server
    server.kill()


@pytest.fixture(scope="module")
def shared_template_server(tmp_path_factory):
    from conftest import Server
    server = Server("--data-dir", str(tmp_path_factory.mktemp("template") / "data"), "--auth", "none",
                    "--log-level", "warning")
    ecr(server).create_repository_creation_template(
        prefix="tmpl", appliedFor=["CREATE_ON_PUSH"], imageTagMutability="IMMUTABLE",
        resourceTags=[{"Key": "team", "Value": "race"}])
    yield server
    server.kill()


def test_chunks_claiming_one_offset_at_once_let_exactly_one_land(shared_flag_server):
    """Of eight PATCHes claiming 0-9 at once, one gets 202 and the others 416 with Range 0-9; the
    upload holds exactly the winner's bytes."""
    host, port = shared_flag_server.authority.split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=60)
    connection.request("POST", "/v2/race/chunks/blobs/uploads/", body=b"")
    response = connection.getresponse()
    response.read()
    location = response.getheader("Location")
    barrier = threading.Barrier(8)
    answers = [None] * 8

    def patch(n):
        c = http.client.HTTPConnection(host, int(port), timeout=60)
        body = bytes([n]) * 10
        barrier.wait()
        c.request("PATCH", location, body=body, headers={"Content-Range": "0-9", "Content-Length": "10"})
        r = c.getresponse()
        r.read()
        answers[n] = (r.status, r.getheader("Range"))
        c.close()

    threads = [threading.Thread(target=patch, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    winners = [n for n, (status, _) in enumerate(answers) if status == 202]
    assert len(winners) == 1, answers
    assert sorted(a for a in answers if a[0] != 202) == [(416, "0-9")] * 7, answers
    body = bytes([winners[0]]) * 10
    connection.request("PUT", f"{location}?digest=sha256:{hashlib.sha256(body).hexdigest()}", body=b"")
    response = connection.getresponse()
    response.read()
    assert response.status == 201
