import HashTreeCollections
import Hummingbird
import StowageCore
import StowageStorage

/// A replay (`stowage serve --replay FILE`): which stretch of history it holds, and which point
/// of it every reader — `/v2`, the ECR API, `/_admin/state`, the page — is shown.
extension AdminController {
    struct ReplayView: Encodable {
        var replaying: Bool
        /// The record the recording starts after.
        var start: UInt64?
        /// Its last record.
        var end: UInt64?
        /// The record whose state is shown.
        var at: UInt64
        var time: String
        var checkpoint: String?
    }

    /// `GET /_admin/replay`.
    func replay() async throws -> Response {
        let shown = store.sequence
        let checkpoint = await store.end.state.checkpoints.values.first { $0.sequence == shown }?.name.rawValue
        return try JSONResponse.make(view(at: shown, checkpoint: checkpoint))
    }

    /// `POST /_admin/replay {"at": point}`: show the registry as it was at that point.
    func moveReplay(_ request: Request) async throws -> Response {
        guard store.configuration.readOnly else {
            throw AdminError(
                .conflict, "NotReplaying",
                "this server is live, not a replay: POST /_admin/rewind moves a live registry (as a logged command)")
        }
        struct Input: Decodable { var at: JSONValue }
        let input = try await decode(Input.self, request, example: #"{"at": "baseline"} or {"at": 42}"#)
        let text = input.at.stringValue ?? input.at.intValue.map { String($0) } ?? ""
        let point = try await resolve(text, "at")
        do { try await store.show(point.sequence) } catch let error as RegistryStore.HistoryError {
            throw AdminError(.gone, "HistoryUnavailable", error.description)
        }
        return try JSONResponse.make(view(at: point.sequence, checkpoint: point.checkpoint))
    }

    private func view(at sequence: UInt64, checkpoint: String?) -> ReplayView {
        let recording = store.configuration.replaying
        return ReplayView(
            replaying: recording != nil, start: recording?.baseSequence, end: recording?.lastSequence, at: sequence,
            time: RFC3339.format(store.state.time), checkpoint: checkpoint)
    }
}
