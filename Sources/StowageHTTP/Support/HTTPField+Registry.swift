import FoundationEssentials
import HTTPTypes
import HashTreeCollections

extension HTTPField.Name {
    static let dockerContentDigest = Self("Docker-Content-Digest")!
    static let dockerUploadUUID = Self("Docker-Upload-UUID")!
    static let dockerDistributionAPIVersion = Self("Docker-Distribution-Api-Version")!
    static let ociSubject = Self("OCI-Subject")!
    static let ociFiltersApplied = Self("OCI-Filters-Applied")!
    static let ociTag = Self("OCI-Tag")!
    static let ociChunkMinLength = Self("OCI-Chunk-Min-Length")!
    static let amznRequestID = Self("x-amzn-RequestId")!
    static let link = Self("Link")!
    static let amzTarget = Self("X-Amz-Target")!
    static let warning = Self("Warning")!
}
