import Foundation
import Testing

@testable import CubbyDevices

/// A smooth diagonal ramp over the whole picture.
private func gradient(width: Int, height: Int) -> Raster {
    var pixels: [UInt8] = []
    pixels.reserveCapacity(width * height)
    let span = max(width + height - 2, 1)
    for y in 0..<height {
        for x in 0..<width {
            pixels.append(UInt8(40 + 180 * (x + y) / span))
        }
    }
    return Raster(width: width, height: height, pixels: pixels)
}

/// Deterministic pseudo-random noise: the worst case for size, and it makes plenty of 0xFF bytes in the scan.
private func noise(width: Int, height: Int, seed: UInt32 = 0x2545_F491) -> Raster {
    var state = seed
    var pixels: [UInt8] = []
    for _ in 0..<(width * height) {
        state ^= state << 13
        state ^= state >> 17
        state ^= state << 5
        pixels.append(UInt8(truncatingIfNeeded: state))
    }
    return Raster(width: width, height: height, pixels: pixels)
}

/// A picture with edges, text and a ramp: something in between a gradient and noise.
private func detailed(width: Int, height: Int) -> Raster {
    var raster = gradient(width: width, height: height)
    raster.strokeRect(x: 10, y: 10, width: width - 20, height: height - 20, thickness: 3, value: 20)
    raster.drawText("CUBBY 0123456789", x: 20, y: 30, scale: 2, value: 250)
    raster.fillRect(x: width / 2, y: height / 2, width: 40, height: 30, value: 0)
    return raster
}

/// T.81 Figure 5, written out: the natural-order index at each zig-zag position.
private let zigzag: [Int] = [
    0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5,
    12, 19, 26, 33, 40, 48, 41, 34, 27, 20, 13, 6, 7, 14, 21, 28,
    35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51,
    58, 59, 52, 45, 38, 31, 39, 46, 53, 60, 61, 54, 47, 55, 62, 63,
]

@Suite("JPEG encoder: file structure")
struct JPEGStructureTests {
    @Test(
        "segments come in order SOI APP0 DQT SOF0 DHT DHT SOS, then the scan and EOI",
        arguments: [
            (8, 8), (17, 9), (320, 240), (1, 1), (1000, 3),
        ])
    func segmentOrder(size: (Int, Int)) throws {
        let data = try JPEGEncoder(quality: 75).encode(gradient(width: size.0, height: size.1))
        let file = try JPEGFile(data)
        #expect(file.markers == [0xD8, 0xE0, 0xDB, 0xC0, 0xC4, 0xC4, 0xDA])

        let app0 = try #require(file.segment(0xE0))
        #expect(Array(app0.payload.prefix(5)) == Array("JFIF".utf8) + [0])
        #expect(app0.payload[5] == 1 && app0.payload[6] == 1, "JFIF 1.01")

        let frame = try #require(file.frameSize)
        #expect(frame.width == size.0 && frame.height == size.1)
        let sof = try #require(file.segment(0xC0))
        #expect(
            sof.payload == [
                8, UInt8(size.1 >> 8), UInt8(size.1 & 0xFF), UInt8(size.0 >> 8), UInt8(size.0 & 0xFF), 1, 1, 0x11, 0,
            ])

