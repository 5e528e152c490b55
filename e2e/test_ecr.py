"""The ECR JSON API through boto3 and the aws CLI, against a real server, over the same state as /v2."""

import base64
import json
import os
import uuid

import boto3
import pytest
from botocore.exceptions import ClientError
from conftest import Server
from registry import OCI_CONFIG, OCI_LAYER, OCI_MANIFEST, Registry, digest


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    server = Server("--data-dir", str(tmp_path_factory.mktemp("ecr") / "data"), "--account-for-key", "TESTKEYACCOUNT2=222222222222")
    yield server
    server.kill()


def client(server, key="AKIDEXAMPLE", region="us-east-1"):
    return boto3.client("ecr", endpoint_url=server.url, region_name=region, aws_access_key_id=key, aws_secret_access_key="secret")


@pytest.fixture
def ecr(server):
    return client(server)


@pytest.fixture
def repo(ecr):
    name = f"ecr/{uuid.uuid4().hex[:10]}"
    ecr.create_repository(repositoryName=name)
    return name


def error_code(call, *args, **kwargs):
    with pytest.raises(ClientError) as raised:
        call(*args, **kwargs)
    return raised.value.response["Error"]["Code"]


def raw(server, operation, body):
    """A call boto3 would refuse to send: the server's own checks answer."""
    status, _, data = server.request("POST", "/", body=json.dumps(body).encode(), headers={
        "X-Amz-Target": f"AmazonEC2ContainerRegistry_V20150921.{operation}", "Content-Type": "application/x-amz-json-1.1"})
    return status, json.loads(data).get("__type")


def push_layers(ecr, repo, *blobs):
    """Uploads blobs through the ECR layer API; returns their digests."""
    digests = []
    for blob in blobs:
        upload = ecr.initiate_layer_upload(repositoryName=repo)
        assert upload["partSize"] > 0
        # Parts of 5 MiB (ECR's minimum for every part but the last), the rest as the last part.
        part = 5 << 20
        for start in range(0, len(blob), part):
            piece = blob[start:start + part]
            ecr.upload_layer_part(repositoryName=repo, uploadId=upload["uploadId"], partFirstByte=start, partLastByte=start + len(piece) - 1, layerPartBlob=piece)
        d = digest(blob)
        assert ecr.complete_layer_upload(repositoryName=repo, uploadId=upload["uploadId"], layerDigests=[d])["layerDigest"] == d
        digests.append(d)
    return digests


def image_manifest(config, layers):
    return json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                       "config": {"mediaType": OCI_CONFIG, "digest": digest(config), "size": len(config)},
                       "layers": [{"mediaType": OCI_LAYER, "digest": digest(l), "size": len(l)} for l in layers]})


def push_image(ecr, repo, tag, seed):
    config, layer = json.dumps({"seed": seed}).encode(), f"layer {seed}".encode()
    push_layers(ecr, repo, config, layer)
    manifest = image_manifest(config, [layer])
    return ecr.put_image(repositoryName=repo, imageManifest=manifest, imageTag=tag)["image"], manifest


