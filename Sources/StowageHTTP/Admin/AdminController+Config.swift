import FoundationEssentials
import Hummingbird
import NIOCore
import StowageCore
import StowageStorage

/// Switches (`/_admin/config`, logged as history) and injected faults (`/_admin/faults`).
extension AdminController {
    struct SwitchesView: Encodable {
        var referrers: Bool
        var deletes: Bool
        var warning: String?
        var rateLimit: Int?
        var chunkMinLength: Int64?
        var summary: String

        init(_ switches: Switches) {
            referrers = switches.referrers
            deletes = switches.deletes
            warning = switches.warning
            rateLimit = switches.rateLimit
            chunkMinLength = switches.chunkMinLength
            summary = switches.summary
        }
    }

    /// `GET /_admin/config`: the switches as they stand.
    func config() throws -> Response {
        try JSONResponse.make(SwitchesView(store.state.switches ?? Switches()))
    }

    /// `POST /_admin/config`: changes the switches named in the body (`null` clears a value), as
    /// one logged `configure` command decided on the switches it replaces.
    func configure(_ request: Request) async throws -> Response {
        let body = try await jsonObject(
            request, example: #"{"referrers": false, "warning": "deprecated", "rateLimit": 5}"#)
        let change = try Self.switchesChange(body)
        let written = try await store.submit(scope: .default) { state in
            var switches = state.switches ?? Switches()
            change(&switches)
            return [.configure(switches)]
        }
        struct Body: Encodable {
            var sequence: UInt64
            var switches: SwitchesView
        }
        return try JSONResponse.make(
            Body(
                sequence: written.envelopes.last?.sequence ?? store.sequence,
                switches: SwitchesView(written.after.switches ?? Switches())))
    }

    /// The change a `POST /_admin/config` body asks for, checked before anything is written.
    static func switchesChange(_ body: [String: JSONValue]) throws -> @Sendable (inout Switches) -> Void {
        let known: Set = ["referrers", "deletes", "warning", "rateLimit", "chunkMinLength"]
        if let unknown = body.keys.sorted().first(where: { !known.contains($0) }) {
            throw AdminError(
                .badRequest, "InvalidRequest",
                "'\(unknown)' is not a switch; the switches are \(known.sorted().joined(separator: ", "))")
        }
        func flag(_ key: String) throws -> Bool? {
            guard let value = body[key] else { return nil }
            guard let flag = value.boolValue else {
                throw AdminError(.badRequest, "InvalidRequest", "\(key) must be true or false")
            }
            return flag
        }
        func positive(_ key: String) throws -> Int?? {
            guard let value = body[key] else { return nil }
            if value.isNull { return .some(nil) }
            guard let number = value.intValue, number > 0 else {
                throw AdminError(
                    .badRequest, "InvalidRequest", "\(key) must be a positive integer, or null to clear it")
            }
            return .some(number)
        }
        let referrers = try flag("referrers")
        let deletes = try flag("deletes")
        let rateLimit = try positive("rateLimit")
        let chunkMinLength = try positive("chunkMinLength")
        var given: String??
        if let value = body["warning"] {
            if value.isNull {
                given = .some(nil)
            } else if let text = value.stringValue, !text.isEmpty, text.count <= 512 {
                given = .some(text)
            } else {
                throw AdminError(
                    .badRequest, "InvalidRequest", "warning must be a text of 1 to 512 characters, or null")
            }
        }
        let warning = given
        return { switches in
            if let referrers { switches.referrers = referrers }
            if let deletes { switches.deletes = deletes }
            if let rateLimit { switches.rateLimit = rateLimit }
            if let chunkMinLength { switches.chunkMinLength = chunkMinLength.map(Int64.init) }
            if let warning { switches.warning = warning }
        }
    }

    // MARK: Faults

    struct FaultView: Encodable {
        var id: Int
        var match: EdgeControls.Fault.Match
        var answer: EdgeControls.Fault.Answer
        var count: Int?
        var probability: Double?
        var seed: UInt64?
        var injected: Int
        var summary: String

        init(_ fault: EdgeControls.Fault) {
            id = fault.id
            match = fault.match
            answer = fault.answer
            count = fault.remaining
            probability = fault.probability
            seed = fault.seed
            injected = fault.injected
            summary = fault.answerSummary
        }
    }

    /// `GET /_admin/faults`: the faults waiting to be injected.
    func listFaults() throws -> Response {
        try JSONResponse.make(["faults": edge.list.map(FaultView.init)])
    }

    /// `POST /_admin/faults`: a fault for the requests that match, the next `count` of them or
    /// each with a seeded `probability`.
    func addFault(_ request: Request) async throws -> Response {
        struct Input: Decodable {
            var match: EdgeControls.Fault.Match?
            var answer: EdgeControls.Fault.Answer
            var count: Int?
            var probability: Double?
            var seed: UInt64?
        }
        let input = try await decode(
            Input.self, request,
            example: #"{"match": {"method": "PATCH", "route": "upload"}, "answer": {"status": 503}, "count": 1}"#)
        if let code = input.answer.code, OCIErrorCode(rawValue: code) == nil, ECRErrorType(rawValue: code) == nil {
            throw AdminError(
                .badRequest, "InvalidRequest",
                "code '\(code)' is neither an OCI error code (UNAVAILABLE, TOOMANYREQUESTS, ...) nor an ECR exception (ServerException, ThrottlingException, ...)"
            )
        }
        if input.count == nil && input.probability == nil {
            throw AdminError(
                .badRequest, "InvalidRequest", "give count (the next N matching requests) or probability (with a seed)")
        }
        let fault = EdgeControls.Fault(
            id: 0, match: input.match ?? .init(), answer: input.answer, remaining: input.count,
            probability: input.probability, seed: input.seed)
        let added: EdgeControls.Fault
        do { added = try edge.add(fault) } catch { throw AdminError(.badRequest, "InvalidRequest", error.message) }
        return try JSONResponse.make(FaultView(added), status: .created)
    }

    /// `DELETE /_admin/faults[?id=]`: removes one fault, or all.
    func removeFaults(_ request: Request) throws -> Response {
        var id: Int?
        if let text = request.uri.queryParameters["id"] {
            guard let number = Int(text) else { throw AdminError(.badRequest, "InvalidRequest", "id must be a number") }
            id = number
        }
        let removed = edge.remove(id: id)
        if id != nil && removed == 0 { throw AdminError(.notFound, "NotFound", "there is no fault \(id!)") }
        return try JSONResponse.make(["removed": removed])
    }

    /// A request body that must be a JSON object.
    func jsonObject(_ request: Request, example: String) async throws -> [String: JSONValue] {
        var request = request
        let buffer = try await request.collectBody(upTo: 1 << 20)
        guard let object = (try? JSONValue.parse(Array(buffer.readableBytesView)))?.objectValue else {
            throw AdminError(.badRequest, "InvalidRequest", "expected a JSON object like \(example)")
        }
        return object
    }
}