        let sos = try #require(file.segment(0xDA))
        #expect(sos.payload == [1, 1, 0x00, 0, 63, 0])
        #expect(!file.scan.isEmpty)
    }

    @Test("every 0xFF in the scan is stuffed, and noise makes plenty of them")
    func byteStuffing() throws {
        let data = try JPEGEncoder(quality: 100).encode(noise(width: 64, height: 64))
        let file = try JPEGFile(data)
        let stuffed = zip(file.scan, file.scan.dropFirst()).filter { $0 == (0xFF, 0x00) }.count
        #expect(stuffed > 20)
        var index = 0
        while index < file.scan.count {
            if file.scan[index] == 0xFF {
                #expect(index + 1 < file.scan.count && file.scan[index + 1] == 0x00, "unstuffed 0xFF at \(index)")
                index += 2
            } else {
                index += 1
            }
        }
    }

    @Test(
        "the scan decodes block by block and ends padded with 1-bits",
        arguments: [
            (8, 8, 10), (17, 9, 50), (64, 64, 100), (320, 240, 75), (1, 1, 95),
        ])
    func scanDecodesCompletely(width: Int, height: Int, quality: Int) throws {
        let data = try JPEGEncoder(quality: quality).encode(noise(width: width, height: height))
        let file = try JPEGFile(data)
        let blockCount = ((width + 7) / 8) * ((height + 7) / 8)
        let (blocks, reader) = try decodeCoefficients(file, blockCount: blockCount)
        #expect(blocks.count == blockCount)
        let remainder = reader.remainder
        #expect(!remainder.moreBytes, "bytes left over after the last block")
        #expect(remainder.bits.count < 8)
        #expect(remainder.bits.allSatisfy { $0 == 1 }, "padding bits \(remainder.bits)")
    }

    @Test("a flat picture codes the expected DC in every block and no AC", arguments: [0, 38, 128, 200, 254])
    func flatCoefficients(level: Int) throws {
        let quality = 50
        let raster = Raster(width: 24, height: 16, fill: UInt8(level))
        let file = try JPEGFile(try JPEGEncoder(quality: quality).encode(raster))
        let (blocks, _) = try decodeCoefficients(file, blockCount: 6)
        // DC of a flat block is 8 × (level − 128), divided by the first table entry (16 at quality 50);
        // even levels keep the quotient away from a rounding tie.
        let expected = (level - 128) / 2
        for block in blocks {
            #expect(block[0] == expected)
            #expect(block.dropFirst().allSatisfy { $0 == 0 })
        }
    }

    @Test("DQT carries the quality's table in zig-zag order", arguments: [1, 10, 50, 75, 95, 100])
    func quantizationSegment(quality: Int) throws {
        let file = try JPEGFile(try JPEGEncoder(quality: quality).encode(gradient(width: 8, height: 8)))
        let dqt = try #require(file.segment(0xDB))
        let natural = JPEGEncoder.quantizationTable(quality: quality)
        #expect(dqt.payload == [0] + zigzag.map { natural[$0] })
    }

    @Test("DHT segments carry the Annex K.3 luminance tables")
    func huffmanSegments() throws {
        let file = try JPEGFile(try JPEGEncoder().encode(gradient(width: 8, height: 8)))
        let tables = file.segments.filter { $0.marker == 0xC4 }
        #expect(tables.map { $0.payload[0] } == [0x00, 0x10])

        let dc = HuffmanDecoder(dht: tables[0].payload).codes
        #expect(Set(dc.keys) == Set(0...11))
        // Table K.3.
        #expect(dc[0] == "00")
        #expect(dc[1] == "010")
        #expect(dc[5] == "110")
        #expect(dc[6] == "1110")
        #expect(dc[11] == "111111110")

        let ac = HuffmanDecoder(dht: tables[1].payload).codes
        var symbols: Set<UInt8> = [0x00, 0xF0]
        for run in 0..<16 {
            for size in 1...10 { symbols.insert(UInt8(run << 4 | size)) }
        }
        #expect(Set(ac.keys) == symbols)
        // Table K.5.
        #expect(ac[0x00] == "1010")
        #expect(ac[0x01] == "00")
        #expect(ac[0x02] == "01")
        #expect(ac[0x03] == "100")
        #expect(ac[0x11] == "1100")
        #expect(ac[0x21] == "11100")
        #expect(ac[0xF0] == "11111111001")
        #expect(ac[0x0A] == "1111111110000011")
        #expect(ac[0xFA] == "1111111111111110")
    }
}

@Suite("JPEG encoder: tables, errors, determinism")
struct JPEGEncoderBehaviourTests {
    @Test("quality 50 is the Annex K table, 100 all ones, 1 all 255, others scaled and rounded")
    func qualityScaling() {
        let annexK: [UInt8] = [
            16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55,
            14, 13, 16, 24, 40, 57, 69, 56, 14, 17, 22, 29, 51, 87, 80, 62,
            18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113, 92,
            49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99,
        ]
        #expect(JPEGEncoder.quantizationTable(quality: 50) == annexK)
        #expect(JPEGEncoder.quantizationTable(quality: 100) == [UInt8](repeating: 1, count: 64))
        #expect(JPEGEncoder.quantizationTable(quality: 1) == [UInt8](repeating: 255, count: 64))
        let q75 = JPEGEncoder.quantizationTable(quality: 75)
        #expect(q75[0] == 8 && q75[1] == 6 && q75[63] == 50)
        let q10 = JPEGEncoder.quantizationTable(quality: 10)
        #expect(q10[0] == 80 && q10[2] == 50 && q10[63] == 255)
        #expect(JPEGEncoder(quality: 0).quality == 1)
        #expect(JPEGEncoder(quality: 250).quality == 100)
    }