def test_repositories_create_describe_paginate_and_delete(ecr, server):
    name = f"repos/{uuid.uuid4().hex[:8]}"
    created = ecr.create_repository(repositoryName=name, imageTagMutability="IMMUTABLE", imageScanningConfiguration={"scanOnPush": True},
                                    encryptionConfiguration={"encryptionType": "KMS"}, tags=[{"Key": "team", "Value": "core"}])["repository"]
    assert created["repositoryArn"] == f"arn:aws:ecr:us-east-1:000000000000:repository/{name}"
    assert created["repositoryUri"] == f"{server.authority}/{name}" and created["registryId"] == "000000000000"
    assert created["imageTagMutability"] == "IMMUTABLE" and created["imageScanningConfiguration"] == {"scanOnPush": True}
    assert created["encryptionConfiguration"]["encryptionType"] == "KMS" and created["encryptionConfiguration"]["kmsKey"]
    assert error_code(ecr.create_repository, repositoryName=name) == "RepositoryAlreadyExistsException"
    assert error_code(ecr.create_repository, repositoryName="Bad_Name") == "InvalidParameterException"
    assert raw(server, "CreateRepository", {"repositoryName": "x"}) == (400, "InvalidParameterException")
    assert raw(server, "CreateRepository", {}) == (400, "InvalidParameterException")
    assert raw(server, "DescribeRepositories", {"maxResults": 0}) == (400, "InvalidParameterException")
    assert raw(server, "BatchGetImage", {"repositoryName": name, "imageIds": []}) == (400, "InvalidParameterException")
    assert error_code(ecr.create_repository, repositoryName="ok/name", tags=[{"Key": f"k{i}", "Value": "v"} for i in range(51)]) == "TooManyTagsException"
    assert error_code(ecr.create_repository, repositoryName="ok/name", imageTagMutability="IMMUTABLE_WITH_EXCLUSION") == "InvalidParameterException"
    excluded = ecr.create_repository(repositoryName=name + "-ex", imageTagMutability="IMMUTABLE_WITH_EXCLUSION",
                                     imageTagMutabilityExclusionFilters=[{"filterType": "WILDCARD", "filter": "dev-*"}])["repository"]
    assert excluded["imageTagMutabilityExclusionFilters"] == [{"filterType": "WILDCARD", "filter": "dev-*"}]
    assert ecr.describe_repositories(repositoryNames=[name])["repositories"][0]["repositoryName"] == name
    assert error_code(ecr.describe_repositories, repositoryNames=[name, "missing/repo"]) == "RepositoryNotFoundException"
    # Pagination with maxResults/nextToken, and boto3's paginator.
    for i in range(5):
        ecr.create_repository(repositoryName=f"page/r{i}")
    names, token = [], None
    while True:
        page = ecr.describe_repositories(maxResults=2, **({"nextToken": token} if token else {}))
        assert len(page["repositories"]) <= 2
        names += [r["repositoryName"] for r in page["repositories"]]
        token = page.get("nextToken")
        if not token:
            break
    assert names == sorted(names) and {f"page/r{i}" for i in range(5)} <= set(names)
    paged = [r["repositoryName"] for p in ecr.get_paginator("describe_repositories").paginate(PaginationConfig={"PageSize": 3}) for r in p["repositories"]]
    assert paged == names
    assert error_code(ecr.describe_repositories, maxResults=1001) == "InvalidParameterException"
    assert error_code(ecr.describe_repositories, nextToken="garbage") == "InvalidParameterException"
    deleted = ecr.delete_repository(repositoryName=name)["repository"]
    assert deleted["repositoryName"] == name
    assert error_code(ecr.delete_repository, repositoryName=name) == "RepositoryNotFoundException"


def test_delete_repository_needs_force_when_it_holds_images(ecr, repo):
    push_image(ecr, repo, "v1", "force")
    assert error_code(ecr.delete_repository, repositoryName=repo) == "RepositoryNotEmptyException"
    assert ecr.delete_repository(repositoryName=repo, force=True)["repository"]["repositoryName"] == repo


def test_layers_upload_in_parts_check_availability_and_download(ecr, repo):
    big = os.urandom((5 << 20) + 1000)
    assert push_layers(ecr, repo, big) == [digest(big)]  # two parts: 5 MiB, then the rest
    small_parts = ecr.initiate_layer_upload(repositoryName=repo)["uploadId"]
    ecr.upload_layer_part(repositoryName=repo, uploadId=small_parts, partFirstByte=0, partLastByte=2, layerPartBlob=b"abc")
    ecr.upload_layer_part(repositoryName=repo, uploadId=small_parts, partFirstByte=3, partLastByte=5, layerPartBlob=b"def")
    assert error_code(ecr.complete_layer_upload, repositoryName=repo, uploadId=small_parts, layerDigests=[digest(b"abcdef")]) == "LayerPartTooSmallException"
    blob = os.urandom(50_000)
    [d] = push_layers(ecr, repo, blob)
    checked = ecr.batch_check_layer_availability(repositoryName=repo, layerDigests=[d, digest(b"absent"), "bogus"])
    assert checked["layers"] == [{"layerDigest": d, "layerAvailability": "AVAILABLE", "layerSize": 50_000,
                                  "mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip"}]
    assert {f["failureCode"] for f in checked["failures"]} == {"MissingLayerDigest", "InvalidLayerDigest"}
    url = ecr.get_download_url_for_layer(repositoryName=repo, layerDigest=d)["downloadUrl"]
    import urllib.request
    assert urllib.request.urlopen(url).read() == blob  # signed: no login needed
    assert error_code(ecr.get_download_url_for_layer, repositoryName=repo, layerDigest=digest(b"absent")) == "LayersNotFoundException"
    # A part that does not continue the upload.
    upload = ecr.initiate_layer_upload(repositoryName=repo)["uploadId"]
    ecr.upload_layer_part(repositoryName=repo, uploadId=upload, partFirstByte=0, partLastByte=4, layerPartBlob=b"12345")
    with pytest.raises(ClientError) as raised:
        ecr.upload_layer_part(repositoryName=repo, uploadId=upload, partFirstByte=9, partLastByte=10, layerPartBlob=b"xy")
    assert raised.value.response["Error"]["Code"] == "InvalidLayerPartException"
    assert raised.value.response["lastValidByteReceived"] == 4
    assert error_code(ecr.complete_layer_upload, repositoryName=repo, uploadId=upload, layerDigests=[digest(b"other")]) == "InvalidLayerException"
    assert ecr.complete_layer_upload(repositoryName=repo, uploadId=upload, layerDigests=[digest(b"12345")])["layerDigest"] == digest(b"12345")
    empty = ecr.initiate_layer_upload(repositoryName=repo)["uploadId"]
    assert error_code(ecr.complete_layer_upload, repositoryName=repo, uploadId=empty, layerDigests=[digest(b"")]) == "EmptyUploadException"
    again = ecr.initiate_layer_upload(repositoryName=repo)["uploadId"]
    ecr.upload_layer_part(repositoryName=repo, uploadId=again, partFirstByte=0, partLastByte=4, layerPartBlob=b"12345")
    assert error_code(ecr.complete_layer_upload, repositoryName=repo, uploadId=again, layerDigests=[digest(b"12345")]) == "LayerAlreadyExistsException"
    assert error_code(ecr.upload_layer_part, repositoryName=repo, uploadId="nope", partFirstByte=0, partLastByte=0, layerPartBlob=b"x") == "UploadNotFoundException"
    assert error_code(ecr.initiate_layer_upload, repositoryName="missing/repo") == "RepositoryNotFoundException"


