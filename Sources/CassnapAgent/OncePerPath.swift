/// Remembers which paths a message was already logged for, so a rescan or a reconcile does not
/// repeat it. Capped: a tree of a million odd entries must not grow the agent's memory, so past
/// `capacity` paths nothing more is remembered and `admit` says so once.
struct OncePerPath: Sendable {
    enum Admission: Equatable {
        /// First time for this path: log it.
        case first
        /// Logged before, or the cap was already announced: stay quiet.
        case seen
        /// The cap is reached with this path: log that no more are logged one by one.
        case capacityReached
    }

    let capacity: Int
    private var paths: Set<String> = []
    private var full = false

    init(capacity: Int) { self.capacity = capacity }

    mutating func admit(_ path: String) -> Admission {
        if paths.contains(path) || full { return .seen }
        guard paths.count < capacity else {
            full = true
            return .capacityReached
        }
        paths.insert(path)
        return .first
    }
}
