import FoundationEssentials
import HashTreeCollections
import Hummingbird
import NIOCore
import StowageCore
import StowageStorage

extension AdminController {
    /// A filter over log records, from `?account=&region=&repository=&upload=&kind=&refused=`.
    struct RecordFilter {
        var account: String?
        var region: String?
        var repository: String?
        var upload: String?
        var kind: String?
        var refusedOnly = false

        init(_ request: Request) throws {
            let query = request.uri.queryParameters
            account = query["account"].map(String.init)
            region = query["region"].map(String.init)
            repository = query["repository"].map(String.init)
            upload = query["upload"].map(String.init)
            kind = query["kind"].map(String.init)
            refusedOnly = query["refused"].map { $0 == "true" || $0 == "1" } ?? false
            if let kind, !Command.kinds.contains(kind) {
                throw AdminError(
                    .badRequest, "InvalidKind",
                    "'\(kind)' is not a kind of record; the kinds are \(Command.kinds.joined(separator: ", "))")
            }
        }

        func admits(_ record: LogRecord) -> Bool {
            let command = record.envelope.command
            if let account, record.envelope.scope.account.rawValue != account { return false }
            if let region, record.envelope.scope.region.rawValue != region { return false }
            if let repository, command.repository?.rawValue != repository { return false }
            if let upload, command.upload?.rawValue != upload { return false }
            if let kind, command.kind != kind { return false }
            if refusedOnly && record.refusal == nil { return false }
            return true
        }
    }

    /// `GET /_admin/log?after=&limit=&repository=&upload=&kind=`: records in order, applied or refused.
    func log(_ request: Request) async throws -> Response {
        let query = request.uri.queryParameters
        let after = try number(query["after"], "after") ?? 0
        let limit = Int(min(try number(query["limit"], "limit") ?? 1000, 10_000))
        let filter = try RecordFilter(request)
        let records = try await store.records(after: after).filter(filter.admits)
        let page = records.prefix(limit)
        struct Body: Encodable {
            var records: [RecordView]
            var next: UInt64?
            var firstSequence: UInt64
        }
        let first = await store.storageFacts().firstSequence
        return try JSONResponse.make(
            Body(
                records: page.map(RecordView.init), next: records.count > limit ? page.last?.sequence : nil,
                firstSequence: first))
    }

    /// `GET /_admin/log/stream?after=`: the same records as Server-Sent Events, then live ones.
    func logStream(_ request: Request) async throws -> Response {
        let after = try number(request.uri.queryParameters["after"], "after") ?? store.sequence
        let filter = try RecordFilter(request)
        let live = await store.subscribe()
        let history = try await store.records(after: after)
        let body = ResponseBody { writer in
            var last = after
            func send(_ record: LogRecord, _ writer: inout any ResponseBodyWriter) async throws {
                guard record.sequence > last else { return }
                last = record.sequence
                guard filter.admits(record) else { return }
                let json = String(decoding: try StateCodec.encode(RecordView(record)), as: UTF8.self)
                try await writer.write(ByteBuffer(string: "id: \(record.sequence)\nevent: record\ndata: \(json)\n\n"))
            }
            try await writer.write(ByteBuffer(string: ": stowage log stream\n\n"))
            for record in history { try await send(record, &writer) }
            for await record in live { try await send(record, &writer) }
            try await writer.finish(nil)
        }
        return Response(
            status: .ok, headers: [.contentType: "text/event-stream", .cacheControl: "no-cache"], body: body)
    }

    /// `GET /_admin/state?at=<sequence>|<RFC 3339 time>`: the registry as it was then.
    func state(_ request: Request) async throws -> Response {
        let manifests = request.uri.queryParameters["manifests"] == "true"
        guard let at = request.uri.queryParameters["at"].map(String.init) else {
            return try JSONResponse.make(StateView(store.state, sequence: store.sequence, manifests: manifests))
        }
        let point = try await resolve(at, "at")
        return try JSONResponse.make(StateView(point.state, sequence: point.sequence, manifests: manifests))
    }

    /// A point of history: a checkpoint's name, a sequence number, or an RFC 3339 time (the last
    /// record at or before it; record times never run backwards, so that is one record).
    func resolve(_ text: String, _ parameter: String) async throws -> (
        sequence: UInt64, state: RegistryState, checkpoint: String?
    ) {
        let found: (sequence: UInt64, checkpoint: CheckpointName?)?
        do { found = try await store.point(named: text) } catch let error as RegistryStore.HistoryError {
            throw AdminError(.gone, "HistoryUnavailable", error.description)
        }
        guard let (sequence, name) = found else {
            throw AdminError(
                .badRequest, "InvalidRequest",
                "\(parameter) must be a checkpoint name, a sequence number or an RFC 3339 time, not '\(text)'")
        }
        let checkpoint = name?.rawValue
        do {
            return (sequence, try await store.state(at: sequence), checkpoint)
        } catch let error as RegistryStore.HistoryError {
            throw AdminError(.gone, "HistoryUnavailable", error.description)
        }
    }

