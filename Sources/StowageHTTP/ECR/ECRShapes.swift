import StowageCore

/// The output shapes of the ECR service model that several operations share, named as in the
/// model. Optional members are left out when `nil`, as AWS leaves them out.
enum ECRShape {
    /// `{}`: the output of operations that return nothing.
    struct Empty: Encodable {
        func encode(to encoder: any Encoder) throws { _ = encoder.container(keyedBy: Key.self) }
        private enum Key: CodingKey {}
    }

    /// A time as AWS JSON writes it: seconds since the epoch. A plain `Double`, so the encoder
    /// writes it without a container of its own (measured: a wrapper struct per time cost
    /// DescribeImages a fifth of its CPU).
    typealias Time = Double

    /// `{filter, filterType}`.
    struct Filter: Encodable {
        var filter: String
        var filterType: String

        static func list(_ filters: [String], type: String) -> [Filter] {
            filters.map { Filter(filter: $0, filterType: type) }
        }
    }

    struct ImageIdentifier: Encodable, Hashable {
        var imageDigest: String?
        var imageTag: String?
    }

    struct EncryptionConfiguration: Encodable {
        var encryptionType: String
        var kmsKey: String?
    }

    struct ImageScanningConfiguration: Encodable {
        var scanOnPush: Bool
    }

    struct Repository: Encodable {
        var repositoryArn: String
        var registryId: String
        var repositoryName: String
        var repositoryUri: String
        var createdAt: Time
        var imageTagMutability: String
        var imageTagMutabilityExclusionFilters: [Filter]?
        var imageScanningConfiguration: ImageScanningConfiguration
        var encryptionConfiguration: EncryptionConfiguration
    }

    /// `ResourceTag`'s wire form (`Key`, `Value`).
    struct Tag: Encodable {
        var Key: String
        var Value: String
    }

    struct Image: Encodable {
        var registryId: String
        var repositoryName: String
        var imageId: ImageIdentifier
        var imageManifest: String
        var imageManifestMediaType: String
    }

    struct ImageFailure: Encodable {
        var imageId: ImageIdentifier
        var failureCode: String
        var failureReason: String
    }

    struct ScanStatus: Encodable {
        var status = "COMPLETE"
        var description = "The scan was completed successfully."
    }
}

extension Double {
    /// A time in seconds since the epoch, as AWS JSON writes times.
    init(_ time: Timestamp) { self = time.epochSeconds }
}
