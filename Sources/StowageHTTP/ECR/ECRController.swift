import Foundation
import HTTPTypes
import HashTreeCollections
import Hummingbird
import Logging
import NIOCore
import StowageCore
import StowageStorage

/// The ECR JSON API: `POST /` with `X-Amz-Target: AmazonEC2ContainerRegistry_V20150921.<Op>`.
///
/// The caller's account and region come from the SigV4 `Authorization` header's credential scope
/// (region) and access key (account: a configured mapping, else the key itself when it is 12
/// digits, else `000000000000`). Signatures are not verified: this is a local stand-in.
struct ECRController: Sendable {
    let store: RegistryStore
    let uploads: BlobUploads
    let tokens: TokenAuthority
    let configuration: ServerConfiguration
    let address: ServerAddress
    let lifecycle: LifecycleEvaluator
    let scanner: ImageScanner
    let replicator: Replicator
    let pullThrough: PullThroughCache
    let pullTimes: PullTimes
    /// Each repository's image digests in order, for `DescribeImages`.
    let imageListings = SortedKeys<Digest, Image>()

    static let targetPrefix = "AmazonEC2ContainerRegistry_V20150921."

    func register(on router: Router<BasicRequestContext>) {
        router.post("/") { request, context in try await handle(request, context) }
    }

    /// The operations this server implements; any other ECR operation answers `UnsupportedOperationException`.
    static let operations: Set<String> = [
        "GetAuthorizationToken", "CreateRepository", "DescribeRepositories", "DeleteRepository",
        "PutImageTagMutability",
        "PutImageScanningConfiguration", "SetRepositoryPolicy", "GetRepositoryPolicy", "DeleteRepositoryPolicy",
        "PutLifecyclePolicy", "GetLifecyclePolicy", "DeleteLifecyclePolicy", "TagResource", "UntagResource",
        "ListTagsForResource", "PutImage", "BatchGetImage", "BatchDeleteImage", "DescribeImages", "ListImages",
        "ListImageReferrers", "InitiateLayerUpload", "UploadLayerPart", "CompleteLayerUpload",
        "BatchCheckLayerAvailability", "GetDownloadUrlForLayer", "StartLifecyclePolicyPreview",
        "GetLifecyclePolicyPreview",
        "PutRegistryPolicy", "GetRegistryPolicy", "DeleteRegistryPolicy", "PutReplicationConfiguration",
        "DescribeRegistry",
        "PutRegistryScanningConfiguration", "GetRegistryScanningConfiguration",
        "BatchGetRepositoryScanningConfiguration",
        "PutAccountSetting", "GetAccountSetting", "RegisterPullTimeUpdateExclusion",
        "DeregisterPullTimeUpdateExclusion",
        "ListPullTimeUpdateExclusions", "PutSigningConfiguration", "GetSigningConfiguration",
        "DeleteSigningConfiguration",
        "StartImageScan", "DescribeImageScanFindings", "CreateRepositoryCreationTemplate",
        "UpdateRepositoryCreationTemplate", "DeleteRepositoryCreationTemplate", "DescribeRepositoryCreationTemplates",
        "UpdateImageStorageClass", "DescribeImageSigningStatus", "DescribeImageReplicationStatus",
        "CreatePullThroughCacheRule", "DescribePullThroughCacheRules", "UpdatePullThroughCacheRule",
        "DeletePullThroughCacheRule",
        "ValidatePullThroughCacheRule",
    ]

    func handle(_ request: Request, _ context: BasicRequestContext) async throws -> Response {
        guard let target = request.headers[.amzTarget] else {
            throw ECRError(.unknownOperation, "POST / needs an X-Amz-Target header naming an ECR operation")
        }
        guard target.hasPrefix(Self.targetPrefix) else {
            throw ECRError(.unknownOperation, "'\(target)' is not an operation of AmazonEC2ContainerRegistry_V20150921")
        }
        let operation = String(target.dropFirst(Self.targetPrefix.count))
        var request = request
        let body: ByteBuffer
        do { body = try await request.collectBody(upTo: 64 << 20) } catch {
            throw ECRError(.invalidParameter, "the request body is larger than 64 MiB")
        }
        let input = try ECRInput(Array(body.readableBytesView))
        let scope = identity(request)
        if let registry = try input.string("registryId") {
            guard AccountID(registry) != nil else {
                throw ECRInput.invalid("registryId", "Member must satisfy regular expression pattern: [0-9]{12}")
            }
            guard registry == scope.account.rawValue else {
                throw ECRError(
                    .invalidParameter,
                    "registryId \(registry) is not the caller's account \(scope.account); cross-account access is not emulated"
                )
            }
        }
        let call = ECRCall(controller: self, input: input, scope: scope)
        do {
            return ECRResponse.make(try await call.perform(operation))
        } catch let error as ECRError {
            throw error
        } catch let error as RegistryError {
            throw ECRError(error, scope: scope)
        } catch let error as StoreUnavailable {
            context.logger.error("\(error)")
            throw ECRError(.serverException, "the registry cannot write right now; its log says why")
        } catch {
            context.logger.error("ECR \(operation): \(error)")
            throw ECRError(.serverException, "internal error; the server log has the details")
        }
    }

