import Foundation
import Testing

@testable import CubbyDevices

/// 2026-11-21T10:15:02Z.
private let incidentTime = Date(timeIntervalSince1970: 1_795_256_102)

/// The picture as ASCII art, `#` for pixels at or above `threshold`.
private func art(_ raster: Raster, threshold: UInt8 = 128) -> [String] {
    (0..<raster.height).map { y in
        String((0..<raster.width).map { x in raster[x, y] >= threshold ? "#" : "." })
    }
}

/// Whether `text`, drawn at `scale`, appears in the rows `rows` of a picture as bright (≥ 128) pixels on dark
/// ones, starting within `columns`: every glyph pixel bright and every gap pixel inside the text box dark.
private func showsText(
    _ text: String, scale: Int, in pixels: (Int, Int) -> UInt8, width: Int, rows: Range<Int>,
    columns: Range<Int> = 0..<16
) -> Bool {
    var template = Raster(width: Raster.textWidth(text, scale: scale), height: Raster.textHeight(scale: scale))
    template.drawText(text, x: 0, y: 0, scale: scale, value: 255)
    for top in rows where top + template.height <= rows.upperBound {
        for left in columns where left + template.width <= width {
            var matches = true
            search: for y in 0..<template.height {
                for x in 0..<template.width where (template[x, y] == 255) != (pixels(left + x, top + y) >= 128) {
                    matches = false
                    break search
                }
            }
            if matches { return true }
        }
    }
    return false
}

@Suite("Raster and bitmap font")
struct CameraRasterTests {
    @Test("fillRect clips to the picture")
    func fillClips() {
        var raster = Raster(width: 10, height: 6, fill: 9)
        raster.fillRect(x: -3, y: 4, width: 5, height: 10, value: 200)
        #expect(raster.pixels.filter { $0 == 200 }.count == 4)
        #expect(raster[0, 4] == 200 && raster[1, 5] == 200 && raster[2, 5] == 9 && raster[1, 3] == 9)
        raster.fill(3)
        #expect(raster.pixels.allSatisfy { $0 == 3 })
    }

    @Test("strokeRect draws only the outline")
    func strokeOutline() {
        var raster = Raster(width: 8, height: 7)
        raster.strokeRect(x: 1, y: 1, width: 6, height: 5, value: 255)
        #expect(
            art(raster) == [
                "........",
                ".######.",
                ".#....#.",
                ".#....#.",
                ".#....#.",
                ".######.",
                "........",
            ])
    }

    @Test("verticalGradient runs from the top level to the bottom level")
    func gradientRows() {
        var raster = Raster(width: 3, height: 5)
        raster.verticalGradient(y: 0, height: 5, top: 200, bottom: 100)
        #expect((0..<5).map { raster[1, $0] } == [200, 175, 150, 125, 100])
    }

    @Test("text is drawn glyph by glyph with one blank column between")
    func textPixels() {
        var raster = Raster(width: 17, height: 7)
        raster.drawText("H-4", x: 0, y: 0, value: 255)
        #expect(
            art(raster) == [
                "#...#..........#.",
                "#...#.........##.",
                "#...#........#.#.",
                "#####.#####.#..#.",
                "#...#.......#####",
                "#...#..........#.",
                "#...#..........#.",
            ])
        #expect(Raster.textWidth("H-4") == 17)
        #expect(Raster.textWidth("", scale: 3) == 0)
    }

    @Test("scale turns each font pixel into a square")
    func scaledText() {
        var small = Raster(width: 5, height: 7)
        small.drawText("K", x: 0, y: 0, value: 255)
        var large = Raster(width: 15, height: 21)
        large.drawText("K", x: 0, y: 0, scale: 3, value: 255)
        for y in 0..<21 {
            for x in 0..<15 {
                #expect(large[x, y] == small[x / 3, y / 3])
            }
        }
        #expect(Raster.textWidth("KK", scale: 3) == 33)
        #expect(Raster.textHeight(scale: 3) == 21)
    }

    @Test("lower case is drawn as capitals")
    func lowerCase() {
        var lower = Raster(width: 200, height: 7)
        lower.drawText("the quick brown fox jumps over a lazy dog", x: 0, y: 0, value: 255)
        var upper = Raster(width: 200, height: 7)
        upper.drawText("THE QUICK BROWN FOX JUMPS OVER A LAZY DOG", x: 0, y: 0, value: 255)
        #expect(lower == upper)
    }

    @Test("characters the font lacks are drawn as a box", arguments: ["é", "{", "€", "?", "🙂"])
    func unknownCharacter(character: String) {
        var raster = Raster(width: 5, height: 7)
        raster.drawText(character, x: 0, y: 0, value: 255)
        var box = Raster(width: 5, height: 7)
        box.strokeRect(x: 0, y: 0, width: 5, height: 7, value: 255)
        #expect(raster == box)
    }

    @Test("every character the stamp needs has its own glyph")
    func glyphCoverage() {
        let characters = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 -:./_+#()")
        var box = Raster(width: 5, height: 7)
        box.strokeRect(x: 0, y: 0, width: 5, height: 7, value: 255)
        var seen: [[UInt8]: Character] = [:]
        for character in characters {
            var raster = Raster(width: 5, height: 7)
            raster.drawText(String(character), x: 0, y: 0, value: 255)
            #expect(raster != box, "\(character) falls back to the box")
            if let other = seen[raster.pixels] {
                Issue.record("\(character) looks the same as \(other)")
            }
            seen[raster.pixels] = character
        }
    }
}

