import CubbyCore
import Testing

@Suite("Reminders on a site's schedule, and quiet hours")
struct ReminderPlanTests {
    @Test(
        "quiet hours: written HH:MM-HH:MM, spanning midnight or not",
        arguments: [
            ("21:00-08:00", 21 * 60, true), ("21:00-08:00", 7 * 60 + 59, true), ("21:00-08:00", 8 * 60, false),
            ("21:00-08:00", 20 * 60 + 59, false), ("00:00-06:30", 0, true), ("00:00-06:30", 6 * 60 + 30, false),
            ("13:15-14:00", 13 * 60 + 30, true), ("13:15-14:00", 14 * 60, false),
        ])
    func quiet(_ text: String, _ minute: Int, _ inside: Bool) throws {
        let q = try #require(QuietHours(text: text))
        #expect(q.text == text)
        #expect(q.contains(minute: minute) == inside)
        #expect((q.minutesUntilEnd(from: minute) > 0) == inside)
    }

    @Test("minutes until quiet hours end")
    func untilEnd() throws {
        let q = QuietHours.standard
        #expect(q.minutesUntilEnd(from: 22 * 60) == 10 * 60)
        #expect(q.minutesUntilEnd(from: 7 * 60) == 60)
        #expect(q.minutesUntilEnd(from: 12 * 60) == 0)
    }

    @Test(
        "malformed quiet hours are refused",
        arguments: [
            "", "21:00", "21:00-21:00", "24:00-08:00", "21:60-08:00", "9:00-10:00", "21:00-08:00-09:00", "ab:cd-08:00",
            "２１:00-08:00",
        ])
    func malformed(_ text: String) {
        #expect(QuietHours(text: text) == nil)
    }

    @Test("the latest reminder that fell due is sent; earlier overdue ones are skipped; none just before expiry")
    func plan() {
        let h = Milliseconds.hour
        let deposit: Int64 = 1_000 * h
        let expiry = deposit + 168 * h
        let hours = [24, 72, 120]
        #expect(
            ReminderPlan.due(depositedAt: deposit, expiresAt: expiry, hours: hours, sent: [], now: deposit + 23 * h)
                == (nil, []))
        #expect(
            ReminderPlan.due(depositedAt: deposit, expiresAt: expiry, hours: hours, sent: [], now: deposit + 24 * h)
                == (24, []))
        #expect(
            ReminderPlan.due(depositedAt: deposit, expiresAt: expiry, hours: hours, sent: [24], now: deposit + 30 * h)
                == (nil, []))
        // The server was down from hour 23 to hour 100: only the 72-hour reminder goes out.
        #expect(
            ReminderPlan.due(depositedAt: deposit, expiresAt: expiry, hours: hours, sent: [], now: deposit + 100 * h)
                == (72, [24]))
        // Within the last hour before expiry: nothing is sent, what is due is skipped.
        let late = ReminderPlan.due(
            depositedAt: deposit, expiresAt: deposit + 121 * h, hours: hours, sent: [24, 72],
            now: deposit + 120 * h + h / 2)
        #expect(late.send == nil && late.skip == [120])
    }
}