    /// The caller's account and region from the SigV4 credential scope.
    func identity(_ request: Request) -> Scope {
        guard let header = request.headers[.authorization] else { return .default }
        // Byte search: Foundation's `range(of:)` costs a locale-aware comparison per call.
        let bytes = Array(header.utf8)
        let marker = Array("Credential=".utf8)
        guard bytes.count >= marker.count,
            let start = (0...(bytes.count - marker.count)).first(where: {
                bytes[$0..<($0 + marker.count)].elementsEqual(marker)
            })
        else { return .default }
        let value = bytes[(start + marker.count)...].prefix { $0 != UInt8(ascii: ",") && $0 != UInt8(ascii: " ") }
        let credential = String(decoding: value, as: UTF8.self)
        let parts = credential.split(separator: "/")
        let key = parts.first.map(String.init) ?? ""
        let region = parts.count >= 3 ? Region(String(parts[2])) ?? .default : .default
        let account = configuration.accounts[key] ?? AccountID(key) ?? .default
        return Scope(account: account, region: region)
    }

    func repositoryURI(_ name: RepositoryName) -> String { "\(address.authority)/\(name)" }

    static func arn(_ name: RepositoryName, _ scope: Scope) -> String {
        "arn:aws:ecr:\(scope.region):\(scope.account):repository/\(name)"
    }
}

/// One ECR call: its input and the caller's account-region.
struct ECRCall {
    let controller: ECRController
    let input: ECRInput
    let scope: Scope

    var store: RegistryStore { controller.store }
    var registryId: String { scope.account.rawValue }

    func perform(_ operation: String) async throws -> [String: Any] {
        switch operation {
        case "GetAuthorizationToken": return getAuthorizationToken()
        case "CreateRepository": return try await createRepository()
        case "DescribeRepositories": return try describeRepositories()
        case "DeleteRepository": return try await deleteRepository()
        case "PutImageTagMutability": return try await putImageTagMutability()
        case "PutImageScanningConfiguration": return try await putImageScanningConfiguration()
        case "SetRepositoryPolicy": return try await setRepositoryPolicy()
        case "GetRepositoryPolicy": return try getRepositoryPolicy()
        case "DeleteRepositoryPolicy": return try await deleteRepositoryPolicy()
        case "PutLifecyclePolicy":
            let output = try await putLifecyclePolicy()
            await controller.lifecycle.run(only: (scope, try input.repositoryName()))
            return output
        case "StartLifecyclePolicyPreview": return try await startLifecyclePolicyPreview()
        case "GetLifecyclePolicyPreview": return try getLifecyclePolicyPreview()
        case "GetLifecyclePolicy": return try getLifecyclePolicy()
        case "DeleteLifecyclePolicy": return try await deleteLifecyclePolicy()
        case "TagResource": return try await tagResource()
        case "UntagResource": return try await untagResource()
        case "ListTagsForResource": return try listTagsForResource()
        case "PutImage":
            let output = try await putImage()
            if let image = output["image"] as? [String: Any], let id = image["imageId"] as? [String: Any],
                let digest = (id["imageDigest"] as? String).flatMap(Digest.init)
            {
                let name = try input.repositoryName()
                await controller.scanner.scanOnPush(digest, in: name, scope: scope)
                await controller.replicator.replicate(
                    digest, tag: (id["imageTag"] as? String).flatMap(Tag.init), from: name, in: scope)
            }
            return output
        case "StartImageScan": return try await startImageScan()
        case "CreateRepositoryCreationTemplate": return try await createRepositoryCreationTemplate()
        case "UpdateRepositoryCreationTemplate": return try await updateRepositoryCreationTemplate()
        case "DeleteRepositoryCreationTemplate": return try await deleteRepositoryCreationTemplate()
        case "DescribeRepositoryCreationTemplates": return try describeRepositoryCreationTemplates()
        case "UpdateImageStorageClass": return try await updateImageStorageClass()
        case "DescribeImageSigningStatus": return try describeImageSigningStatus()
        case "DescribeImageReplicationStatus": return try describeImageReplicationStatus()
        case "CreatePullThroughCacheRule": return try await createPullThroughCacheRule()
        case "DescribePullThroughCacheRules": return try describePullThroughCacheRules()
        case "UpdatePullThroughCacheRule": return try await updatePullThroughCacheRule()
        case "DeletePullThroughCacheRule": return try await deletePullThroughCacheRule()
        case "ValidatePullThroughCacheRule": return try await validatePullThroughCacheRule()
        case "DescribeImageScanFindings": return try describeImageScanFindings()
        case "BatchGetImage": return try batchGetImage()
        case "BatchDeleteImage": return try await batchDeleteImage()
        case "DescribeImages": return try describeImages()
        case "ListImages": return try listImages()
        case "ListImageReferrers": return try listImageReferrers()
        case "InitiateLayerUpload": return try await initiateLayerUpload()
        case "UploadLayerPart": return try await uploadLayerPart()
        case "CompleteLayerUpload": return try await completeLayerUpload()
        case "BatchCheckLayerAvailability": return try batchCheckLayerAvailability()
        case "GetDownloadUrlForLayer": return try getDownloadUrlForLayer()
        case "PutRegistryPolicy": return try await putRegistryPolicy()
        case "GetRegistryPolicy": return try getRegistryPolicy()
        case "DeleteRegistryPolicy": return try await deleteRegistryPolicy()
        case "PutReplicationConfiguration": return try await putReplicationConfiguration()
        case "DescribeRegistry": return describeRegistry()
        case "PutRegistryScanningConfiguration": return try await putRegistryScanningConfiguration()
        case "GetRegistryScanningConfiguration": return getRegistryScanningConfiguration()
        case "BatchGetRepositoryScanningConfiguration": return try batchGetRepositoryScanningConfiguration()
        case "PutAccountSetting": return try await putAccountSetting()
        case "GetAccountSetting": return try getAccountSetting()
        case "RegisterPullTimeUpdateExclusion": return try await registerPullTimeUpdateExclusion()
        case "DeregisterPullTimeUpdateExclusion": return try await deregisterPullTimeUpdateExclusion()
        case "ListPullTimeUpdateExclusions": return try listPullTimeUpdateExclusions()
        case "PutSigningConfiguration": return try await putSigningConfiguration()
        case "GetSigningConfiguration": return try getSigningConfiguration()
        case "DeleteSigningConfiguration": return try await deleteSigningConfiguration()
        default:
            if ECRModel.operations.contains(operation) {
                throw ECRError(
                    .unsupportedOperation,
                    "Stowage does not implement \(operation) yet; the README lists the operations it does")
            }
            throw ECRError(.unknownOperation, "'\(operation)' is not an ECR operation")
        }
    }

