import Hummingbird

/// Who a bearer token belongs to: one token for all agents, one for admins (the CLI).
package enum APIRole: String, Sendable {
    case agent, admin
}

/// Checks `Authorization: Bearer <token>` on every request of a route group: no or unknown
/// token → 401, the other role's token → 403. Tokens are compared in constant time and never
/// logged or echoed.
struct BearerAuthMiddleware<Context: RequestContext>: RouterMiddleware {
    let required: APIRole
    let tokens: APITokens

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response)
        async throws -> Response
    {
        guard let header = request.headers[.authorization], header.count > 7,
            header.prefix(7).lowercased() == "bearer "
        else { throw APIError.unauthorized }
        switch tokens.role(of: Array(header.utf8.dropFirst(7))) {
        case nil: throw APIError.unauthorized
        case required?: return try await next(request, context)
        case _?: throw APIError.forbidden(required.rawValue)
        }
    }
}

/// The two tokens, as bytes.
package struct APITokens: Sendable {
    private let agent: [UInt8]
    private let admin: [UInt8]

    package init(agent: String, admin: String) {
        self.agent = Array(agent.utf8)
        self.admin = Array(admin.utf8)
    }

    /// Compares against both tokens every time, so timing reveals neither.
    func role(of presented: [UInt8]) -> APIRole? {
        let isAgent = Self.constantTimeEquals(presented, agent)
        let isAdmin = Self.constantTimeEquals(presented, admin)
        if isAdmin { return .admin }
        if isAgent { return .agent }
        return nil
    }

    /// Time depends only on the presented length, never on where the bytes differ.
    static func constantTimeEquals(_ presented: [UInt8], _ expected: [UInt8]) -> Bool {
        guard !expected.isEmpty else { return false }
        var difference = UInt8(truncatingIfNeeded: presented.count ^ expected.count)
        for i in 0..<presented.count {
            difference |= presented[i] ^ expected[i % expected.count]
        }
        return difference == 0 && presented.count == expected.count
    }
}