    /// `GET /_admin/diff?from=&to=`: what changed between two points (`to` defaults to now).
    func diff(_ request: Request) async throws -> Response {
        let query = request.uri.queryParameters
        guard let from = query["from"].map(String.init) else {
            throw AdminError(
                .badRequest, "InvalidRequest",
                "give ?from= (and ?to=, default now): a checkpoint, a sequence number or an RFC 3339 time")
        }
        let start = try await resolve(from, "from")
        let last = await store.end
        let now: (sequence: UInt64, state: RegistryState, checkpoint: String?) = (last.sequence, last.state, nil)
        let end = try await query["to"].map(String.init).asyncMap { try await self.resolve($0, "to") } ?? now
        func point(_ p: (sequence: UInt64, state: RegistryState, checkpoint: String?)) -> DiffView.Point {
            DiffView.Point(sequence: p.sequence, time: RFC3339.format(p.state.time), checkpoint: p.checkpoint)
        }
        return try JSONResponse.make(DiffView(start.state.diff(to: end.state), from: point(start), to: point(end)))
    }

    /// `GET /_admin/tags/history?repository=&tag=&start=&end=`: every move of a tag, oldest first.
    func tagHistory(_ request: Request) async throws -> Response {
        let query = request.uri.queryParameters
        guard let rawName = query["repository"].map(String.init), let name = RepositoryName(rawName) else {
            throw AdminError(.badRequest, "InvalidName", "give ?repository= with a valid repository name")
        }
        guard let rawTag = query["tag"].map(String.init), let tag = Tag(rawTag) else {
            throw AdminError(.badRequest, "InvalidTag", "give ?tag= with a valid tag")
        }
        let start = try await query["start"].map(String.init).asyncMap { try await self.resolve($0, "start").sequence }
        let end = try await query["end"].map(String.init).asyncMap { try await self.resolve($0, "end").sequence }
        struct Move: Encodable {
            var sequence: UInt64
            var time: String
            var digest: String?
            var deleted: Bool
            var cause: String
        }
        struct Body: Encodable {
            var repository: String
            var tag: String
            var moves: [Move]
            var historyStartsAt: UInt64
        }
        let moves = try await store.tagHistory(tag, in: name, scope: try scope(request), start: start, end: end)
        return try JSONResponse.make(
            Body(
                repository: name.rawValue, tag: tag.rawValue,
                moves: moves.map {
                    Move(
                        sequence: $0.sequence, time: RFC3339.format($0.time), digest: $0.digest?.rawValue,
                        deleted: $0.digest == nil, cause: $0.cause)
                }, historyStartsAt: await store.storageFacts().firstSequence))
    }

    /// One event in an upload's timeline.
    struct UploadEvent: Encodable {
        var sequence: UInt64
        var time: String
        var event: String
        var offset: Int64?
        var length: Int64?
        var claimed: String?
        var computed: String?
        var size: Int64?
        var refused: String?
        /// The record in a line.
        var summary: String?
    }

    struct UploadTimeline: Encodable {
        var id: String
        var account: String?
        var region: String?
        var repository: String?
        var status: String
        var size: Int64?
        var blob: String?
        var events: [UploadEvent]
        /// The record that ended the upload, and how, once it ended.
        var ended: Ended?
        var historyStartsAt: UInt64

        struct Ended: Encodable {
            var sequence: UInt64
            var how: String
        }
    }

    /// `GET /_admin/uploads/<id>`: started, every chunk, every refusal, the commit or cancel, the blob.
    func upload(_ request: Request, id: String) async throws -> Response {
        guard let upload = UploadID(id) else {
            throw AdminError(.badRequest, "InvalidUpload", "'\(id)' is not an upload id")
        }
        let records = try await store.records(after: 0).filter { $0.envelope.command.upload == upload }
        let inFlight = await store.end.state.uploadsInFlight.contains { $0.upload.id == upload }
        guard !records.isEmpty || inFlight else {
            throw AdminError(.notFound, "NotFound", "no upload '\(id)' in the history kept")
        }
        return try JSONResponse.make(try await timeline(upload, records))
    }

