/// The exit codes of every cassnap executable (`cassnap`, `cassnap-agent`,
/// `cassnap-coordinator`), defined once and listed in the README ("Exit codes"). The numbers
/// follow sysexits.h where one fits, so systemd units and scripts can tell them apart.
package enum ExitStatus {
    package static let success: Int32 = 0
    /// The work ran and failed, or left something undone: a failed snapshot, `--once` with files
    /// not uploaded, restore or verify failures, records a catalog rebuild skipped.
    package static let failure: Int32 = 1
    /// No snapshot, node or object by that name or id.
    package static let notFound: Int32 = 3
    /// A snapshot that is partial (some nodes missing), or a verify that found only those.
    package static let partial: Int32 = 4
    /// A wrong command line: unknown flag, bad flag value, missing argument (EX_USAGE).
    package static let usage: Int32 = 64
    /// The coordinator does not answer (EX_UNAVAILABLE).
    package static let unavailable: Int32 = 69
    /// A valid configuration, but start-up failed: state database, store, host ID, listen address
    /// (EX_SOFTWARE). systemd restarts it.
    package static let cannotStart: Int32 = 70
    /// The token is missing or refused (EX_NOPERM).
    package static let unauthorized: Int32 = 77
    /// The configuration file or a setting is invalid; the message names the file and key
    /// (EX_CONFIG). systemd does not restart it (`RestartPreventExitStatus=78`).
    package static let configuration: Int32 = 78

    /// Every code with its meaning, in the README's order.
    package static let table: [(code: Int32, meaning: String)] = [
        (success, "ok"),
        (failure, "failed or incomplete (snapshot failed, files not uploaded, restore or verify failures)"),
        (notFound, "unknown snapshot, node or object"),
        (partial, "snapshot partial"),
        (usage, "bad command line (flag or value)"),
        (unavailable, "coordinator unreachable"),
        (cannotStart, "cannot start (state database, store, host ID, listen address)"),
        (unauthorized, "token missing or refused"),
        (configuration, "bad configuration file or setting"),
    ]

    /// One line for `--help`.
    package static var summary: String { table.map { "\($0.code) \($0.meaning)" }.joined(separator: ", ") }
}
