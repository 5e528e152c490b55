import FoundationEssentials
import StowageCore
import StowageStorage

/// `stowage serve --fixture`: what the registry starts from, loaded before the server answers.
enum Fixtures {
    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    /// One fixture: an export file, or an OCI image layout (a tar, or a directory) for a repository.
    enum Fixture {
        case export(path: String, bytes: [UInt8])
        case layout(path: String, layout: OCILayout, repository: RepositoryName)
    }

    /// Reads `[REPOSITORY=]PATH`: an export by its magic; a directory or a tar as an OCI layout, for
    /// the repository named before `=`, else the one its `index.json` ref names all name.
    static func read(_ argument: String) throws -> Fixture {
        var path = argument
        var repository: RepositoryName?
        if let equals = argument.firstIndex(of: "="), let name = RepositoryName(String(argument[..<equals])) {
            repository = name
            path = String(argument[argument.index(after: equals)...])
        }
        var isDirectory = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw Failure(description: "fixture \(path) does not exist")
        }
        let layout: OCILayout
        do {
            if isDirectory {
                layout = try OCILayout(directory: path)
            } else {
                guard let data = FileManager.default.contents(atPath: path) else {
                    throw Failure(description: "cannot read fixture \(path)")
                }
                let bytes = Array(data)
                if bytes.starts(with: ExportFormat.magic) {
                    guard repository == nil else {
                        throw Failure(
                            description: "fixture \(path) is an export file: it names its repositories itself")
                    }
                    return .export(path: path, bytes: bytes)
                }
                layout = try OCILayout(tar: bytes)
            }
        } catch let error as Failure {
            throw error
        } catch {
            throw Failure(description: "fixture \(path) is neither an export file nor an OCI image layout: \(error)")
        }
        guard let name = repository ?? layout.namedRepository else {
            throw Failure(
                description:
                    "fixture \(path) is an OCI image layout: name its repository, --fixture team/app=\(path)")
        }
        return .layout(path: path, layout: layout, repository: name)
    }

    /// Loads every fixture — the export first (it replaces the registry), then the layouts in
    /// order — and checkpoints the result as `fixture`.
    static func load(_ arguments: [String], into store: RegistryStore, limit: Int) async throws {
        let fixtures = try arguments.map(read)
        let exports = fixtures.filter { if case .export = $0 { true } else { false } }
        guard exports.count <= 1 else {
            throw Failure(
                description: "give at most one export file as a fixture: each replaces the whole registry")
        }
        let importer = Importer(store: store, ingest: Ingest(store: store))
        var lines: [String] = []
        for fixture in exports + fixtures.filter({ if case .layout = $0 { true } else { false } }) {
            do {
                switch fixture {
                case .export(let path, let bytes):
                    let imported = try await importer.importExport(
                        bytes, limit: limit.multipliedReportingOverflow(by: 4).partialValue)
                    lines.append("\(path): \(imported.repositories) repositories, \(imported.images) images")
                case .layout(let path, let layout, let repository):
                    let pushed = try await importer.importLayout(layout, into: repository, scope: .default)
                    let tags = pushed.tags.map(\.rawValue).joined(separator: ", ")
                    lines.append("\(path): \(pushed.manifests.count) manifest(s) into \(repository), tags \(tags)")
                }
            } catch {
                let path: String
                switch fixture {
                case .export(let p, _), .layout(let p, _, _): path = p
                }
                throw Failure(description: "fixture \(path) was refused: \(error)")
            }
        }
        let checkpoint = try await store.submit(.checkpoint(name: CheckpointName("fixture")!))
        lines.append("checkpoint fixture at record \(checkpoint.sequence) (stowage reset --to fixture returns there)")
        writeStandardOutput(lines.map { "fixture " + $0 + "\n" }.joined())
    }
}
