"""Registry-level ECR operations through boto3: policy, replication, scanning, account settings,
pull-time exclusions, signing. Each is state: logged, exported, and scoped per account-region."""

import json

import pytest
from test_ecr import client, error_code


@pytest.fixture
def server(start_server):
    return start_server("--ephemeral")


def test_registry_policy(server):
    ecr = client(server)
    assert error_code(ecr.get_registry_policy) == "RegistryPolicyNotFoundException"
    policy = json.dumps({"Version": "2012-10-17", "Statement": [{"Sid": "r", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111111111111:root"}, "Action": ["ecr:ReplicateImage"], "Resource": "*"}]})
    assert ecr.put_registry_policy(policyText=policy)["policyText"] == policy
    got = ecr.get_registry_policy()
    assert got["registryId"] == "000000000000" and got["policyText"] == policy
    assert error_code(ecr.put_registry_policy, policyText="{not json") == "InvalidParameterException"
    assert ecr.delete_registry_policy()["policyText"] == policy
    assert error_code(ecr.delete_registry_policy) == "RegistryPolicyNotFoundException"
    assert error_code(client(server, key="111111111111").get_registry_policy) == "RegistryPolicyNotFoundException"


def test_replication_configuration_and_describe_registry(server):
    ecr = client(server)
    assert ecr.describe_registry()["replicationConfiguration"] == {"rules": []}
    configuration = {"rules": [{"destinations": [{"region": "eu-west-1", "registryId": "000000000000"}],
                                "repositoryFilters": [{"filter": "prod", "filterType": "PREFIX_MATCH"}]}]}
    assert ecr.put_replication_configuration(replicationConfiguration=configuration)["replicationConfiguration"] == configuration
    described = ecr.describe_registry()
    assert described["registryId"] == "000000000000" and described["replicationConfiguration"] == configuration
    to_self = {"rules": [{"destinations": [{"region": "us-east-1", "registryId": "000000000000"}]}]}
    assert error_code(ecr.put_replication_configuration, replicationConfiguration=to_self) == "InvalidParameterException"
    bad_region = {"rules": [{"destinations": [{"region": "mars-1", "registryId": "000000000000"}]}]}
    assert error_code(ecr.put_replication_configuration, replicationConfiguration=bad_region) == "ValidationException"


def test_scanning_configuration_decides_each_repositorys_frequency(server):
    ecr = client(server)
    assert ecr.get_registry_scanning_configuration()["scanningConfiguration"] == {"scanType": "BASIC", "rules": []}
    ecr.create_repository(repositoryName="prod/api")
    ecr.create_repository(repositoryName="dev/tool", imageScanningConfiguration={"scanOnPush": True})
    ecr.create_repository(repositoryName="misc/x")
    rules = [{"scanFrequency": "CONTINUOUS_SCAN", "repositoryFilters": [{"filter": "prod/*", "filterType": "WILDCARD"}]}]
    assert error_code(ecr.put_registry_scanning_configuration, scanType="BASIC", rules=rules) == "ValidationException"
    put = ecr.put_registry_scanning_configuration(scanType="ENHANCED", rules=rules)["registryScanningConfiguration"]
    assert put == {"scanType": "ENHANCED", "rules": rules}
    assert ecr.get_registry_scanning_configuration()["scanningConfiguration"] == put
    result = ecr.batch_get_repository_scanning_configuration(repositoryNames=["prod/api", "dev/tool", "misc/x", "missing/repo"])
    by_name = {c["repositoryName"]: c for c in result["scanningConfigurations"]}
    assert by_name["prod/api"]["scanFrequency"] == "CONTINUOUS_SCAN" and by_name["prod/api"]["appliedScanFilters"] == rules[0]["repositoryFilters"]
    assert by_name["dev/tool"]["scanFrequency"] == "SCAN_ON_PUSH" and by_name["dev/tool"]["scanOnPush"] is True
    assert by_name["misc/x"]["scanFrequency"] == "MANUAL" and by_name["misc/x"]["scanOnPush"] is False
    assert result["failures"] == [{"repositoryName": "missing/repo", "failureCode": "REPOSITORY_NOT_FOUND", "failureReason": "REPOSITORY_NOT_FOUND"}]


def test_account_settings(server):
    ecr = client(server)
    assert ecr.get_account_setting(name="BASIC_SCAN_TYPE_VERSION")["value"] == "AWS_NATIVE"
    put = ecr.put_account_setting(name="BASIC_SCAN_TYPE_VERSION", value="CLAIR")
    assert (put["name"], put["value"]) == ("BASIC_SCAN_TYPE_VERSION", "CLAIR")
    assert ecr.get_account_setting(name="BASIC_SCAN_TYPE_VERSION")["value"] == "CLAIR"
    assert error_code(ecr.put_account_setting, name="BASIC_SCAN_TYPE_VERSION", value="NOPE") == "ValidationException"
    assert error_code(ecr.get_account_setting, name="NO_SUCH_SETTING") == "ValidationException"
    assert client(server, key="222222222222").get_account_setting(name="BASIC_SCAN_TYPE_VERSION")["value"] == "AWS_NATIVE"


def test_pull_time_update_exclusions(server):
    ecr = client(server)
    arns = [f"arn:aws:iam::123456789012:role/ci-{i}" for i in range(3)]
    for arn in arns:
        registered = ecr.register_pull_time_update_exclusion(principalArn=arn)
        assert registered["principalArn"] == arn and registered["createdAt"]
    assert error_code(ecr.register_pull_time_update_exclusion, principalArn=arns[0]) == "ExclusionAlreadyExistsException"
    assert error_code(ecr.register_pull_time_update_exclusion, principalArn="not-an-arn") == "ValidationException"
    listed = [a for p in ecr.get_paginator("list_pull_time_update_exclusions").paginate(PaginationConfig={"PageSize": 2}) for a in p["pullTimeUpdateExclusions"]] \
        if ecr.can_paginate("list_pull_time_update_exclusions") else ecr.list_pull_time_update_exclusions()["pullTimeUpdateExclusions"]
    assert listed == sorted(arns)
    first = ecr.list_pull_time_update_exclusions(maxResults=2)
    assert len(first["pullTimeUpdateExclusions"]) == 2 and first["nextToken"]
    assert ecr.deregister_pull_time_update_exclusion(principalArn=arns[1])["principalArn"] == arns[1]
    assert error_code(ecr.deregister_pull_time_update_exclusion, principalArn=arns[1]) == "ExclusionNotFoundException"


def test_signing_configuration(server):
    ecr = client(server)
    assert error_code(ecr.get_signing_configuration) == "SigningConfigurationNotFoundException"
    configuration = {"rules": [{"signingProfileArn": "arn:aws:signer:us-east-1:000000000000:/signing-profiles/p",
                                "repositoryFilters": [{"filter": "prod/*", "filterType": "WILDCARD_MATCH"}]}]}
    assert ecr.put_signing_configuration(signingConfiguration=configuration)["signingConfiguration"] == configuration
    assert ecr.get_signing_configuration()["signingConfiguration"] == configuration
    bad = {"rules": [{"signingProfileArn": "arn:aws:iam::1:role/x"}]}
    assert error_code(ecr.put_signing_configuration, signingConfiguration=bad) == "ValidationException"
    assert ecr.delete_signing_configuration()["signingConfiguration"] == configuration
    assert error_code(ecr.delete_signing_configuration) == "SigningConfigurationNotFoundException"


def test_registry_settings_are_history_and_travel_in_exports(server, start_server):
    ecr = client(server)
    ecr.put_account_setting(name="REGISTRY_POLICY_SCOPE", value="V1")
    ecr.put_registry_policy(policyText=json.dumps({"Version": "2012-10-17", "Statement": []}))
    kinds = [r["kind"] for r in server.json("GET", "/_admin/log?kind=changeRegistrySettings")[1]["records"]]
    assert kinds == ["changeRegistrySettings", "changeRegistrySettings"]
    exported = server.request("GET", "/_admin/export")[2]
    other = start_server("--ephemeral")
    assert other.json("POST", "/_admin/import", exported)[0] == 200
    assert client(other).get_account_setting(name="REGISTRY_POLICY_SCOPE")["value"] == "V1"
    assert client(other).get_registry_policy()["policyText"]


def test_unknown_operations_say_so(server):
    status, _, body = server.request("POST", "/", body=b"{}", headers={"X-Amz-Target": "AmazonEC2ContainerRegistry_V20150921.DescribeEverything"})
    assert status == 400 and json.loads(body)["__type"] == "UnknownOperationException"


def test_image_scans_report_seeded_findings_deterministically(server):
    from test_ecr import push_image
    ecr = client(server)
    ecr.create_repository(repositoryName="scan/app")
    image, _ = push_image(ecr, "scan/app", "v1", "scanned")
    image_id = {"imageTag": "v1"}
    assert error_code(ecr.describe_image_scan_findings, repositoryName="scan/app", imageId=image_id) == "ScanNotFoundException"
    digest = image["imageId"]["imageDigest"]
    findings = [{"name": "CVE-2024-0001", "severity": "HIGH", "uri": "https://example.invalid/CVE-2024-0001", "attributes": {"package_name": "openssl"}},
                {"name": "CVE-2024-0002", "severity": "LOW"}]
    assert server.json("POST", "/_admin/scan-findings", {"digest": digest, "findings": findings})[0] == 200
    assert server.json("POST", "/_admin/scan-findings", {"digest": digest, "findings": [{"name": "x", "severity": "BAD"}]})[0] == 400
    started = ecr.start_image_scan(repositoryName="scan/app", imageId=image_id)
    assert started["imageScanStatus"]["status"] == "COMPLETE" and started["imageId"]["imageDigest"] == digest
    ecr.get_waiter("image_scan_complete").wait(repositoryName="scan/app", imageId=image_id)
    result = ecr.describe_image_scan_findings(repositoryName="scan/app", imageId=image_id)
    assert result["imageScanFindings"]["findingSeverityCounts"] == {"HIGH": 1, "LOW": 1}
    assert [f["name"] for f in result["imageScanFindings"]["findings"]] == ["CVE-2024-0001", "CVE-2024-0002"]
    assert result["imageScanFindings"]["findings"][0]["attributes"] == [{"key": "package_name", "value": "openssl"}]
    paged = ecr.describe_image_scan_findings(repositoryName="scan/app", imageId=image_id, maxResults=1)
    assert len(paged["imageScanFindings"]["findings"]) == 1 and paged["nextToken"]
    detail = ecr.describe_images(repositoryName="scan/app")["imageDetails"][0]
    assert detail["imageScanFindingsSummary"]["findingSeverityCounts"] == {"HIGH": 1, "LOW": 1}
    assert error_code(ecr.start_image_scan, repositoryName="scan/app", imageId={"imageTag": "nope"}) == "ImageNotFoundException"
    # Scan on push: the repository's setting, or a registry rule.
    ecr.create_repository(repositoryName="scan/onpush", imageScanningConfiguration={"scanOnPush": True})
    push_image(ecr, "scan/onpush", "v1", "on push")
    assert ecr.describe_image_scan_findings(repositoryName="scan/onpush", imageId={"imageTag": "v1"})["imageScanStatus"]["status"] == "COMPLETE"
    ecr.create_repository(repositoryName="scan/ruled")
    ecr.put_registry_scanning_configuration(scanType="BASIC", rules=[{"scanFrequency": "SCAN_ON_PUSH", "repositoryFilters": [{"filter": "scan/rul*", "filterType": "WILDCARD"}]}])
    push_image(ecr, "scan/ruled", "v1", "ruled")
    assert ecr.describe_image_scan_findings(repositoryName="scan/ruled", imageId={"imageTag": "v1"})["imageScanFindings"]["findings"] == []


def test_creation_templates_create_repositories_on_push_with_their_settings(server):
    from registry import Registry
    ecr = client(server)
    lifecycle = json.dumps({"rules": [{"rulePriority": 1, "selection": {"tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": 10}, "action": {"type": "expire"}}]})
    created = ecr.create_repository_creation_template(prefix="team", appliedFor=["CREATE_ON_PUSH"], imageTagMutability="IMMUTABLE",
                                                      resourceTags=[{"Key": "owner", "Value": "team"}], lifecyclePolicy=lifecycle,
                                                      description="team repos")["repositoryCreationTemplate"]
    assert created["prefix"] == "team" and created["appliedFor"] == ["CREATE_ON_PUSH"] and created["createdAt"]
    assert error_code(ecr.create_repository_creation_template, prefix="team", appliedFor=["CREATE_ON_PUSH"]) == "TemplateAlreadyExistsException"
    ecr.create_repository_creation_template(prefix="ROOT", appliedFor=["REPLICATION"])
    assert [t["prefix"] for t in ecr.describe_repository_creation_templates()["repositoryCreationTemplates"]] == ["ROOT", "team"]
    token = client(server).get_authorization_token()["authorizationData"][0]["authorizationToken"]
    import base64
    v2 = Registry(server, base64.b64decode(token).decode().split(":", 1)[1])
    v2.push_image("team/service", "v1")  # no such repository: the template creates it
    repo = ecr.describe_repositories(repositoryNames=["team/service"])["repositories"][0]
    assert repo["imageTagMutability"] == "IMMUTABLE"
    assert ecr.list_tags_for_resource(resourceArn=repo["repositoryArn"])["tags"] == [{"Key": "owner", "Value": "team"}]
    assert ecr.get_lifecycle_policy(repositoryName="team/service")["lifecyclePolicyText"] == lifecycle
    # A ROOT template that is not for CREATE_ON_PUSH creates nothing: ECR's NAME_UNKNOWN.
    assert v2.request("POST", "/v2/other/service/blobs/uploads/").errors() == ["NAME_UNKNOWN"]
    updated = ecr.update_repository_creation_template(prefix="team", imageTagMutability="MUTABLE")["repositoryCreationTemplate"]
    assert updated["imageTagMutability"] == "MUTABLE" and updated["description"] == "team repos"
    assert error_code(ecr.update_repository_creation_template, prefix="nope") == "TemplateNotFoundException"
    assert ecr.delete_repository_creation_template(prefix="team")["repositoryCreationTemplate"]["prefix"] == "team"
    assert error_code(ecr.delete_repository_creation_template, prefix="team") == "TemplateNotFoundException"


def test_archived_images_cannot_be_pulled_until_restored(server):
    from registry import Registry
    from test_ecr import push_image
    ecr = client(server)
    ecr.create_repository(repositoryName="archive/app")
    image, manifest = push_image(ecr, "archive/app", "v1", "archived")
    v2 = Registry(server).login()
    assert ecr.update_image_storage_class(repositoryName="archive/app", imageId={"imageTag": "v1"}, targetStorageClass="ARCHIVE")["imageStatus"] == "ARCHIVED"
    assert ecr.describe_images(repositoryName="archive/app")["imageDetails"][0]["imageStatus"] == "ARCHIVED"
    assert v2.request("GET", "/v2/archive/app/manifests/v1").errors() == ["MANIFEST_UNKNOWN"]
    assert error_code(ecr.start_image_scan, repositoryName="archive/app", imageId={"imageTag": "v1"}) == "ImageArchivedException"
    ecr.update_image_storage_class(repositoryName="archive/app", imageId={"imageTag": "v1"}, targetStorageClass="STANDARD")
    assert v2.request("GET", "/v2/archive/app/manifests/v1").body == manifest.encode()


def test_signing_status_reflects_signatures_attached_as_referrers(server):
    from test_ecr import push_image, push_layers
    from registry import OCI_MANIFEST, digest
    ecr = client(server)
    ecr.create_repository(repositoryName="signed/app")
    image, manifest = push_image(ecr, "signed/app", "v1", "signed")
    image_id = {"imageTag": "v1"}
    assert ecr.describe_image_signing_status(repositoryName="signed/app", imageId=image_id)["signingStatuses"] == []
    profile = "arn:aws:signer:us-east-1:000000000000:/signing-profiles/release"
    ecr.put_signing_configuration(signingConfiguration={"rules": [{"signingProfileArn": profile, "repositoryFilters": [{"filter": "signed/*", "filterType": "WILDCARD_MATCH"}]}]})
    unsigned = ecr.describe_image_signing_status(repositoryName="signed/app", imageId=image_id)["signingStatuses"]
    assert unsigned[0]["status"] == "FAILED" and unsigned[0]["failureCode"] == "SignatureNotFound"
    push_layers(ecr, "signed/app", b"{}")
    signature = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "artifactType": "application/vnd.cncf.notary.signature",
                            "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": digest(b"{}"), "size": 2}, "layers": [],
                            "subject": {"mediaType": OCI_MANIFEST, "digest": image["imageId"]["imageDigest"], "size": len(manifest)}})
    ecr.put_image(repositoryName="signed/app", imageManifest=signature)
    signed = ecr.describe_image_signing_status(repositoryName="signed/app", imageId=image_id)["signingStatuses"]
    assert signed == [{"signingProfileArn": profile, "status": "COMPLETE"}]


def test_replication_copies_pushes_to_other_regions_and_accounts(server):
    from registry import Registry
    from test_ecr import push_image
    ecr = client(server)
    ecr.put_replication_configuration(replicationConfiguration={"rules": [
        {"destinations": [{"region": "eu-west-1", "registryId": "000000000000"}, {"region": "us-east-1", "registryId": "333333333333"}],
         "repositoryFilters": [{"filter": "prod", "filterType": "PREFIX_MATCH"}]}]})
    client(server, key="333333333333").create_repository_creation_template(prefix="ROOT", appliedFor=["REPLICATION"], imageTagMutability="IMMUTABLE")
    ecr.create_repository(repositoryName="prod/api")
    ecr.create_repository(repositoryName="dev/api")
    image, manifest = push_image(ecr, "prod/api", "v1", "replicated")
    push_image(ecr, "dev/api", "v1", "not replicated")
    europe = client(server, region="eu-west-1")
    other = client(server, key="333333333333")
    for target in (europe, other):
        got = target.batch_get_image(repositoryName="prod/api", imageIds=[{"imageTag": "v1"}])["images"][0]
        assert got["imageManifest"] == manifest
        assert error_code(target.describe_repositories, repositoryNames=["dev/api"]) == "RepositoryNotFoundException"
    assert other.describe_repositories(repositoryNames=["prod/api"])["repositories"][0]["imageTagMutability"] == "IMMUTABLE"
    statuses = ecr.describe_image_replication_status(repositoryName="prod/api", imageId={"imageTag": "v1"})["replicationStatuses"]
    assert sorted((s["region"], s["registryId"], s["status"]) for s in statuses) == [("eu-west-1", "000000000000", "COMPLETE"), ("us-east-1", "333333333333", "COMPLETE")]
    # A /v2 push replicates too, and the replica's blobs are readable there.
    token = base64_token(europe)
    v2_source = Registry(server).login()
    layer_manifest, d = v2_source.push_image("prod/api", "v2", layers=(b"pushed with /v2",))
    replica = Registry(server, token)
    assert replica.request("GET", "/v2/prod/api/manifests/v2").body == layer_manifest
    layer = json.loads(layer_manifest)["layers"][0]["digest"]
    assert replica.request("GET", f"/v2/prod/api/blobs/{layer}").body == b"pushed with /v2"


def base64_token(ecr):
    import base64
    return base64.b64decode(ecr.get_authorization_token()["authorizationData"][0]["authorizationToken"]).decode().split(":", 1)[1]


def test_a_pull_through_cache_rule_fetches_from_an_upstream_stowage_and_caches(server, start_server):
    from registry import Registry
    upstream = start_server("--ephemeral", "--auth", "none")
    origin = Registry(upstream)
    origin.create("library/alpine")
    manifest, d = origin.push_image("library/alpine", "3.20", layers=(b"upstream layer",))
    ecr = client(server)
    rule = ecr.create_pull_through_cache_rule(ecrRepositoryPrefix="hub", upstreamRegistryUrl=upstream.url)
    assert rule["ecrRepositoryPrefix"] == "hub" and rule["upstreamRegistryUrl"] == upstream.url
    assert error_code(ecr.create_pull_through_cache_rule, ecrRepositoryPrefix="hub", upstreamRegistryUrl=upstream.url) == "PullThroughCacheRuleAlreadyExistsException"
    assert error_code(ecr.create_pull_through_cache_rule, ecrRepositoryPrefix="bad", upstreamRegistryUrl="ftp://x") == "UnsupportedUpstreamRegistryException"
    assert ecr.validate_pull_through_cache_rule(ecrRepositoryPrefix="hub")["isValid"] is True
    ecr.create_pull_through_cache_rule(ecrRepositoryPrefix="dead", upstreamRegistryUrl="http://127.0.0.1:9")
    dead = ecr.validate_pull_through_cache_rule(ecrRepositoryPrefix="dead")
    assert dead["isValid"] is False and dead["failure"]
    # An https upstream is a rule like any other, but Stowage cannot fetch from it, and says so.
    ecr.create_pull_through_cache_rule(ecrRepositoryPrefix="tls", upstreamRegistryUrl="https://registry.invalid")
    tls = ecr.validate_pull_through_cache_rule(ecrRepositoryPrefix="tls")
    assert tls["isValid"] is False and "https" in tls["failure"] and "TLS" in tls["failure"]
    v2 = Registry(server).login()
    pulled = v2.request("GET", "/v2/hub/library/alpine/manifests/3.20")
    assert pulled.status == 200 and pulled.body == manifest
    assert v2.request("GET", f"/v2/hub/library/alpine/blobs/{json.loads(manifest)['layers'][0]['digest']}").body == b"upstream layer"
    # Cached: it stays when the upstream is gone, and ECR sees the repository.
    upstream.kill()
    assert v2.request("GET", f"/v2/hub/library/alpine/manifests/{d}").body == manifest
    assert ecr.describe_images(repositoryName="hub/library/alpine")["imageDetails"][0]["imageTags"] == ["3.20"]
    assert v2.request("GET", "/v2/hub/library/alpine/manifests/missing").errors() == ["MANIFEST_UNKNOWN"]
    refused = v2.request("GET", "/v2/tls/library/alpine/manifests/3.20")
    assert refused.status >= 400 and b"https" in refused.body, refused
    assert [r["ecrRepositoryPrefix"] for r in ecr.describe_pull_through_cache_rules()["pullThroughCacheRules"]] == ["dead", "hub", "tls"]
    assert error_code(ecr.describe_pull_through_cache_rules, ecrRepositoryPrefixes=["nope"]) == "PullThroughCacheRuleNotFoundException"
    arn = "arn:aws:secretsmanager:us-east-1:000000000000:secret:ecr-pullthroughcache/hub-credentials-AbCdEf"
    assert ecr.update_pull_through_cache_rule(ecrRepositoryPrefix="hub", credentialArn=arn)["credentialArn"] == arn
    assert ecr.delete_pull_through_cache_rule(ecrRepositoryPrefix="dead")["ecrRepositoryPrefix"] == "dead"
    assert error_code(ecr.delete_pull_through_cache_rule, ecrRepositoryPrefix="dead") == "PullThroughCacheRuleNotFoundException"