def test_put_image_and_its_modeled_errors(ecr, repo):
    image, manifest = push_image(ecr, repo, "v1", "put")
    assert image["imageId"] == {"imageDigest": digest(manifest.encode()), "imageTag": "v1"}
    assert image["imageManifest"] == manifest
    assert error_code(ecr.put_image, repositoryName=repo, imageManifest=manifest, imageTag="v1") == "ImageAlreadyExistsException"
    assert ecr.put_image(repositoryName=repo, imageManifest=manifest, imageTag="v1-again")["image"]["imageId"]["imageTag"] == "v1-again"
    missing = image_manifest(b"{}", [b"never uploaded"])
    assert error_code(ecr.put_image, repositoryName=repo, imageManifest=missing, imageTag="x") == "LayersNotFoundException"
    assert error_code(ecr.put_image, repositoryName=repo, imageManifest=manifest, imageTag="d", imageDigest=digest(b"other")) == "ImageDigestDoesNotMatchException"
    assert error_code(ecr.put_image, repositoryName=repo, imageManifest="not json", imageTag="d") == "InvalidParameterException"
    index = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
                        "manifests": [{"mediaType": OCI_MANIFEST, "digest": digest(b"ghost"), "size": 5}]})
    assert error_code(ecr.put_image, repositoryName=repo, imageManifest=index, imageTag="idx") == "ReferencedImagesNotFoundException"
    # A MUTABLE retag leaves the old image untagged; IMMUTABLE refuses.
    other, _ = push_image(ecr, repo, "v1", "second")
    untagged = ecr.list_images(repositoryName=repo, filter={"tagStatus": "UNTAGGED"})["imageIds"]
    assert untagged == []  # the first image still has v1-again
    ecr.put_image_tag_mutability(repositoryName=repo, imageTagMutability="IMMUTABLE")
    assert error_code(lambda: push_image(ecr, repo, "v1", "third")) == "ImageTagAlreadyExistsException"
    assert error_code(ecr.put_image, repositoryName="missing/repo", imageManifest=manifest) == "RepositoryNotFoundException"


