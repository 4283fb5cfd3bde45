extension StringProtocol {
    /// The text without the white space (spaces, tabs, line breaks: Unicode White_Space) around it.
    public func trimmingWhitespace() -> String {
        guard let first = firstIndex(where: { !$0.isWhitespace }), let last = lastIndex(where: { !$0.isWhitespace })
        else { return "" }
        return String(self[first...last])
    }
}

extension Double {
    /// The value with exactly `places` digits after the point, rounded half away from zero ("3.84" for
    /// 3.8371 at 2 places), as `%.Nf` would print it for the values reports show.
    public func fixed(_ places: Int) -> String {
        guard isFinite else { return description }
        var scale = 1.0
        for _ in 0..<max(0, places) { scale *= 10 }
        let scaled = (abs(self) * scale).rounded()
        guard scaled < 9.0e18 else { return description }
        let units = Int64(scaled)
        let whole = units / Int64(scale)
        let fraction = units % Int64(scale)
        var text = (self < 0 && units != 0 ? "-" : "") + String(whole)
        if places > 0 {
            let digits = String(fraction)
            text += "." + String(repeating: "0", count: places - digits.count) + digits
        }
        return text
    }
}
