import Foundation
import Testing

@testable import CubbyServer

#if canImport(FoundationXML)
    import FoundationXML
#endif

/// What an XML parser saw of a chart: its elements with their attributes, and its text.
final class ChartReading: NSObject, XMLParserDelegate {
    var elements: [(name: String, attributes: [String: String])] = []
    var texts: [String] = []
    var current = ""
    var failure: (any Error)?

    static func read(_ svg: String) -> ChartReading {
        let reading = ChartReading()
        let parser = XMLParser(data: Data(svg.utf8))
        parser.delegate = reading
        if !parser.parse() { reading.failure = parser.parserError ?? CocoaError(.coderReadCorrupt) }
        return reading
    }

    func parser(
        _ parser: XMLParser, didStartElement elementName: String, namespaceURI: String?, qualifiedName qName: String?,
        attributes attributeDict: [String: String] = [:]
    ) {
        elements.append((elementName, attributeDict))
        current = ""
    }

    func parser(_ parser: XMLParser, foundCharacters string: String) { current += string }

    func parser(
        _ parser: XMLParser, didEndElement elementName: String, namespaceURI: String?, qualifiedName qName: String?
    ) {
        if !current.isEmpty { texts.append(current) }
        current = ""
    }

    func all(_ name: String) -> [[String: String]] { elements.filter { $0.name == name }.map(\.attributes) }
}

@Suite("SVG charts drawn on the server")
struct SVGChartTests {
    static func chart(_ kind: SVGChart.Kind, _ values: [Double], labels: [String]? = nil, title: String = "Parcels")
        -> SVGChart
    {
        SVGChart(
            id: "c1", title: title, summary: "A chart for the test.", kind: kind,
            labels: labels ?? values.indices.map { "d\($0)" }, values: values, yLabel: "parcels")
    }

    @Test func barsAreWellFormedNamedAndProportional() throws {
        let values: [Double] = [0, 3, 6, 12, 1]
        let reading = ChartReading.read(Self.chart(.bars, values).render())
        #expect(reading.failure == nil)
        let svg = try #require(reading.all("svg").first)
        #expect(svg["role"] == "img")
        #expect(svg["aria-labelledby"] == "c1-title c1-desc")
        #expect(svg["viewBox"] == "0 0 640 300")
        #expect(svg["width"] == nil && svg["height"] == nil, "scales to its container")
        #expect(reading.all("title").first?["id"] == "c1-title")
        #expect(reading.all("desc").first?["id"] == "c1-desc")
        #expect(reading.texts.first == "Parcels")
        let bars = reading.all("rect").filter { $0["class"] == "chart-bar" }
        #expect(bars.count == values.count)
        let heights = bars.compactMap { $0["height"].flatMap(Double.init) }
        #expect(heights.count == values.count)
        #expect(heights[0] == 0)
        // Heights are proportional to the values (to the drawing's rounding of 0.05).
        let unit = heights[3] / 12
        for (h, v) in zip(heights, values) { #expect(abs(h - v * unit) < 0.2, "\(h) for \(v)") }
        // Every bar stands on the axis.
        let bottoms = bars.compactMap { b in
            Double(b["y"] ?? "").flatMap { y in Double(b["height"] ?? "").map { y + $0 } }
        }
        #expect(Set(bottoms.map { ($0 * 10).rounded() }).count == 1)
        // The axis reaches a round number at or above the largest value.
        let ticks = reading.elements.filter { $0.name == "text" && $0.attributes["class"] == "tick" }
        #expect(ticks.count >= 3)
        #expect(reading.texts.contains("12") || reading.texts.contains("15"))
    }

    @Test func textIsEscaped() throws {
        let nasty = "<script>alert(\"x\")</script> & 'y'"
        let svg = Self.chart(.bars, [1, 2], labels: [nasty, "b\u{1}c"], title: nasty).render()
        #expect(!svg.contains("<script>"))
        #expect(svg.contains("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &apos;y&apos;"))
        let reading = ChartReading.read(svg)
        #expect(reading.failure == nil)
        #expect(reading.texts.first == nasty, "the parser reads the text back as it was")
        #expect(reading.texts.contains("bc"), "a control character is dropped")
        #expect(SVGChart.escape("a\"b") == "a&quot;b")
    }

    @Test func lineChartAndEdgeCases() throws {
        let line = ChartReading.read(Self.chart(.line, [2, 4, 3]).render())
        #expect(line.failure == nil)
        let points = try #require(line.all("polyline").first?["points"]).split(separator: " ")
        #expect(points.count == 3)
        let ys = points.compactMap { $0.split(separator: ",").last.flatMap { Double($0) } }
        #expect(ys[1] < ys[2] && ys[2] < ys[0], "higher values are drawn higher")
        #expect(line.all("circle").count == 3)

        // No values, all zero, and many days: still well-formed, no NaN, labels thinned out.
        for values in [[], [0, 0, 0], Array(repeating: 5.0, count: 366), [.nan, 1]] as [[Double]] {
            for kind in [SVGChart.Kind.bars, .line] {
                let svg = Self.chart(kind, values).render()
                #expect(!svg.contains("nan") && !svg.contains("inf"), "\(kind) \(values.count)")
                let r = ChartReading.read(svg)
                #expect(r.failure == nil)
                #expect(r.all("text").filter { $0["class"] == "label" }.count <= SVGChart.maxLabels)
            }
        }
        #expect(SVGChart.scale(max: 0) == (1, 1))
        #expect(SVGChart.scale(max: 12) == (15, 5) || SVGChart.scale(max: 12).top >= 12)
        #expect(SVGChart.scale(max: 3).step == 1)
        #expect(SVGChart.scale(max: 180) == (200, 40) || SVGChart.scale(max: 180) == (200, 50))
    }
}
