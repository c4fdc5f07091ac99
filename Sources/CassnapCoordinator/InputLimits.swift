import CassnapCore
import Foundation

/// The ranges the coordinator accepts for every number or instant that becomes a time, checked
/// at the edge (API bodies, configuration) so that nothing reachable from input can trap a
/// conversion or store a date the coordinator could not read back. Documented in
/// coordinator/README.md ("Limits") and coordinator/openapi.yaml.
package enum InputLimits {
    /// How far ahead a snapshot may be scheduled (`at`, `delaySeconds`): one year.
    package static let maximumLeadSeconds: TimeInterval = 366 * 86_400
    /// A snapshot's deadline, seconds after its instant: more than 0, at most 7 days.
    package static let maximumDeadlineSeconds: TimeInterval = 7 * 86_400
    /// How far an instant an agent reports (its clock, upload and event times, when a snapshot
    /// was taken) may lie from the coordinator's clock: one year either way. Clock offsets far
    /// smaller than this still show in `cassnap nodes`; beyond it the field is refused.
    package static let maximumReportedSkewSeconds: TimeInterval = 366 * 86_400

    /// Nil when `seconds` is finite and in `(0, maximum]`, otherwise what is wrong.
    package static func problem(seconds: Double, maximum: TimeInterval) -> String? {
        guard seconds.isFinite, seconds > 0, seconds <= maximum else {
            return "\(seconds) is not between 0 (exclusive) and \(Int(maximum)) seconds"
        }
        return nil
    }

    /// Nil when an agent-reported instant is within the accepted skew of `now`.
    package static func problem(reported instant: Date, now: Date) -> String? {
        guard abs(instant.timeIntervalSince(now)) <= maximumReportedSkewSeconds else {
            return "\(InstantFormat.format(instant)) is more than a year from the coordinator's clock "
                + "(\(InstantFormat.format(now)))"
        }
        return nil
    }
}
