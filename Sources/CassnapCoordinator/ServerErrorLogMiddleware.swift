import Hummingbird
import Logging

/// Logs every answer of 500 or above at warning, with the route and the error, so a failing
/// request shows at the default log level; 4xx answers are the client's mistake and stay
/// quiet. Errors that are not API errors never leave as an empty body.
struct ServerErrorLogMiddleware<Context: RequestContext>: RouterMiddleware {
    let logger: Logger

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response)
        async throws -> Response
    {
        do {
            let response = try await next(request, context)
            if response.status.code >= 500 { log(request, status: response.status.code, error: nil) }
            return response
        } catch let error as any HTTPResponseError {
            if error.status.code >= 500 { log(request, status: error.status.code, error: error) }
            throw error
        } catch {
            // Anything else is a bug or a failing dependency (SQLite, disk): logged here, and
            // answered as a JSON error instead of Hummingbird's empty 500.
            log(request, status: 500, error: error)
            throw APIError(
                .internalServerError, code: "internal",
                message: "the coordinator failed to answer; its log has the cause")
        }
    }

    private func log(_ request: Request, status: Int, error: (any Error)?) {
        var metadata: Logger.Metadata = [
            "http.method": "\(request.method)", "http.path": "\(request.uri.path)",
            "http.status": "\(status)",
        ]
        if let error { metadata["error.message"] = "\(error)" }
        logger.warning("Request failed on the server", metadata: metadata)
    }
}
