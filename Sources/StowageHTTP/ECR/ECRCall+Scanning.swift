import Foundation
import HashTreeCollections
import StowageCore
import StowageStorage

extension ECRCall {
    func scannedImage() throws -> (RepositoryName, Image, [String: Any]) {
        let name = try input.repositoryName()
        let repository = try repository(name)
        guard let identifier = input.object["imageId"] else {
            throw ECRInput.invalid("imageId", "Member must not be null")
        }
        switch resolve(identifier, in: repository) {
        case .found(let image, _): return (name, image, identifierJSON(identifier))
        case .failure(let code, let reason):
            guard code == "ImageNotFound" else { throw ECRError(.invalidParameter, reason) }
            throw ECRError(
                .imageNotFound,
                "The image with imageId \(identifierJSON(identifier)) does not exist within the repository with name '\(name)' in the registry with id '\(registryId)'"
            )
        }
    }

    func startImageScan() async throws -> [String: Any] {
        let (name, image, imageId) = try scannedImage()
        guard image.archived != true else {
            throw ECRError(
                .imageArchived,
                "The image is archived; restore it with UpdateImageStorageClass STANDARD before scanning")
        }
        guard ImageScanner.isScannable(image) else {
            throw ECRError(
                .unsupportedImageType,
                "The image of media type \(image.manifest.mediaType) is not supported for scanning")
        }
        try await controller.scanner.scan(image.digest, in: name, scope: scope)
        var id = imageId
        id["imageDigest"] = image.digest.rawValue
        return [
            "registryId": registryId, "repositoryName": name.rawValue, "imageId": id,
            "imageScanStatus": ["status": "COMPLETE", "description": "The scan was completed successfully."],
        ]
    }

    func describeImageScanFindings() throws -> [String: Any] {
        let (name, image, imageId) = try scannedImage()
        guard let scan = image.scan else {
            throw ECRError(
                .scanNotFound,
                "Image scan does not exist for the image with '\(imageId)' in the repository with name '\(name)' in the registry with id '\(registryId)'"
            )
        }
        let (limit, after) = try input.page(max: 1000)
        let start = min(after.flatMap(Int.init) ?? 0, scan.findings.count)
        let end = start + min(scan.findings.count - start, limit)
        var id = imageId
        id["imageDigest"] = image.digest.rawValue
        var output: [String: Any] = [
            "registryId": registryId, "repositoryName": name.rawValue, "imageId": id,
            "imageScanStatus": ["status": "COMPLETE", "description": "The scan was completed successfully."],
            "imageScanFindings": Self.findingsJSON(scan, range: start..<end),
        ]
        if end < scan.findings.count { output["nextToken"] = nextToken(after: String(end)) }
        return output
    }

    static func severityCounts(_ scan: ImageScan) -> [String: Int] {
        Dictionary(scan.findings.map { ($0.severity, 1) }, uniquingKeysWith: +)
    }

    static func findingsJSON(_ scan: ImageScan, range: Range<Int>) -> [String: Any] {
        [
            "imageScanCompletedAt": epochSeconds(scan.completedAt),
            "vulnerabilitySourceUpdatedAt": epochSeconds(scan.completedAt),
            "findingSeverityCounts": severityCounts(scan),
            "findings": scan.findings[range].map { finding -> [String: Any] in
                var json: [String: Any] = [
                    "name": finding.name, "severity": finding.severity,
                    "attributes": finding.attributes.sorted { $0.key < $1.key }.map {
                        ["key": $0.key, "value": $0.value]
                    },
                ]
                if let description = finding.description { json["description"] = description }
                if let uri = finding.uri { json["uri"] = uri }
                return json
            },
        ]
    }
}