    func timeline(_ id: UploadID, _ records: [LogRecord]) async throws -> UploadTimeline {
        var events: [UploadEvent] = []
        var status = "unknown"
        var blob: String?
        var committedSize: Int64?
        for record in records {
            var event = UploadEvent(
                sequence: record.sequence, time: RFC3339.format(record.envelope.time),
                event: record.envelope.command.kind)
            event.refused = record.refusal?.description
            event.summary = record.summary
            switch record.envelope.command {
            case .startUpload:
                event.event = "started"
                if record.refusal == nil { status = "in flight" }
            case .appendChunk(_, _, let offset, let length):
                event.event = "chunk"
                (event.offset, event.length) = (offset, length)
            case .commitUpload(_, _, let claimed, let computed, let size, _):
                event.event = "commit"
                (event.claimed, event.computed, event.size) = (claimed.rawValue, computed.rawValue, size)
                if record.refusal == nil {
                    status = "committed"
                    blob = computed.rawValue
                    committedSize = size
                }
            case .refuseRequest:
                event.event = "request"
            case .injectFault:
                event.event = "fault"
            case .cancelUpload:
                event.event = "cancel"
                if record.refusal == nil { status = "cancelled" }
            case .endUpload(_, _, let reason):
                switch reason {
                case .expired:
                    event.event = "expired"
                    if record.refusal == nil { status = "expired (nobody touched it for the upload timeout)" }
                case .bytesLost:
                    event.event = "ended"
                    if record.refusal == nil {
                        status = "ended: a crash took bytes it had acknowledged; push the blob again"
                    }
                }
            default:
                break
            }
            events.append(event)
        }
        let inFlight = await store.end.state.uploadsInFlight.first { $0.upload.id == id }
        let first = records.first?.envelope
        // The record that ended it: its own commit, cancel or end, else a reset, restore or
        // deletion of its repository that came after its last record.
        var ended: UploadTimeline.Ended?
        if let last = records.last(where: { $0.refusal == nil }), let kind = Optional(last.envelope.command.kind),
            ["commitUpload", "cancelUpload", "endUpload"].contains(kind)
        {
            ended = .init(sequence: last.sequence, how: last.envelope.command.summary)
        } else if inFlight == nil, let first, let last = records.last {
            let repository = first.command.repository
            let ending = try await store.records(after: last.sequence).first { record in
                guard record.refusal == nil else { return false }
                switch record.envelope.command {
                case .reset(.everything), .restore: return true
                case .reset(.scope): return record.envelope.scope == first.scope
                case .deleteRepository(let name, _): return name == repository && record.envelope.scope == first.scope
                default: return false
                }
            }
            if let ending {
                ended = .init(sequence: ending.sequence, how: ending.envelope.command.summary)
                status = "ended by record \(ending.sequence): \(ending.envelope.command.summary)"
            } else if status == "in flight" {
                status = "gone (the record that ended it is older than the history kept)"
            }
        }
        return UploadTimeline(
            id: id.rawValue, account: (inFlight?.scope ?? first?.scope)?.account.rawValue,
            region: (inFlight?.scope ?? first?.scope)?.region.rawValue,
            repository: (inFlight?.upload.repository ?? first?.command.repository)?.rawValue, status: status,
            size: inFlight?.upload.size ?? committedSize, blob: blob, events: events, ended: ended,
            historyStartsAt: await store.storageFacts().firstSequence)
    }

    /// `GET /_admin/uploads?limit=`: uploads in flight and the most recent ones, newest first.
    func uploads(_ request: Request) async throws -> Response {
        let limit = Int(min(try number(request.uri.queryParameters["limit"], "limit") ?? 50, 1000))
        let records = try await store.records(after: 0).filter { $0.envelope.command.upload != nil }
        var order: [UploadID] = []
        var byUpload: [UploadID: [LogRecord]] = [:]
        for record in records {
            let id = record.envelope.command.upload!
            if byUpload[id] == nil { order.append(id) }
            byUpload[id, default: []].append(record)
        }
        var timelines: [UploadTimeline] = []
        for id in order.reversed().prefix(limit) { timelines.append(try await timeline(id, byUpload[id]!)) }
        struct Summary: Encodable {
            var id: String
            var repository: String?
            var status: String
            var size: Int64?
            var blob: String?
            var started: String?
            var refusals: Int
        }
        let summaries = timelines.map {
            Summary(
                id: $0.id, repository: $0.repository, status: $0.status, size: $0.size, blob: $0.blob,
                started: $0.events.first?.time, refusals: $0.events.filter { $0.refused != nil }.count)
        }
        return try JSONResponse.make(["uploads": summaries])
    }

    func number(_ text: Substring?, _ name: String) throws -> UInt64? {
        guard let text else { return nil }
        guard let value = UInt64(text) else {
            throw AdminError(.badRequest, "InvalidRequest", "\(name) must be a non-negative integer")
        }
        return value
    }
}

extension Optional {
    /// `map` with an async transform.
    func asyncMap<T>(_ transform: (Wrapped) async throws -> T) async rethrows -> T? {
        guard let value = self else { return nil }
        return try await transform(value)
    }
}