    /// The repository, or `RepositoryNotFoundException`.
    func repository(_ name: RepositoryName) throws -> Repository {
        guard let repository = store.state[scope].repositories[name] else {
            throw ECRError(RegistryError.repositoryNotFound(name), scope: scope)
        }
        return repository
    }

    func submit(_ command: Command) async throws {
        try await store.submit(command, scope: scope)
    }
}

/// The operations of the ECR service model (botocore's `ecr/2015-09-21`), all 58.
enum ECRModel {
    static let operations: Set<String> = [
        "BatchCheckLayerAvailability", "BatchDeleteImage", "BatchGetImage", "BatchGetRepositoryScanningConfiguration",
        "CompleteLayerUpload", "CreatePullThroughCacheRule", "CreateRepository", "CreateRepositoryCreationTemplate",
        "DeleteLifecyclePolicy", "DeletePullThroughCacheRule", "DeleteRegistryPolicy", "DeleteRepository",
        "DeleteRepositoryCreationTemplate", "DeleteRepositoryPolicy", "DeleteSigningConfiguration",
        "DeregisterPullTimeUpdateExclusion", "DescribeImageReplicationStatus", "DescribeImageScanFindings",
        "DescribeImageSigningStatus", "DescribeImages", "DescribePullThroughCacheRules", "DescribeRegistry",
        "DescribeRepositories", "DescribeRepositoryCreationTemplates", "GetAccountSetting", "GetAuthorizationToken",
        "GetDownloadUrlForLayer", "GetLifecyclePolicy", "GetLifecyclePolicyPreview", "GetRegistryPolicy",
        "GetRegistryScanningConfiguration", "GetRepositoryPolicy", "GetSigningConfiguration", "InitiateLayerUpload",
        "ListImageReferrers", "ListImages", "ListPullTimeUpdateExclusions", "ListTagsForResource", "PutAccountSetting",
        "PutImage", "PutImageScanningConfiguration", "PutImageTagMutability", "PutLifecyclePolicy", "PutRegistryPolicy",
        "PutRegistryScanningConfiguration", "PutReplicationConfiguration", "PutSigningConfiguration",
        "RegisterPullTimeUpdateExclusion", "SetRepositoryPolicy", "StartImageScan", "StartLifecyclePolicyPreview",
        "TagResource", "UntagResource", "UpdateImageStorageClass", "UpdatePullThroughCacheRule",
        "UpdateRepositoryCreationTemplate", "UploadLayerPart", "ValidatePullThroughCacheRule",
    ]
}