def test_describe_images_pages_in_digest_order_through_filters_and_sees_every_change(ecr, repo):
    pushed = {seed: push_image(ecr, repo, seed, seed)[0]["imageId"]["imageDigest"] for seed in "abcdef"}
    # Many tags on one image come back sorted, whatever order they were pushed in.
    manifest = ecr.batch_get_image(repositoryName=repo, imageIds=[{"imageTag": "a"}])["images"][0]["imageManifest"]
    for tag in ("z9", "m5", "b2", "a1"):
        ecr.put_image(repositoryName=repo, imageManifest=manifest, imageTag=tag)
    ecr.batch_delete_image(repositoryName=repo, imageIds=[{"imageTag": "c"}, {"imageTag": "e"}])  # 4 left

    def pages(size, **kwargs):
        result = ecr.get_paginator("describe_images").paginate(repositoryName=repo, PaginationConfig={"PageSize": size}, **kwargs)
        return [[d["imageDigest"] for d in page["imageDetails"]] for page in result]
    everything = sorted(pushed[s] for s in "abdf")
    assert pages(3) == [everything[:3], everything[3:]]
    assert pages(1) == [[d] for d in everything]
    assert pages(4) == [everything]
    tagged_a = next(d for d in ecr.describe_images(repositoryName=repo)["imageDetails"] if d["imageDigest"] == pushed["a"])
    assert tagged_a["imageTags"] == ["a", "a1", "b2", "m5", "z9"]
    # Untag two images: the filters page over what is left of each kind.
    ecr.batch_delete_image(repositoryName=repo, imageIds=[{"imageTag": "b"}])  # b had one tag: gone
    ecr.put_image(repositoryName=repo, imageManifest=manifest, imageTag="d")  # d moves to image a; image d is untagged
    untagged = pages(1, filter={"tagStatus": "UNTAGGED"})
    tagged = pages(1, filter={"tagStatus": "TAGGED"})
    assert untagged == [[pushed["d"]]]
    assert sorted(sum(tagged, [])) == sorted([pushed["a"], pushed["f"]]) and len(tagged) == 2
    assert sum(pages(2), []) == sorted([pushed["a"], pushed["d"], pushed["f"]])


def test_batch_get_describe_list_and_batch_delete(ecr, repo):
    images = {tag: push_image(ecr, repo, tag, tag) for tag in ("a", "b", "c")}
    untagged_manifest = image_manifest(json.dumps({"seed": "a"}).encode(), [b"layer a"])
    got = ecr.batch_get_image(repositoryName=repo, imageIds=[{"imageTag": "a"}, {"imageDigest": images["b"][0]["imageId"]["imageDigest"]},
                                                            {"imageTag": "zz"}, {"imageDigest": "bad"}, {}])
    assert [i["imageManifest"] for i in got["images"]] == [images["a"][1], images["b"][1]]
    assert sorted(f["failureCode"] for f in got["failures"]) == ["ImageNotFound", "InvalidImageDigest", "MissingDigestAndTag"]
    mismatch = ecr.batch_get_image(repositoryName=repo, imageIds=[{"imageTag": "a", "imageDigest": images["b"][0]["imageId"]["imageDigest"]}])
    assert mismatch["failures"][0]["failureCode"] == "ImageTagDoesNotMatchDigest"
    filtered = ecr.batch_get_image(repositoryName=repo, imageIds=[{"imageTag": "a"}], acceptedMediaTypes=["application/vnd.docker.distribution.manifest.v2+json"])
    assert filtered["images"] == [] and filtered["failures"]
    assert error_code(ecr.batch_get_image, repositoryName=repo, imageIds=[{"imageTag": f"t{i}"} for i in range(101)]) == "InvalidParameterException"
    details = ecr.describe_images(repositoryName=repo)["imageDetails"]
    assert len(details) == 3
    detail = next(d for d in details if d.get("imageTags") == ["a"])
    assert detail["imageSizeInBytes"] == len(b"layer a") + len(json.dumps({"seed": "a"}))
    assert detail["imageManifestMediaType"] == OCI_MANIFEST and detail["artifactMediaType"] == OCI_CONFIG
    assert detail["imagePushedAt"].year >= 2026
    assert error_code(ecr.describe_images, repositoryName=repo, imageIds=[{"imageTag": "nope"}]) == "ImageNotFoundException"
    pages = list(ecr.get_paginator("describe_images").paginate(repositoryName=repo, PaginationConfig={"PageSize": 2}))
    assert [len(p["imageDetails"]) for p in pages] == [2, 1]
    ecr.put_image(repositoryName=repo, imageManifest=images["a"][1], imageTag="a2")
    listed = ecr.list_images(repositoryName=repo)["imageIds"]
    assert sorted(i["imageTag"] for i in listed) == ["a", "a2", "b", "c"]
    # Delete by tag: only the tag while another remains, then the image with its last tag.
    deleted = ecr.batch_delete_image(repositoryName=repo, imageIds=[{"imageTag": "a"}, {"imageTag": "nope"}])
    assert deleted["imageIds"] == [{"imageDigest": images["a"][0]["imageId"]["imageDigest"], "imageTag": "a"}]
    assert deleted["failures"][0]["failureCode"] == "ImageNotFound"
    assert len(ecr.describe_images(repositoryName=repo)["imageDetails"]) == 3
    ecr.batch_delete_image(repositoryName=repo, imageIds=[{"imageTag": "a2"}])
    assert len(ecr.describe_images(repositoryName=repo)["imageDetails"]) == 2
    by_digest = ecr.batch_delete_image(repositoryName=repo, imageIds=[{"imageDigest": images["b"][0]["imageId"]["imageDigest"]}])
    assert by_digest["imageIds"] == [{"imageDigest": images["b"][0]["imageId"]["imageDigest"], "imageTag": "b"}]
    assert [i["imageTag"] for i in ecr.list_images(repositoryName=repo, filter={"tagStatus": "TAGGED"})["imageIds"]] == ["c"]
    assert error_code(ecr.list_images, repositoryName=repo, filter={"tagStatus": "SOME"}) == "InvalidParameterException"
    assert untagged_manifest


