import FoundationEssentials
import StowageCore
import StowageStorage
import Synchronization

/// What stands between a request and the registry when a test asks for it: the rate limit of the
/// ``Switches`` and the faults injected through `/_admin/faults`. One per server, shared by `/v2`
/// and the ECR API.
final class EdgeControls: Sendable {
    /// A request as a fault matches it.
    struct Request: Sendable {
        var face: Face
        var method: String
        /// The OCI route kind (`manifest`, `blob`, `upload`, `uploads`, `tags`, ...) or the ECR operation.
        var route: String
        var repository: String?
        var account: String
        var upload: UploadID?
        /// The request in a line, for the log: `PATCH /v2/team/app/blobs/uploads/0b1c...`.
        var line: String

        enum Face: String, Sendable, Codable { case oci, ecr }
    }

    /// One fault: which requests it answers, with what, how many times or how often.
    struct Fault: Sendable, Codable, Equatable {
        struct Match: Sendable, Codable, Equatable {
            /// `oci` or `ecr`; absent: both.
            var face: Request.Face?
            var method: String?
            var route: String?
            var repository: String?
            var account: String?
        }

        struct Answer: Sendable, Codable, Equatable {
            /// The status to answer with; absent with a delay: the request goes on after it.
            var status: Int?
            /// The OCI error code (`/v2`) or the ECR `__type`; a fitting one when absent.
            var code: String?
            var message: String?
            /// Milliseconds to wait before answering (or before the request goes on).
            var delay: Int?
            /// Close the connection without an answer.
            var drop: Bool?
        }

        var id: Int
        var match: Match
        var answer: Answer
        /// Answer this many more matching requests, then stop.
        var remaining: Int?
        /// Answer each matching request with this probability (seeded: the same seed, the same choices).
        var probability: Double?
        var seed: UInt64?
        var injected: Int = 0
        var state: UInt64 = 0

        func matches(_ request: Request) -> Bool {
            (match.face.map { $0 == request.face } ?? true)
                && (match.method.map { $0.uppercased() == request.method.uppercased() } ?? true)
                && (match.route.map { $0 == request.route } ?? true)
                && (match.repository.map { $0 == request.repository } ?? true)
                && (match.account.map { $0 == request.account } ?? true)
        }
    }

    /// Why a fault was refused when it was added.
    struct Invalid: Error {
        var message: String
    }

    private struct Bucket {
        var tokens: Double = 0
        var rate = 0
        var last = ContinuousClock.now
    }

    private let bucket = Mutex(Bucket())
    private let faults = Mutex<(next: Int, list: [Fault])>((1, []))

    // MARK: Rate limit

    /// Takes a token for a request under a limit of `rate` per second; `nil` when it may go on,
    /// else the seconds to wait.
    func admit(rate: Int?) -> Int? {
        guard let rate, rate > 0 else { return nil }
        return bucket.withLock { bucket in
            let now = ContinuousClock.now
            if bucket.rate != rate {
                bucket = Bucket(tokens: Double(rate), rate: rate, last: now)
            }
            let elapsed = now - bucket.last
            bucket.tokens = min(
                Double(rate),
                bucket.tokens + Double(rate)
                    * (Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18))
            bucket.last = now
            guard bucket.tokens >= 1 else { return max(1, Int(((1 - bucket.tokens) / Double(rate)).rounded(.up))) }
            bucket.tokens -= 1
            return nil
        }
    }

    // MARK: Faults

    /// Adds a fault; returns it with its id.
    func add(_ fault: Fault) throws(Invalid) -> Fault {
        if let status = fault.answer.status, !(100...599).contains(status) {
            throw Invalid(message: "status must be 100...599, not \(status)")
        }
        if fault.answer.status == nil && fault.answer.delay == nil && fault.answer.drop != true {
            throw Invalid(message: "a fault answers with a status, a delay or a dropped connection; give one")
        }
        if let probability = fault.probability, !(0...1).contains(probability) {
            throw Invalid(message: "probability must be within 0...1, not \(probability)")
        }
        if let remaining = fault.remaining, remaining < 1 {
            throw Invalid(message: "count must be at least 1")
        }
        if let delay = fault.answer.delay, !(0...600_000).contains(delay) {
            throw Invalid(message: "delay must be 0...600000 milliseconds")
        }
        return faults.withLock { faults in
            var added = fault
            added.id = faults.next
            added.state = fault.seed ?? UInt64(faults.next)
            faults.next += 1
            faults.list.append(added)
            return added
        }
    }

    var list: [Fault] { faults.withLock { $0.list } }

    /// Removes one fault, or all; returns how many went.
    func remove(id: Int?) -> Int {
        faults.withLock { faults in
            let before = faults.list.count
            faults.list.removeAll { id == nil || $0.id == id }
            return before - faults.list.count
        }
    }

    /// The fault that answers `request`, if one does: the first that matches and (with a
    /// probability) draws it. Counts it, and drops a fault whose count is spent.
    func fault(for request: Request) -> Fault? {
        faults.withLock { faults in
            for index in faults.list.indices where faults.list[index].matches(request) {
                if let probability = faults.list[index].probability {
                    // SplitMix64: deterministic per seed.
                    faults.list[index].state &+= 0x9E37_79B9_7F4A_7C15
                    var z = faults.list[index].state
                    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
                    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
                    z ^= z >> 31
                    guard Double(z >> 11) / Double(1 << 53) < probability else { continue }
                }
                faults.list[index].injected += 1
                let chosen = faults.list[index]
                if let remaining = chosen.remaining {
                    if remaining <= 1 {
                        faults.list.remove(at: index)
                    } else {
                        faults.list[index].remaining = remaining - 1
                    }
                }
                return chosen
            }
            return nil
        }
    }
}

extension EdgeControls.Fault {
    /// The answer in a line, for the log: `503 UNAVAILABLE after 200 ms`, `connection dropped`.
    var answerSummary: String {
        var parts: [String] = []
        if answer.drop == true { parts.append("connection dropped") }
        if let status = answer.status, answer.drop != true {
            parts.append("\(status)" + (answer.code.map { " \($0)" } ?? ""))
        }
        if let delay = answer.delay {
            parts.append(answer.status == nil && answer.drop != true ? "delayed \(delay) ms" : "after \(delay) ms")
        }
        return "fault \(id): " + parts.joined(separator: " ")
    }
}

/// The connection was closed on purpose (an injected fault): there is nobody left to answer.
struct DroppedConnection: Error {}

extension EdgeControls {
    /// The fault that answers `request` with a status, after its delay; `nil` when the request
    /// goes on (no fault, or one that only delays it). Every fault is logged (`injectFault`) before
    /// it acts; a `drop` closes the connection and throws ``DroppedConnection``.
    func interpose(_ request: Request, store: RegistryStore, scope: Scope) async throws -> Fault? {
        guard !store.configuration.readOnly, let fault = fault(for: request)
        else { return nil }
        _ = try? await store.submit(
            .injectFault(
                upload: request.upload, repository: request.repository.flatMap(RepositoryName.init),
                request: request.line, answer: fault.answerSummary),
            scope: scope)
        if let delay = fault.answer.delay { try await Task.sleep(for: .milliseconds(delay)) }
        if fault.answer.drop == true {
            SendfileHandler.current?.drop()
            throw DroppedConnection()
        }
        return fault.answer.status == nil ? nil : fault
    }
}
