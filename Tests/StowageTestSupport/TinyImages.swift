public import StowageCore

/// Many small images, as the scale benchmark seeds them: a layer blob and a manifest naming it,
/// tagged. For tests of large states (a snapshot read on every core).
public enum TinyImages {
    /// The commands that push image `n` to `repository`: its layer, then its manifest, tagged `t<n>`.
    public static func commands(_ n: Int, in repository: RepositoryName) -> [Command] {
        let layer = CommandGenerator.fakeDigest("layer \(repository) \(n)")
        let content = #"{"schemaVersion":2,"layers":[{"digest":"\#(layer)","size":7}],"n":\#(n)}"#
        let manifest = Manifest(
            digest: CommandGenerator.fakeDigest(content), mediaType: "application/vnd.oci.image.manifest.v1+json",
            content: content,
            references: ManifestReferences(layers: [
                Descriptor(mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", digest: layer, size: 7)
            ]))
        return [
            .putBlob(repository: repository, digest: layer, size: 7),
            .putManifest(repository: repository, manifest: manifest, tag: Tag("t\(n)")!),
        ]
    }
}
