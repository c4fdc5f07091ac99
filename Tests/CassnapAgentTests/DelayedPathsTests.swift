import Testing

@testable import CassnapAgent

/// Paths queued again after a delay come back in due order, and an earlier delay queued after
/// a later one is not held behind it.
@Suite struct DelayedPathsTests {
    @Test func popsInDueOrderWhateverTheInsertOrder() {
        let start = ContinuousClock.now
        var delayed = DelayedPaths()
        let offsets = [7, 3, 9, 1, 5, 3, 8, 2, 6, 4, 0]
        for (i, offset) in offsets.enumerated() { delayed.insert("p\(i)", due: start + .seconds(offset)) }
        #expect(delayed.count == offsets.count)
        #expect(delayed.earliest == start)
        #expect(delayed.popDue(at: start - .seconds(1)).isEmpty)
        let due = delayed.popDue(at: start + .seconds(3))
        #expect(Set(due) == ["p10", "p3", "p7", "p1", "p5"])
        #expect(due.first == "p10" && due.last.map { ["p1", "p5"].contains($0) } == true)
        #expect(delayed.count == offsets.count - 5)
        let rest = delayed.popDue(at: start + .seconds(100))
        #expect(rest == ["p9", "p4", "p8", "p0", "p6", "p2"])
        #expect(delayed.earliest == nil && delayed.count == 0)
    }

    @Test func anEarlierDelayWakesTheTimer() async throws {
        let queue = UploadQueue(capacity: 16) { _, _ in [] }
        let started = ContinuousClock.now
        let handed = try await withThrowingTaskGroup(of: String?.self) { group in
            group.addTask {
                await queue.runDelays()
                return nil
            }
            await queue.add("/late", after: .seconds(60))
            try await Task.sleep(for: .milliseconds(100))  // the timer now sleeps for the late one
            await queue.add("/soon", after: .milliseconds(50))
            let path = await queue.next()
            await queue.close()
            try await group.waitForAll()
            return path
        }
        #expect(handed == "/soon")
        #expect(ContinuousClock.now - started < .seconds(10), "the early path waited behind the late one")
    }

    @Test func theTimerEndsWhenTheQueueDrains() async {
        let queue = UploadQueue(capacity: 16) { _, _ in [] }
        await queue.add("/retry", after: .milliseconds(20))
        await queue.finishWhenDrained()
        await withDiscardingTaskGroup { group in
            group.addTask { await queue.runDelays() }
            group.addTask {
                while let path = await queue.next() { await queue.done(path) }
            }
        }
        #expect(await queue.count == 0)
    }
}