@Suite("Simulated camera")
struct CameraStillTests {
    @Test("the time is stamped as UTC ISO 8601 to the second")
    func timestamp() {
        #expect(SimulatedCamera.timestamp(incidentTime) == "2026-11-21T10:15:02Z")
        #expect(SimulatedCamera.timestamp(incidentTime.addingTimeInterval(0.75)) == "2026-11-21T10:15:02Z")
        #expect(SimulatedCamera.timestamp(Date(timeIntervalSince1970: 0)) == "1970-01-01T00:00:00Z")
    }

    @Test("a default still is a small baseline JPEG of 320×240")
    func defaultStill() async throws {
        let camera: any Camera = SimulatedCamera(unitName: "Hauptbahnhof 3")
        let data = try await camera.still(caption: "drop-off B2", at: incidentTime)
        let file = try JPEGFile(data)
        #expect(file.markers == [0xD8, 0xE0, 0xDB, 0xC0, 0xC4, 0xC4, 0xDA])
        let size = try #require(file.frameSize)
        #expect(size.width == 320 && size.height == 240)
        #expect((2_000...25_000).contains(data.count), "\(data.count) bytes")
    }

    @Test("other sizes keep their dimensions", arguments: [(160, 120), (250, 190), (641, 479), (40, 30)])
    func otherSizes(size: (Int, Int)) async throws {
        let data = try await SimulatedCamera(unitName: "U1", width: size.0, height: size.1)
            .still(caption: "tamper", at: incidentTime)
        let frame = try #require(try JPEGFile(data).frameSize)
        #expect(frame.width == size.0 && frame.height == size.1)
    }

