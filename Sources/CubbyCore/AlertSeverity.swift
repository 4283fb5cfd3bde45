/// How urgent an alert is; each on-call contact chooses the severities they are paged for.
public enum AlertSeverity: String, CaseIterable, Sendable, Codable, Comparable {
    case info
    case warning
    case critical

    /// A unit offline for this long is critical rather than a warning.
    public static let offlineCriticalAfterMs: Int64 = 60 * 60 * 1000

    /// The severity of an alert of `kind` that has been open for `openForMs`.
    ///
    /// Tamper and lockdown are critical; a lock fault and mains power are warnings; a unit offline is a warning that
    /// becomes critical after an hour. A broken journal hash chain (someone may have altered the unit) and a lockdown
    /// lifted at the console are critical; the other signs of a unit's trouble are warnings; the rest, information.
    public static func of(kind: String, openForMs: Int64) -> AlertSeverity {
        switch kind {
        case "tamper", "lockdown", "lockdown_break_glass", "edge.chain_broken": .critical
        case "unit_offline": openForMs >= offlineCriticalAfterMs ? .critical : .warning
        case "compartment_fault", "mains_power", "edge.sequence_gap", "edge.pickup_conflict", "edge.unknown_pickup",
            "pickup.disputed":
            .warning
        default: .info
        }
    }

    private var rank: Int {
        switch self {
        case .info: 0
        case .warning: 1
        case .critical: 2
        }
    }

    public static func < (a: AlertSeverity, b: AlertSeverity) -> Bool { a.rank < b.rank }

    /// The severities a contact takes when none are named.
    public static let defaultSet: [AlertSeverity] = [.critical, .warning]
}
