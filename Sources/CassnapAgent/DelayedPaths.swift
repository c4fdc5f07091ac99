/// Paths to queue again at a time (a young file, a retry's backoff), earliest first: a binary
/// min-heap, so a backlog of retries during an outage costs O(log n) per path.
struct DelayedPaths {
    private var heap: [(due: ContinuousClock.Instant, path: String)] = []

    var count: Int { heap.count }
    var earliest: ContinuousClock.Instant? { heap.first?.due }

    mutating func insert(_ path: String, due: ContinuousClock.Instant) {
        heap.append((due, path))
        var child = heap.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard heap[child].due < heap[parent].due else { break }
            heap.swapAt(child, parent)
            child = parent
        }
    }

    /// Removes and answers the paths due at `now`, earliest first.
    mutating func popDue(at now: ContinuousClock.Instant) -> [String] {
        var due: [String] = []
        while let first = heap.first, first.due <= now {
            due.append(first.path)
            heap.swapAt(0, heap.count - 1)
            heap.removeLast()
            siftDown()
        }
        return due
    }

    private mutating func siftDown() {
        var parent = 0
        while true {
            let left = 2 * parent + 1
            let right = left + 1
            var smallest = parent
            if left < heap.count && heap[left].due < heap[smallest].due { smallest = left }
            if right < heap.count && heap[right].due < heap[smallest].due { smallest = right }
            guard smallest != parent else { return }
            heap.swapAt(parent, smallest)
            parent = smallest
        }
    }
}