    @Test("sizes outside 1…65535 and wrong pixel counts are refused")
    func invalidInput() {
        let encoder = JPEGEncoder()
        #expect(throws: JPEGEncodingError.invalidSize(width: 0, height: 5)) {
            try encoder.encode(width: 0, height: 5, pixels: [])
        }
        #expect(throws: JPEGEncodingError.invalidSize(width: 70_000, height: 1)) {
            try encoder.encode(width: 70_000, height: 1, pixels: [UInt8](repeating: 0, count: 70_000))
        }
        #expect(throws: JPEGEncodingError.pixelCountMismatch(expected: 12, actual: 11)) {
            try encoder.encode(width: 4, height: 3, pixels: [UInt8](repeating: 0, count: 11))
        }
    }

    @Test("the same picture always gives the same bytes; a one-pixel change gives different bytes")
    func deterministic() throws {
        let picture = detailed(width: 200, height: 120)
        let first = try JPEGEncoder(quality: 80).encode(picture)
        let second = try JPEGEncoder(quality: 80).encode(picture)
        #expect(first == second)
        var changed = picture
        changed[100, 60] = changed[100, 60] &+ 90
        #expect(try JPEGEncoder(quality: 80).encode(changed) != first)
    }

    @Test("higher quality gives larger files")
    func sizeGrowsWithQuality() throws {
        let picture = detailed(width: 160, height: 120)
        let sizes = try [10, 50, 75, 95].map { try JPEGEncoder(quality: $0).encode(picture).count }
        #expect(sizes == sizes.sorted() && Set(sizes).count == sizes.count, "\(sizes)")
    }
}

@Suite("JPEG encoder: decoded by djpeg", .enabled(if: DJPEG.shouldRun, DJPEG.skipReason))
struct JPEGDecodingTests {
    /// Mean absolute error allowed for the smooth gradient at each quality.
    static let gradientBounds: [Int: Double] = [10: 6.5, 50: 2.5, 75: 1.75, 95: 1]

    @Test(
        "a gradient decodes to its size and close to the source",
        arguments: [
            (8, 8), (17, 9), (320, 240), (1, 1),
        ], [10, 50, 75, 95])
    func gradientRoundTrip(size: (Int, Int), quality: Int) throws {
        let source = gradient(width: size.0, height: size.1)
        let decoded = try DJPEG.decode(try JPEGEncoder(quality: quality).encode(source))
        #expect(decoded.width == size.0 && decoded.height == size.1)
        let error = meanAbsoluteError(decoded.pixels, source.pixels)
        let bound = try #require(Self.gradientBounds[quality])
        #expect(error <= bound, "mean absolute error \(error) at quality \(quality)")
    }

    /// From quality 50 up the DC divisor is at most 16, which holds a flat level to ±1 after decoding.
    @Test(
        "a flat picture decodes to its level within ±1",
        arguments: [
            (8, 8), (17, 9), (320, 240), (1, 1),
        ], [0, 1, 77, 128, 254, 255])
    func flatRoundTrip(size: (Int, Int), level: Int) throws {
        for quality in [50, 75, 95] {
            let source = Raster(width: size.0, height: size.1, fill: UInt8(level))
            let decoded = try DJPEG.decode(try JPEGEncoder(quality: quality).encode(source))
            #expect(decoded.width == size.0 && decoded.height == size.1)
            #expect(decoded.pixels.allSatisfy { abs(Int($0) - level) <= 1 }, "level \(level) at quality \(quality)")
        }
    }

    @Test("error shrinks as quality rises on a detailed picture")
    func errorFallsWithQuality() throws {
        let source = detailed(width: 320, height: 240)
        let errors = try [10, 50, 75, 95].map { quality in
            meanAbsoluteError(try DJPEG.decode(try JPEGEncoder(quality: quality).encode(source)).pixels, source.pixels)
        }
        #expect(errors == errors.sorted(by: >), "\(errors)")
        #expect(errors[3] < 1.5, "\(errors)")
        #expect(errors[0] < 12, "\(errors)")
    }

    @Test("partial blocks are padded by repeating the edge, so a lone edge column keeps its level")
    func edgeReplication() throws {
        var source = Raster(width: 9, height: 9, fill: 0)
        source.fillRect(x: 8, y: 0, width: 1, height: 9, value: 255)
        source.fillRect(x: 0, y: 8, width: 9, height: 1, value: 255)
        let decoded = try DJPEG.decode(try JPEGEncoder(quality: 50).encode(source))
        for i in 0..<9 {
            #expect(decoded[8, i] >= 253, "column 8 row \(i): \(decoded[8, i])")
            #expect(decoded[i, 8] >= 253, "row 8 column \(i): \(decoded[i, 8])")
        }
    }

    @Test("noise at quality 100 survives within a couple of levels")
    func noiseRoundTrip() throws {
        let source = noise(width: 40, height: 24)
        let decoded = try DJPEG.decode(try JPEGEncoder(quality: 100).encode(source))
        #expect(meanAbsoluteError(decoded.pixels, source.pixels) < 1.5)
    }
}
