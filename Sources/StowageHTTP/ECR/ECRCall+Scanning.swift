import FoundationEssentials
import HashTreeCollections
import StowageCore
import StowageStorage

/// Image scans: deterministic, a scan records the findings seeded for the image's digest
/// (`POST /_admin/scan-findings`), none by default. Scans on push are reactions of the writer.
extension ECRCall {
    static let scanningOperations: [ECRAction: Operation] = [
        .startImageScan: { try await $0.startImageScan() },
        .describeImageScanFindings: { try $0.describeImageScanFindings() },
    ]

    func startImageScan() async throws -> some Encodable {
        struct Output: Encodable {
            var registryId: String
            var repositoryName: String
            var imageId: ECRShape.ImageIdentifier
            var imageScanStatus = ECRShape.ScanStatus()
        }
        let (name, image, imageId) = try identifiedImage()
        guard image.archived != true else {
            throw ECRError(
                .imageArchived,
                "The image is archived; restore it with UpdateImageStorageClass STANDARD before scanning")
        }
        guard image.manifest.isImageManifest else {
            throw ECRError(
                .unsupportedImageType,
                "The image of media type \(image.manifest.mediaType) is not supported for scanning")
        }
        // The findings are those seeded when the scan is logged: the writer reads them.
        let scope = self.scope
        try await store.submit(scope: scope) { state in [state.scan(image.digest, in: name, scope: scope)] }
        return Output(registryId: registryId, repositoryName: name.rawValue, imageId: imageId)
    }

    func describeImageScanFindings() throws -> some Encodable {
        struct Attribute: Encodable {
            var key: String
            var value: String
        }
        struct Finding: Encodable {
            var name: String
            var description: String?
            var uri: String?
            var severity: String
            var attributes: [Attribute]
        }
        struct Findings: Encodable {
            var imageScanCompletedAt: ECRShape.Time
            var vulnerabilitySourceUpdatedAt: ECRShape.Time
            var findingSeverityCounts: [String: Int]
            var findings: [Finding]
        }
        struct Output: Encodable {
            var registryId: String
            var repositoryName: String
            var imageId: ECRShape.ImageIdentifier
            var imageScanStatus = ECRShape.ScanStatus()
            var imageScanFindings: Findings
            var nextToken: String?
        }
        let (name, image, imageId) = try identifiedImage()
        guard let scan = image.scan else {
            throw ECRError(
                .scanNotFound,
                "Image scan does not exist for the image with '\(imageId.imageDigest ?? "")' in the repository with name '\(name)' in the registry with id '\(registryId)'"
            )
        }
        let (limit, after) = try input.page(max: 1000)
        let start = min(after.flatMap(Int.init).map { max(0, $0) } ?? 0, scan.findings.count)
        let end = start + min(scan.findings.count - start, limit)
        let findings = scan.findings[start..<end].map { finding in
            Finding(
                name: finding.name, description: finding.description, uri: finding.uri, severity: finding.severity,
                attributes: finding.attributes.sorted { $0.key < $1.key }.map {
                    Attribute(key: $0.key, value: $0.value)
                })
        }
        return Output(
            registryId: registryId, repositoryName: name.rawValue, imageId: imageId,
            imageScanFindings: Findings(
                imageScanCompletedAt: .init(scan.completedAt), vulnerabilitySourceUpdatedAt: .init(scan.completedAt),
                findingSeverityCounts: Self.severityCounts(scan), findings: findings),
            nextToken: end < scan.findings.count ? nextToken(after: String(end)) : nil)
    }

    static func severityCounts(_ scan: ImageScan) -> [String: Int] {
        Dictionary(scan.findings.map { ($0.severity, 1) }, uniquingKeysWith: +)
    }
}
