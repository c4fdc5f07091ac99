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

extension Request {
    /// The body decoded with the API's coding; any failure is a 400 that names the field.
    func decodeJSON<T: Decodable>(_ type: T.Type, limit: Int = 64 << 20) async throws -> T {
        var request = self
        let buffer: ByteBuffer
        do { buffer = try await request.collectBody(upTo: limit) } catch {
            throw APIError(
                .contentTooLarge, code: "body_too_large", message: "the body exceeds \(limit) bytes")
        }
        guard buffer.readableBytes > 0 else { throw APIError.invalidBody("a JSON body is required") }
        do {
            return try APICoding.decoder().decode(T.self, from: Data(buffer.readableBytesView))
        } catch let error as DecodingError {
            let field = fieldName(error)
            throw APIError(
                .badRequest, code: field.isEmpty ? "invalid_body" : "invalid_field", message: describe(error))
        }
    }
}
