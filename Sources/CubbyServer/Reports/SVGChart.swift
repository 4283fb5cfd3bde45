import Foundation

/// Bar and line charts drawn as SVG on the server, for pages that carry no script. Each chart is an image with an
/// accessible name (its `<title>`, named by `aria-labelledby`) and a description; the page puts a table of the same
/// numbers beside it for screen readers. The drawing scales to the width of its container (`viewBox`).
struct SVGChart: Sendable {
    enum Kind: Sendable { case bars, line }

    /// Unique within the page: the ids of the title and description derive from it.
    var id: String
    var title: String
    var summary: String
    var kind: Kind
    /// One label per value, along the horizontal axis.
    var labels: [String]
    var values: [Double]
    /// What the vertical axis counts, e.g. "parcels".
    var yLabel: String

    // The drawing area, in viewBox units.
    static let width = 640.0
    static let height = 300.0
    static let left = 52.0
    static let right = 12.0
    static let top = 16.0
    static let bottom = 64.0
    /// At most this many labels along the horizontal axis; the others are left out (the table has them all).
    static let maxLabels = 10
    /// Dark enough on white for a graphic (WCAG 1.4.11 asks 3:1; this is above 7:1).
    static let ink = "#1b1f24"
    static let fill = "#0b5cad"
    static let grid = "#c9d0d9"

    var plotWidth: Double { Self.width - Self.left - Self.right }
    var plotHeight: Double { Self.height - Self.top - Self.bottom }

    /// The top of the vertical axis and the step between its ticks: round numbers, at most 5 steps, and whole
    /// numbers when the values are counts.
    static func scale(max value: Double) -> (top: Double, step: Double) {
        guard value.isFinite, value > 0 else { return (1, 1) }
        let raw = value / 5
        let magnitude = pow(10, floor(log10(raw)))
        var step = magnitude
        for m in [1.0, 2, 5, 10] where m * magnitude >= raw {
            step = m * magnitude
            break
        }
        step = max(step, 1)
        return (ceil(value / step) * step, step)
    }

    /// A number as the axis shows it: whole numbers without a decimal point.
    static func number(_ v: Double) -> String {
        v == v.rounded() && abs(v) < 1e15 ? String(Int64(v)) : String(format: "%.1f", v)
    }

    /// Text made safe inside an XML element or attribute.
    static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for ch in text.unicodeScalars {
            switch ch {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&apos;"
            // Characters XML 1.0 does not allow are dropped.
            case _ where ch.value < 0x20 && ch != "\t" && ch != "\n" && ch != "\r": continue
            case "\u{FFFE}", "\u{FFFF}": continue
            default: out.unicodeScalars.append(ch)
            }
        }
        return out
    }

    static func coordinate(_ v: Double) -> String { String(format: "%.1f", v) }

    /// The y coordinate of `value` on a scale whose top is `top`.
    func y(_ value: Double, top: Double) -> Double {
        Self.top + plotHeight - (max(0, value) / top) * plotHeight
    }

    /// The chart as an `<svg>` element.
    func render() -> String {
        let c = Self.coordinate
        let (top, step) = Self.scale(max: values.filter(\.isFinite).max() ?? 0)
        let titleId = "\(id)-title"
        let descId = "\(id)-desc"
        var s = """
            <svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 \(Int(Self.width)) \(Int(Self.height))" \
            role="img" aria-labelledby="\(Self.escape(titleId)) \(Self.escape(descId))" \
            preserveAspectRatio="xMidYMid meet" font-family="system-ui, sans-serif" font-size="13">\
            <title id="\(Self.escape(titleId))">\(Self.escape(title))</title>\
            <desc id="\(Self.escape(descId))">\(Self.escape(summary))</desc>
            """
        // Grid lines and tick labels of the vertical axis.
        var tick = 0.0
        while tick <= top + step / 2 {
            let ty = y(tick, top: top)
            s += "<line x1=\"\(c(Self.left))\" y1=\"\(c(ty))\" x2=\"\(c(Self.width - Self.right))\" y2=\"\(c(ty))\" "
            s += "stroke=\"\(tick == 0 ? Self.ink : Self.grid)\" stroke-width=\"1\"/>"
            s += "<text class=\"tick\" x=\"\(c(Self.left - 6))\" y=\"\(c(ty + 4))\" text-anchor=\"end\" "
            s += "fill=\"\(Self.ink)\">\(Self.number(tick))</text>"
            tick += step
        }
        s += "<line x1=\"\(c(Self.left))\" y1=\"\(c(Self.top))\" x2=\"\(c(Self.left))\" "
        s += "y2=\"\(c(Self.top + plotHeight))\" stroke=\"\(Self.ink)\" stroke-width=\"1\"/>"
        s += "<text x=\"14\" y=\"\(c(Self.top + plotHeight / 2))\" text-anchor=\"middle\" fill=\"\(Self.ink)\" "
        s += "transform=\"rotate(-90 14 \(c(Self.top + plotHeight / 2)))\">\(Self.escape(yLabel))</text>"
        let n = values.count
        let slot = n > 0 ? plotWidth / Double(n) : plotWidth
        func centre(_ i: Int) -> Double { Self.left + slot * (Double(i) + 0.5) }
        switch kind {
        case .bars:
            let barWidth = max(1, slot * 0.7)
            for (i, v) in values.enumerated() {
                let value = v.isFinite ? max(0, v) : 0
                let by = y(value, top: top)
                s += "<rect class=\"chart-bar\" x=\"\(c(centre(i) - barWidth / 2))\" y=\"\(c(by))\" "
                s += "width=\"\(c(barWidth))\" height=\"\(c(Self.top + plotHeight - by))\" fill=\"\(Self.fill)\"/>"
            }
        case .line:
            let points = values.enumerated().map { i, v in
                "\(c(centre(i))),\(c(y(v.isFinite ? v : 0, top: top)))"
            }
            if !points.isEmpty {
                s += "<polyline class=\"line\" points=\"\(points.joined(separator: " "))\" fill=\"none\" "
                s += "stroke=\"\(Self.fill)\" stroke-width=\"2.5\" stroke-linejoin=\"round\"/>"
            }
            if n <= 62 {
                for (i, v) in values.enumerated() {
                    s += "<circle cx=\"\(c(centre(i)))\" cy=\"\(c(y(v.isFinite ? v : 0, top: top)))\" r=\"3\" "
                    s += "fill=\"\(Self.fill)\"/>"
                }
            }
        }
        // Labels of the horizontal axis: every k-th, so that they do not overlap.
        let every = max(1, Int((Double(n) / Double(Self.maxLabels)).rounded(.up)))
        for (i, label) in labels.prefix(n).enumerated() where i % every == 0 {
            s += "<text class=\"label\" x=\"\(c(centre(i)))\" y=\"\(c(Self.top + plotHeight + 18))\" "
            s += "text-anchor=\"middle\" fill=\"\(Self.ink)\">\(Self.escape(label))</text>"
        }
        s += "</svg>"
        return s
    }
}
