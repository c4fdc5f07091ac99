import CassnapAPI
import Foundation
import Hummingbird

/// An error the API answers with: a status and an `APIErrorBody` whose message names the
/// field or id at fault. The one place where errors become HTTP statuses.
package struct APIError: HTTPResponseError, CustomStringConvertible {
    package var status: HTTPResponse.Status
    package var code: String
    package var message: String

    package init(_ status: HTTPResponse.Status, code: String, message: String) {
        self.status = status
        self.code = code
        self.message = message
    }

    package var description: String { "\(status.code) \(code): \(message)" }

    package func response(from request: Request, context: some RequestContext) throws -> Response {
        jsonResponse(APIErrorBody(code: code, message: message), status: status)
    }

    static func invalidField(_ field: String, _ message: String) -> APIError {
        APIError(.badRequest, code: "invalid_field", message: "\(field): \(message)")
    }

    static func invalidBody(_ message: String) -> APIError {
        APIError(.badRequest, code: "invalid_body", message: message)
    }

    static func notFound(_ what: String, _ ref: String) -> APIError {
        APIError(.notFound, code: "not_found", message: "no \(what) \(ref.debugDescription)")
    }

    static func conflict(_ code: String, _ message: String) -> APIError {
        APIError(.conflict, code: code, message: message)
    }

    static let unauthorized = APIError(
        .unauthorized, code: "unauthorized", message: "missing or unknown bearer token")

    static func forbidden(_ role: String) -> APIError {
        APIError(.forbidden, code: "forbidden", message: "this endpoint needs the \(role) token")
    }

    static func unavailable(_ message: String) -> APIError {
        APIError(.serviceUnavailable, code: "unavailable", message: message)
    }
}

extension APIError {
    /// The one mapping of a service's refusal to an HTTP status.
    init(_ error: ServiceError) {
        switch error {
        case .invalidField: self.init(.badRequest, code: "invalid_field", message: error.message)
        case .notFound: self.init(.notFound, code: "not_found", message: error.message)
        case .conflict(let code, _): self.init(.conflict, code: code, message: error.message)
        case .unavailable: self.init(.serviceUnavailable, code: "unavailable", message: error.message)
        }
    }
}

/// Services throw `ServiceError`; Hummingbird renders it through the status chosen above.
extension ServiceError: HTTPResponseError {
    package var status: HTTPResponse.Status { APIError(self).status }
    package func response(from request: Request, context: some RequestContext) throws -> Response {
        try APIError(self).response(from: request, context: context)
    }
}

/// A JSON body with the API's coding.
func jsonResponse<T: Encodable>(_ value: T, status: HTTPResponse.Status = .ok) -> Response {
    let data = (try? APICoding.encoder().encode(value)) ?? Data("{}".utf8)
    return Response(
        status: status, headers: [.contentType: "application/json"],
        body: ResponseBody(byteBuffer: ByteBuffer(bytes: data)))
}

/// Wraps an encodable value so handlers can return it.
struct JSONReply<T: Encodable & Sendable>: ResponseGenerator {
    var value: T
    var status: HTTPResponse.Status = .ok

    init(_ value: T, status: HTTPResponse.Status = .ok) {
        self.value = value
        self.status = status
    }

    func response(from request: Request, context: some RequestContext) throws -> Response {
        jsonResponse(value, status: status)
    }
}

/// How large a JSON body may be, by route family. An agent sends at most 1,000 reports a
/// batch (about 0.5 KB each); the limits leave eight times that room.
package enum BodyLimit {
    /// Agent reports: registration, heartbeats, file, SSTable-event and manifest batches.
    package static let agentReport = 4 << 20
    /// Admin requests (a snapshot to create).
    package static let admin = 1 << 20
    /// Items in one report batch.
    package static let batchItems = 10_000
    /// Bodies buffered and decoded at once across all connections.
    package static let concurrentBodies = 4
    /// How long a body may take to arrive once its request has a permit.
    package static let bodySeconds = 30
}

extension Request {
    /// The body decoded with the API's coding, holding a permit of `gate` while the body is
    /// buffered and decoded; any failure is a 400 that names the field, a body over `limit`
    /// a 413.
    func decodeJSON<T: Decodable & Sendable>(_ type: T.Type, limit: Int, gate: BodyGate) async throws -> T {
        let request = self
        return try await gate.withPermit {
            let buffer = try await collectBodyWithDeadline(request, limit: limit)
            guard buffer.readableBytes > 0 else { throw APIError.invalidBody("a JSON body is required") }
            do {
                return try APICoding.decoder().decode(T.self, from: Data(buffer.readableBytesView))
            } catch let error as DecodingError {
                let field = fieldName(error)
                throw APIError(
                    .badRequest, code: field.isEmpty ? "invalid_body" : "invalid_field",
                    message: describe(error))
            }
        }
    }
}

/// A permit is held while the body arrives, so a body that trickles in must not hold it
/// forever: the whole body has `BodyLimit.bodySeconds` to arrive, then the request gets a 408.
private func collectBodyWithDeadline(_ request: Request, limit: Int) async throws -> ByteBuffer {
    try await withThrowingTaskGroup(of: ByteBuffer?.self) { group in
        group.addTask {
            var request = request
            do { return try await request.collectBody(upTo: limit) } catch is CancellationError {
                return nil
            } catch {
                throw APIError(
                    .contentTooLarge, code: "body_too_large", message: "the body exceeds \(limit) bytes")
            }
        }
        group.addTask {
            try? await Task.sleep(for: .seconds(BodyLimit.bodySeconds))
            return nil
        }
        defer { group.cancelAll() }
        guard let first = try await group.next(), let buffer = first else {
            throw APIError(
                .requestTimeout, code: "body_timeout",
                message: "the body did not arrive within \(BodyLimit.bodySeconds) s")
        }
        return buffer
    }
}