def test_policies_lifecycle_and_resource_tags(ecr, repo):
    policy = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "ecr:*"}]})
    assert error_code(ecr.get_repository_policy, repositoryName=repo) == "RepositoryPolicyNotFoundException"
    assert ecr.set_repository_policy(repositoryName=repo, policyText=policy)["policyText"] == policy
    assert ecr.get_repository_policy(repositoryName=repo)["policyText"] == policy
    assert error_code(ecr.set_repository_policy, repositoryName=repo, policyText="not json") == "InvalidParameterException"
    assert ecr.delete_repository_policy(repositoryName=repo)["policyText"] == policy
    assert error_code(ecr.delete_repository_policy, repositoryName=repo) == "RepositoryPolicyNotFoundException"
    lifecycle = json.dumps({"rules": [
        {"rulePriority": 1, "description": "old dev", "selection": {"tagStatus": "tagged", "tagPrefixList": ["dev"], "countType": "sinceImagePushed", "countUnit": "days", "countNumber": 7}, "action": {"type": "expire"}},
        {"rulePriority": 2, "selection": {"tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": 10}, "action": {"type": "expire"}}]})
    assert error_code(ecr.get_lifecycle_policy, repositoryName=repo) == "LifecyclePolicyNotFoundException"
    assert ecr.put_lifecycle_policy(repositoryName=repo, lifecyclePolicyText=lifecycle)["lifecyclePolicyText"] == lifecycle
    assert ecr.get_lifecycle_policy(repositoryName=repo)["lifecyclePolicyText"] == lifecycle
    bad_rules = [
        {"rules": []},
        {"rules": [{"rulePriority": 1, "selection": {"tagStatus": "tagged", "countType": "imageCountMoreThan", "countNumber": 1}, "action": {"type": "expire"}}]},
        {"rules": [{"rulePriority": 1, "selection": {"tagStatus": "untagged", "countType": "sinceImagePushed", "countNumber": 1}, "action": {"type": "expire"}}]},
        {"rules": [{"rulePriority": 1, "selection": {"tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": 1}, "action": {"type": "expire"}},
                   {"rulePriority": 2, "selection": {"tagStatus": "untagged", "countType": "imageCountMoreThan", "countNumber": 1}, "action": {"type": "expire"}}]},
    ]
    for rules in bad_rules:
        text = json.dumps(rules).ljust(100)
        assert error_code(ecr.put_lifecycle_policy, repositoryName=repo, lifecyclePolicyText=text) == "InvalidParameterException", rules
    assert ecr.delete_lifecycle_policy(repositoryName=repo)["lifecyclePolicyText"] == lifecycle
    arn = f"arn:aws:ecr:us-east-1:000000000000:repository/{repo}"
    ecr.tag_resource(resourceArn=arn, tags=[{"Key": "env", "Value": "test"}, {"Key": "team", "Value": "a"}])
    ecr.tag_resource(resourceArn=arn, tags=[{"Key": "team", "Value": "b"}])
    assert sorted((t["Key"], t["Value"]) for t in ecr.list_tags_for_resource(resourceArn=arn)["tags"]) == [("env", "test"), ("team", "b")]
    ecr.untag_resource(resourceArn=arn, tagKeys=["env"])
    assert ecr.list_tags_for_resource(resourceArn=arn)["tags"] == [{"Key": "team", "Value": "b"}]
    assert error_code(ecr.tag_resource, resourceArn="arn:aws:s3:::bucket", tags=[{"Key": "a", "Value": "b"}]) == "InvalidParameterException"
    assert error_code(ecr.tag_resource, resourceArn=arn, tags=[{"Key": "aws:x", "Value": "b"}]) == "InvalidTagParameterException"
    assert error_code(ecr.tag_resource, resourceArn=arn, tags=[{"Key": f"k{i}", "Value": "v"} for i in range(50)]) == "TooManyTagsException"
    missing = "arn:aws:ecr:us-east-1:000000000000:repository/missing/repo"
    assert error_code(ecr.list_tags_for_resource, resourceArn=missing) == "RepositoryNotFoundException"
    scan = ecr.put_image_scanning_configuration(repositoryName=repo, imageScanningConfiguration={"scanOnPush": True})
    assert scan["imageScanningConfiguration"] == {"scanOnPush": True}
    assert ecr.describe_repositories(repositoryNames=[repo])["repositories"][0]["imageScanningConfiguration"] == {"scanOnPush": True}