    @Test("an impossible size is an error, not a crash")
    func impossibleSize() async {
        await #expect(throws: JPEGEncodingError.self) {
            try await SimulatedCamera(unitName: "U1", width: 0, height: 240).still(caption: "x", at: incidentTime)
        }
    }

    @Test("same inputs give the same bytes; a different time, caption or unit gives different bytes")
    func determinism() async throws {
        let camera = SimulatedCamera(unitName: "Hauptbahnhof 3")
        let first = try await camera.still(caption: "pickup A1", at: incidentTime)
        #expect(try await camera.still(caption: "pickup A1", at: incidentTime) == first)
        #expect(try await camera.still(caption: "pickup A1", at: incidentTime.addingTimeInterval(1)) != first)
        #expect(try await camera.still(caption: "pickup A2", at: incidentTime) != first)
        #expect(
            try await SimulatedCamera(unitName: "Hauptbahnhof 4").still(caption: "pickup A1", at: incidentTime) != first
        )
    }

    @Test("the banner starts on a block boundary and only it changes with caption and time")
    func bannerIsolation() throws {
        let camera = SimulatedCamera(unitName: "Hauptbahnhof 3")
        let top = SimulatedCamera.BannerLayout(width: 320, height: 240).top
        #expect(top % 8 == 0 && top > 120 && top < 240)
        let x = camera.frame(caption: "X", at: incidentTime)
        let y = camera.frame(caption: "Y", at: incidentTime)
        let later = camera.frame(caption: "X", at: incidentTime.addingTimeInterval(3_600))
        let scene = 0..<(top * 320)
        let banner = (top * 320)..<(240 * 320)
        #expect(differingCount(x.pixels[scene], y.pixels[scene]) == 0)
        #expect(differingCount(x.pixels[scene], later.pixels[scene]) == 0)
        #expect(differingCount(x.pixels[banner], y.pixels[banner]) > 0)
        #expect(differingCount(x.pixels[banner], later.pixels[banner]) > 0)
    }

    @Test("the banner shows the unit, the caption and the time in the font")
    func bannerText() {
        let camera = SimulatedCamera(unitName: "Hauptbahnhof 3")
        let caption = "failed code at B2"
        let frame = camera.frame(caption: caption, at: incidentTime)
        let top = SimulatedCamera.BannerLayout(width: 320, height: 240).top
        for line in ["HAUPTBAHNHOF 3", "FAILED CODE AT B2", "2026-11-21T10:15:02Z"] {
            #expect(showsText(line, scale: 2, in: { frame[$0, $1] }, width: 320, rows: top..<240), "\(line)")
        }
        #expect(!showsText("2026-11-21T10:15:03Z", scale: 2, in: { frame[$0, $1] }, width: 320, rows: top..<240))
    }

    @Test("a caption too wide for the banner is drawn smaller rather than cut")
    func longCaption() {
        let caption = "TAMPER SIGNAL ON BOARD 2 CHANNEL 14 (DOOR B4)"
        let frame = SimulatedCamera(unitName: "U1").frame(caption: caption, at: incidentTime)
        let top = SimulatedCamera.BannerLayout(width: 320, height: 240).top
        #expect(Raster.textWidth(caption, scale: 2) > 320)
        #expect(showsText(caption, scale: 1, in: { frame[$0, $1] }, width: 320, rows: top..<240))
    }
}

@Suite("Simulated camera: decoded by djpeg", .enabled(if: DJPEG.shouldRun, DJPEG.skipReason))
struct CameraDecodingTests {
    @Test("captions X and Y differ in the banner only; the scene above is pixel for pixel the same")
    func captionsChangeOnlyTheBanner() async throws {
        let camera = SimulatedCamera(unitName: "Hauptbahnhof 3")
        let x = try DJPEG.decode(try await camera.still(caption: "X", at: incidentTime))
        let y = try DJPEG.decode(try await camera.still(caption: "Y", at: incidentTime))
        #expect(x.width == 320 && x.height == 240 && y.width == 320 && y.height == 240)
        let top = SimulatedCamera.BannerLayout(width: 320, height: 240).top
        #expect(differingCount(x.rows(0..<top), y.rows(0..<top)) == 0)
        #expect(differingCount(x.rows(top..<240), y.rows(top..<240)) > 0)

        let banner = x.rows(top..<240)
        let mean = Double(banner.reduce(0) { $0 + Int($1) }) / Double(banner.count)
        #expect(mean < 80, "banner mean level \(mean)")
        #expect(banner.filter { $0 > 200 }.count > 500, "banner has little bright text")
    }

    @Test("the decoded still is close to the drawn picture and still shows the stamp")
    func decodedMatchesFrame() async throws {
        let camera = SimulatedCamera(unitName: "Hauptbahnhof 3")
        let frame = camera.frame(caption: "pickup C4", at: incidentTime)
        let decoded = try DJPEG.decode(try await camera.still(caption: "pickup C4", at: incidentTime))
        #expect(meanAbsoluteError(decoded.pixels, frame.pixels) < 3)
        let top = SimulatedCamera.BannerLayout(width: 320, height: 240).top
        for line in ["HAUPTBAHNHOF 3", "PICKUP C4", "2026-11-21T10:15:02Z"] {
            #expect(showsText(line, scale: 2, in: { decoded[$0, $1] }, width: 320, rows: top..<240), "\(line)")
        }
    }

    @Test("stills of other sizes decode", arguments: [(160, 120), (641, 479)])
    func otherSizesDecode(size: (Int, Int)) async throws {
        let decoded = try DJPEG.decode(
            try await SimulatedCamera(unitName: "U1", width: size.0, height: size.1).still(
                caption: "drop-off", at: incidentTime)
        )
        #expect(decoded.width == size.0 && decoded.height == size.1)
    }
}
