/// A site's quiet hours: a span of the day, in the site's time zone, when reminders are not sent by SMS. The
/// parcel-ready message, which carries the code, is never held back.
public struct QuietHours: Sendable, Equatable, Hashable {
    /// Minutes after midnight when the span begins, and when it ends (the end may be on the next day).
    public let start: Int
    public let end: Int

    /// The default of a new site: 21:00 to 08:00.
    public static let standard = QuietHours(text: "21:00-08:00")!

    /// Quiet hours written `HH:MM-HH:MM` (24-hour clock); nil when the text is not that or the span is empty.
    public init?(text: String) {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 2, let start = Self.minute(parts[0]), let end = Self.minute(parts[1]), start != end
        else { return nil }
        self.start = start
        self.end = end
    }

    static func minute(_ text: Substring) -> Int? {
        let hm = text.split(separator: ":", omittingEmptySubsequences: false)
        guard hm.count == 2, hm[0].count == 2, hm[1].count == 2, hm.allSatisfy({ $0.allSatisfy(\.isASCII) }),
            let h = Int(hm[0]), let m = Int(hm[1]), (0..<24).contains(h), (0..<60).contains(m)
        else { return nil }
        return h * 60 + m
    }

    /// The span as written.
    public var text: String {
        func two(_ n: Int) -> String { n < 10 ? "0\(n)" : "\(n)" }
        return "\(two(start / 60)):\(two(start % 60))-\(two(end / 60)):\(two(end % 60))"
    }

    /// Whether the minute of the day (0..<1440) is within the span.
    public func contains(minute: Int) -> Bool {
        start < end ? (start <= minute && minute < end) : (minute >= start || minute < end)
    }

    /// Minutes from `minute` until the span ends; 0 when `minute` is outside it.
    public func minutesUntilEnd(from minute: Int) -> Int {
        guard contains(minute: minute) else { return 0 }
        return (end - minute + 1440) % 1440
    }
}

/// Which of a site's reminders a waiting parcel is due: the schedule is hours after the deposit.
public enum ReminderPlan {
    /// A reminder is not sent within this long of the parcel's expiry: the expiry notice follows.
    public static let quietBeforeExpiry = Milliseconds.hour

    /// The reminder to send now, if any, and the overdue ones to skip (when several fell due while nothing ran,
    /// only the latest is sent). `sent` holds the hours already sent or skipped.
    public static func due(
        depositedAt: Int64, expiresAt: Int64?, hours: [Int], sent: Set<Int>, now: Int64
    ) -> (send: Int?, skip: [Int]) {
        let passed = hours.filter { !sent.contains($0) && depositedAt + Int64($0) * Milliseconds.hour <= now }
            .sorted()
        guard let latest = passed.last else { return (nil, []) }
        if let expiresAt, now >= expiresAt - quietBeforeExpiry { return (nil, passed) }
        return (latest, Array(passed.dropLast()))
    }
}