def test_accounts_are_isolated_by_access_key_and_regions_by_credential_scope(server):
    first = client(server, key="111111111111")
    second = client(server, key="TESTKEYACCOUNT2")
    elsewhere = client(server, key="111111111111", region="eu-west-1")
    first.create_repository(repositoryName="isolated/app")
    assert first.describe_repositories()["repositories"][0]["registryId"] == "111111111111"
    assert second.describe_repositories()["repositories"] == []
    assert error_code(second.describe_repositories, repositoryNames=["isolated/app"]) == "RepositoryNotFoundException"
    assert elsewhere.describe_repositories()["repositories"] == []
    second.create_repository(repositoryName="isolated/app")
    assert second.describe_repositories()["repositories"][0]["repositoryArn"] == "arn:aws:ecr:us-east-1:222222222222:repository/isolated/app"
    assert error_code(first.describe_repositories, registryId="222222222222") == "InvalidParameterException"
    # The token from GetAuthorizationToken acts in the same account on /v2.
    token = base64.b64decode(first.get_authorization_token()["authorizationData"][0]["authorizationToken"]).decode()
    user, password = token.split(":", 1)
    assert user == "AWS"
    v2 = Registry(server, password)
    assert v2.request("GET", "/v2/_catalog").json()["repositories"] == ["isolated/app"]


def test_what_docker_pushed_is_seen_by_ecr_and_the_reverse(server, ecr, repo):
    token = base64.b64decode(ecr.get_authorization_token()["authorizationData"][0]["authorizationToken"]).decode().split(":", 1)[1]
    v2 = Registry(server, token)
    manifest, d = v2.push_image(repo, "from-v2", layers=(b"v2 layer",))
    detail = ecr.describe_images(repositoryName=repo, imageIds=[{"imageTag": "from-v2"}])["imageDetails"][0]
    assert detail["imageDigest"] == d and "lastRecordedPullTime" not in detail
    v2.request("GET", f"/v2/{repo}/manifests/from-v2")
    pulled = ecr.describe_images(repositoryName=repo, imageIds=[{"imageTag": "from-v2"}])["imageDetails"][0]
    assert pulled["lastRecordedPullTime"] >= pulled["imagePushedAt"]
    assert ecr.batch_get_image(repositoryName=repo, imageIds=[{"imageTag": "from-v2"}])["images"][0]["imageManifest"] == manifest.decode()
    image, ecr_manifest = push_image(ecr, repo, "from-ecr", "ecr side")
    got = v2.request("GET", f"/v2/{repo}/manifests/from-ecr")
    assert got.status == 200 and got.body == ecr_manifest.encode()
    layer = json.loads(ecr_manifest)["layers"][0]["digest"]
    assert v2.request("GET", f"/v2/{repo}/blobs/{layer}").body == b"layer ecr side"
    # An upload started on /v2 is committed through the ECR API ...
    location = v2.start_upload(repo).headers["Location"]
    v2.request("PATCH", location, body=b"mixed mode")
    upload_id = location.rsplit("/", 1)[1]
    assert ecr.complete_layer_upload(repositoryName=repo, uploadId=upload_id, layerDigests=[digest(b"mixed mode")])["layerDigest"] == digest(b"mixed mode")
    assert v2.request("GET", f"/v2/{repo}/blobs/{digest(b'mixed mode')}").body == b"mixed mode"
    # ... and one started through the ECR API is continued and committed on /v2.
    upload_id = ecr.initiate_layer_upload(repositoryName=repo)["uploadId"]
    ecr.upload_layer_part(repositoryName=repo, uploadId=upload_id, partFirstByte=0, partLastByte=3, layerPartBlob=b"ecr ")
    status = v2.request("GET", f"/v2/{repo}/blobs/uploads/{upload_id}")
    assert status.status == 204 and status.headers["Range"] == "0-3"
    assert v2.request("PUT", f"/v2/{repo}/blobs/uploads/{upload_id}?digest={digest(b'ecr then v2')}", body=b"then v2").status == 201


