import CassnapAPI
import CassnapCoordinator
import Foundation
import Testing

/// Issue 11/12: a long-polling agent is woken by a new command, not by a 100 ms timer.
@Suite struct CommandSignalTests {
    @Test func aWaiterWakesOnRingAndOnCancellationLongBeforeItsDeadline() async throws {
        let signal = CommandSignal()
        let far = ContinuousClock.now + .seconds(3600)
        let seen = signal.generation
        let woken = Task {
            await signal.wait(past: seen, until: far)
            return ContinuousClock.now
        }
        try await Task.sleep(for: .milliseconds(50))
        signal.ring()
        #expect(await woken.value < far, "woken by the ring")
        #expect(signal.generation == seen + 1)

        // A ring that came before the wait: it returns at once.
        await signal.wait(past: seen, until: far)

        let cancelled = Task { await signal.wait(past: signal.generation, until: far) }
        cancelled.cancel()
        await cancelled.value
    }

    /// Through the API: an agent long-polling for 25 s gets a snapshot's command as soon as it
    /// is created, and the answer comes well inside its wait.
    @Test func aLongPollAnswersWhenASnapshotIsCreated() async throws {
        try await InProcessCoordinator.with { coordinator, store in
            let node = try await SimulatedNode.joined(1, to: coordinator, store: store)[0]
            let started = ContinuousClock.now
            async let polled = node.client.commands(node.host, wait: 25)
            try await Task.sleep(for: .milliseconds(300))
            _ = try await coordinator.admin.createSnapshot(.init(delaySeconds: 5, deadlineSeconds: 30))
            let commands = try await polled
            #expect(commands.count == 1)
            #expect(ContinuousClock.now - started < .seconds(25), "answered before the wait ran out")
        }
    }
}
