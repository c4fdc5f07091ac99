import Foundation
import Hummingbird

/// One route as the API document names it: `GET /v1/snapshots/{id}`.
package struct RouteDescription: Hashable, Sendable, Comparable, CustomStringConvertible {
    package var method: String
    package var path: String

    package init(method: String, path: String) {
        self.method = method
        self.path = path
    }

    package var description: String { "\(method) \(path)" }
    package static func < (a: Self, b: Self) -> Bool { (a.path, a.method) < (b.path, b.method) }
}

/// Registers routes on a router group and remembers each one, so a test can compare what the
/// server serves with coordinator/openapi.yaml.
package final class RouteBook: @unchecked Sendable {
    private let lock = NSLock()
    private var entries: [RouteDescription] = []

    package init() {}

    package var routes: [RouteDescription] { lock.withLock { entries.sorted() } }

    fileprivate func add(_ route: RouteDescription) { lock.withLock { entries.append(route) } }
}

struct RouteRegistrar<Context: RequestContext> {
    let group: RouterGroup<Context>
    let prefix: String
    let book: RouteBook

    func on(
        _ method: HTTPRequest.Method, _ path: String,
        use handler: @Sendable @escaping (Request, Context) async throws -> some ResponseGenerator
    ) {
        group.on(RouterPath(path), method: method, use: handler)
        book.add(RouteDescription(method: method.rawValue, path: prefix + path))
    }
}