def test_referrers_through_ecr(server, ecr, repo):
    image, manifest = push_image(ecr, repo, "v1", "subject")
    push_layers(ecr, repo, b"{}")
    artifact = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "artifactType": "application/vnd.example.sig",
                           "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": digest(b"{}"), "size": 2}, "layers": [],
                           "subject": {"mediaType": OCI_MANIFEST, "digest": image["imageId"]["imageDigest"], "size": len(manifest)}})
    ecr.put_image(repositoryName=repo, imageManifest=artifact)
    referrers = ecr.list_image_referrers(repositoryName=repo, subjectId={"imageDigest": image["imageId"]["imageDigest"]})["referrers"]
    assert [(r["digest"], r["artifactType"]) for r in referrers] == [(digest(artifact.encode()), "application/vnd.example.sig")]
    none = ecr.list_image_referrers(repositoryName=repo, subjectId={"imageDigest": image["imageId"]["imageDigest"]}, filter={"artifactTypes": ["x/y"]})
    assert none["referrers"] == []


def test_protocol_errors_are_clear(server):
    status, _, body = server.request("POST", "/", body=b"{}", headers={"X-Amz-Target": "AmazonEC2ContainerRegistry_V20150921.NoSuchThing",
                                                                          "Content-Type": "application/x-amz-json-1.1"})
    assert status == 400 and json.loads(body)["__type"] == "UnknownOperationException"
    status, headers, body = server.request("POST", "/", body=b"not json", headers={"X-Amz-Target": "AmazonEC2ContainerRegistry_V20150921.ListImages"})
    assert status == 400 and json.loads(body)["__type"] == "SerializationException" and headers["x-amzn-RequestId"]
    status, _, body = server.request("POST", "/", body=b"{}", headers={"X-Amz-Target": "Other_20200101.ListImages"})
    assert status == 400 and json.loads(body)["__type"] == "UnknownOperationException"


def test_the_aws_cli_flow_with_docker(server, tmp_path):
    """aws ecr create-repository; get-login-password | docker login; push; describe-images sees it;
    batch-delete-image; the pull then fails."""
    from test_clients import Dockerd, require, run
    from images import make_layout
    require("aws")
    require("dockerd")
    env = dict(os.environ, AWS_ACCESS_KEY_ID="AKIDCLI", AWS_SECRET_ACCESS_KEY="secret", AWS_DEFAULT_REGION="us-east-1")
    aws = ["aws", "--endpoint-url", server.url, "ecr"]
    repo = f"cli/{uuid.uuid4().hex[:8]}"
    uri = json.loads(run(*aws, "create-repository", "--repository-name", repo, env=env).stdout)["repository"]["repositoryUri"]
    password = run(*aws, "get-login-password", env=env).stdout.strip()
    work = tmp_path
    make_layout(work / "img", seed="aws cli")
    run("skopeo", "copy", f"oci:{work}/img:v1", f"docker-archive:{work}/seed.tar:stowage/seed:v1")
    engine = Dockerd(work)
    try:
        engine.docker("load", "-i", str(work / "seed.tar"))
        engine.docker("login", "--username", "AWS", "--password-stdin", server.authority, input=password)
        engine.docker("tag", "stowage/seed:v1", f"{uri}:v1")
        engine.docker("push", f"{uri}:v1")
        images = json.loads(run(*aws, "describe-images", "--repository-name", repo, env=env).stdout)["imageDetails"]
        assert [i["imageTags"] for i in images] == [["v1"]]
        deleted = json.loads(run(*aws, "batch-delete-image", "--repository-name", repo, "--image-ids", "imageTag=v1", env=env).stdout)
        assert deleted["imageIds"][0]["imageTag"] == "v1"
        engine.docker("rmi", f"{uri}:v1")
        assert engine.docker("pull", f"{uri}:v1", check=False).returncode != 0
    finally:
        engine.stop()


def test_a_layer_api_upload_and_put_image_pulled_by_skopeo(server, ecr, repo, tmp_path):
    from test_clients import require, run
    from images import read_layout
    import gzip
    require("skopeo")
    config, layer = b'{"architecture":"amd64","os":"linux"}', gzip.compress(b"skopeo pulls", mtime=0)
    push_layers(ecr, repo, config, layer)
    manifest = image_manifest(config, [layer])
    ecr.put_image(repositoryName=repo, imageManifest=manifest, imageTag="v1")
    token = base64.b64decode(ecr.get_authorization_token()["authorizationData"][0]["authorizationToken"]).decode()
    run("skopeo", "copy", "--src-tls-verify=false", "--src-creds", token, f"docker://{server.authority}/{repo}:v1", f"oci:{tmp_path}/out:v1")
    raw_manifest = run("skopeo", "inspect", "--raw", "--tls-verify=false", "--creds", token, f"docker://{server.authority}/{repo}:v1").stdout
    assert raw_manifest.encode() == manifest.encode()  # the exact bytes PutImage stored
    back = read_layout(tmp_path / "out")  # skopeo re-serialises the manifest it writes; the content is the same
    assert json.loads(back["manifest"]) == json.loads(manifest) and back["layers"] == [layer]


