/// What `cassnap-agent run --once` did, printed at its end; `succeeded` sets the exit code.
package struct OnceSummary: Sendable, CustomStringConvertible {
    package var uploaded: Int
    package var uploadedBytes: Int
    package var alreadyStored: Int
    package var vanished: Int
    package var failed: [String]
    package var pending: [String]
    /// Live SSTable components whose transaction never committed during the run.
    package var incomplete: [String]

    package var succeeded: Bool { failed.isEmpty && pending.isEmpty && incomplete.isEmpty }

    package var description: String {
        var text =
            "uploaded \(uploaded) files (\(uploadedBytes) bytes), \(alreadyStored) already stored, "
            + "\(vanished) vanished before upload, \(failed.count) failed, \(pending.count) still pending, "
            + "\(incomplete.count) live files incomplete"
        for path in failed.prefix(20) { text += "\n  failed: \(path)" }
        for path in pending.prefix(20) { text += "\n  pending: \(path)" }
        for path in incomplete.prefix(20) { text += "\n  incomplete: \(path)" }
        return text
    }
}