def test_lifecycle_policies_expire_images_as_the_clock_moves_and_previews_show_it(start_server):
    server = start_server("--ephemeral", "--gc-interval", "3600")
    ecr = client(server)
    repo = "lifecycle/app"
    ecr.create_repository(repositoryName=repo)
    for tag in ("dev-1", "dev-2", "prod-1"):
        push_image(ecr, repo, tag, tag)
    policy = json.dumps({"rules": [
        {"rulePriority": 1, "selection": {"tagStatus": "tagged", "tagPrefixList": ["prod"], "countType": "imageCountMoreThan", "countNumber": 5}, "action": {"type": "expire"}},
        {"rulePriority": 2, "selection": {"tagStatus": "any", "countType": "sinceImagePushed", "countUnit": "days", "countNumber": 7}, "action": {"type": "expire"}}]})
    ecr.put_lifecycle_policy(repositoryName=repo, lifecyclePolicyText=policy)
    assert len(ecr.describe_images(repositoryName=repo)["imageDetails"]) == 3  # nothing is old yet
    assert error_code(ecr.get_lifecycle_policy_preview, repositoryName=repo) == "LifecyclePolicyPreviewNotFoundException"
    assert ecr.start_lifecycle_policy_preview(repositoryName=repo)["status"] == "COMPLETE"
    ecr.get_waiter("lifecycle_policy_preview_complete").wait(repositoryName=repo)
    assert ecr.get_lifecycle_policy_preview(repositoryName=repo)["summary"] == {"expiringImageTotalCount": 0}
    server.json("POST", "/_admin/clock", {"advance": "8d"})
    tags = sorted(t for d in ecr.describe_images(repositoryName=repo)["imageDetails"] for t in d.get("imageTags", []))
    assert tags == ["prod-1"]  # the dev images expired by rule 2; rule 1 keeps prod
    expired = server.json("GET", "/_admin/log?kind=expireImages")[1]["records"]
    assert len(expired) == 1 and len(expired[0]["command"]["expireImages"]["digests"]) == 2
    # A preview of a stricter policy shows what it would expire, without expiring it.
    strict = json.dumps({"rules": [{"rulePriority": 1, "selection": {"tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": 1}, "action": {"type": "expire"}}]})
    push_image(ecr, repo, "prod-2", "prod-2")
    ecr.start_lifecycle_policy_preview(repositoryName=repo, lifecyclePolicyText=strict)
    preview = ecr.get_lifecycle_policy_preview(repositoryName=repo)
    assert preview["summary"]["expiringImageTotalCount"] == 1
    assert preview["previewResults"][0]["imageTags"] == ["prod-1"] and preview["previewResults"][0]["action"] == {"type": "EXPIRE"}
    assert len(ecr.describe_images(repositoryName=repo)["imageDetails"]) == 2
    # Putting a policy evaluates it at once; so does the admin trigger.
    ecr.put_lifecycle_policy(repositoryName=repo, lifecyclePolicyText=strict)
    assert [d["imageTags"] for d in ecr.describe_images(repositoryName=repo)["imageDetails"]] == [["prod-2"]]
    assert server.json("POST", "/_admin/lifecycle")[1] == {"expired": []}


def test_huge_numbers_and_tokens_do_not_crash_the_server(ecr, repo, server):
    upload = ecr.initiate_layer_upload(repositoryName=repo)["uploadId"]
    assert error_code(ecr.upload_layer_part, repositoryName=repo, uploadId=upload, partFirstByte=0,
                      partLastByte=9223372036854775807, layerPartBlob=b"abc") == "InvalidLayerPartException"
    image, _ = push_image(ecr, repo, "v1", "tokens")
    ecr.start_image_scan(repositoryName=repo, imageId={"imageTag": "v1"})
    import base64 as b64
    token = b64.b64encode(b"after:9223372036854775807").decode()
    result = ecr.describe_image_scan_findings(repositoryName=repo, imageId={"imageTag": "v1"}, nextToken=token)
    assert result["imageScanFindings"]["findings"] == []
    assert server.request("GET", "/v2/")[0] in (200, 401)
