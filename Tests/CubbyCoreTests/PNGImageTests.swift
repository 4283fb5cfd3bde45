import Foundation
import Testing

@testable import CubbyCore

private let zbarPath = "/usr/bin/zbarimg"
private let hasZbar = FileManager.default.isExecutableFile(atPath: zbarPath)

/// Decodes a PNG file with zbarimg (QR only); nil when nothing was decoded.
private func zbarDecode(png: [UInt8]) throws -> String? {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("cubby-qr-\(UUID().uuidString).png")
    try Data(png).write(to: url)
    defer { try? FileManager.default.removeItem(at: url) }
    let result = try ChildProcess.run(zbarPath, ["--raw", "-q", "-Sdisable", "-Sqrcode.enable", url.path])
    guard result.termination == .exited(0) else { return nil }
    let output = result.standardOutput
    var text = String(decoding: output, as: UTF8.self)
    if text.hasSuffix("\n") { text.removeLast() }
    return text
}

private func bigEndian(_ bytes: ArraySlice<UInt8>) -> UInt32 {
    bytes.reduce(0) { $0 << 8 | UInt32($1) }
}

/// A PNG's chunks as (type, data), each chunk's CRC checked.
private func chunks(_ png: [UInt8]) -> [(String, [UInt8])] {
    var out: [(String, [UInt8])] = []
    var i = 8
    while i + 12 <= png.count {
        let length = Int(bigEndian(png[i..<i + 4]))
        let type = String(decoding: png[i + 4..<i + 8], as: UTF8.self)
        let data = Array(png[i + 8..<i + 8 + length])
        let crc = bigEndian(png[i + 8 + length..<i + 12 + length])
        #expect(crc == CRC32.checksum(png[i + 4..<i + 8 + length]), "CRC of \(type)")
        out.append((type, data))
        i += 12 + length
    }
    #expect(i == png.count, "no bytes after the last chunk")
    return out
}

/// The data of a zlib stream of stored blocks, each block's LEN/NLEN and the Adler-32 checked.
private func inflateStored(_ stream: [UInt8]) -> [UInt8] {
    #expect(stream[0] == 0x78)
    #expect((UInt16(stream[0]) << 8 | UInt16(stream[1])) % 31 == 0, "FCHECK")
    var out: [UInt8] = []
    var i = 2
    while true {
        let header = stream[i]
        #expect(header & 0b110 == 0, "BTYPE 00")
        let length = Int(stream[i + 1]) | Int(stream[i + 2]) << 8
        let complement = Int(stream[i + 3]) | Int(stream[i + 4]) << 8
        #expect(length ^ complement == 0xFFFF, "NLEN is the complement of LEN")
        out += stream[i + 5..<i + 5 + length]
        i += 5 + length
        if header & 1 == 1 { break }
    }
    #expect(bigEndian(stream[i..<i + 4]) == Adler32.checksum(out))
    #expect(i + 4 == stream.count)
    return out
}

@Suite("PNG image")
struct PNGImageTests {
    /// Check values: "123456789" is the catalogue check input of CRC-32/ISO-HDLC (Greg Cook's CRC RevEng
    /// catalogue: check=0xcbf43926); every PNG ends with the IEND chunk whose CRC is AE 42 60 82 (PNG
    /// specification §5.6 example bytes); 100,000 × 0xFF was computed with zlib's crc32.
    @Test(
        "CRC-32 known values",
        arguments: [
            (Array("123456789".utf8), 0xCBF4_3926), ([], 0), (Array("IEND".utf8), 0xAE42_6082),
            ([UInt8](repeating: 0xFF, count: 100_000), 0x68C6_CEC4),
        ] as [([UInt8], UInt32)])
    func crc32(bytes: [UInt8], expected: UInt32) {
        #expect(CRC32.checksum(bytes) == expected)
        var split = CRC32()
        split.update(bytes.prefix(bytes.count / 3))
        split.update(bytes.dropFirst(bytes.count / 3))
        #expect(split.value == expected)
    }

    /// Check values: "Wikipedia" → 0x11E60398 is the worked example of the Adler-32 article on Wikipedia; an empty
    /// input gives the initial value 1 (RFC 1950 §8.2); 100,000 × 0xFF (past zlib's NMAX of 5552, so the sums are
    /// reduced many times) was computed with zlib's adler32.
    @Test(
        "Adler-32 known values",
        arguments: [
            (Array("Wikipedia".utf8), 0x11E6_0398), ([], 1), ([UInt8](repeating: 0xFF, count: 100_000), 0x149A_302C),
        ] as [([UInt8], UInt32)])
    func adler32(bytes: [UInt8], expected: UInt32) {
        #expect(Adler32.checksum(bytes) == expected)
    }

    @Test("a zlib stream of stored blocks gives back its data", arguments: [0, 1, 65_535, 65_536, 200_000])
    func zlibStored(count: Int) {
        let data = (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ $0 / 7) }
        let stream = PNGImage.zlibStored(data)
        #expect(inflateStored(stream) == data)
        #expect(stream.count == 2 + 4 + max(1, (count + 65_534) / 65_535) * 5 + count)
    }

    @Test("chunks, header and scanlines of a QR code's PNG", arguments: PNGImage.BitDepth.allCases)
    func structure(depth: PNGImage.BitDepth) throws {
        let code = try QRCode(text: "Cubby")
        let scale = 3
        let png = code.png(scale: scale, bitDepth: depth)
        #expect(Array(png.prefix(8)) == [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
        let parts = chunks(png)
        #expect(parts.map(\.0) == ["IHDR", "IDAT", "IEND"])
        let side = (code.size + 8) * scale
        let header = parts[0].1
        #expect(header.count == 13)
        #expect(Int(bigEndian(header[0..<4])) == side)
        #expect(Int(bigEndian(header[4..<8])) == side)
        #expect(Array(header[8...]) == [UInt8(depth.rawValue), 0, 0, 0, 0])
        #expect(parts[2].1.isEmpty)

        let raw = inflateStored(parts[1].1)
        let rowBytes = depth == .one ? (side + 7) / 8 : side
        #expect(raw.count == (rowBytes + 1) * side)
        for y in 0..<side {
            let row = raw[(rowBytes + 1) * y..<(rowBytes + 1) * (y + 1)]
            #expect(row.first == 0, "filter type 0")
            for x in 0..<side {
                let light: Bool
                switch depth {
                case .one: light = row[row.startIndex + 1 + x / 8] & (0x80 >> UInt8(x % 8)) != 0
                case .eight: light = row[row.startIndex + 1 + x] == 255
                }
                let r = y / scale - 4
                let c = x / scale - 4
                let dark = r >= 0 && r < code.size && c >= 0 && c < code.size && code[r, c]
                #expect(light == !dark, "pixel \(x), \(y)")
                if light == dark { return }
            }
        }
    }

    @Test("the padding bits of a 1-bit row are 0 and a width of one pixel works")
    func oddWidths() {
        let png = PNGImage.grayscale(width: 1, height: 2, bitDepth: .one) { _, y in y == 0 ? 255 : 0 }
        let raw = inflateStored(chunks(png)[1].1)
        #expect(raw == [0, 0x80, 0, 0x00])
        let wide = PNGImage.grayscale(width: 9, height: 1, bitDepth: .one) { _, _ in 255 }
        #expect(inflateStored(chunks(wide)[1].1) == [0, 0xFF, 0x80])
    }

    @Test(
        "zbarimg reads the text back from the PNG", .enabled(if: hasZbar),
        arguments: [
            ("Cubby", PNGImage.BitDepth.one, 4), ("Grüße aus dem Schließfach 📦", .eight, 2),
            (String(repeating: "QR.token-", count: 30), .one, 2), ("v1.eyJwIjoiMTIzIn0.c2lnbmF0dXJl", .eight, 6),
        ])
    func zbarRoundTrip(text: String, depth: PNGImage.BitDepth, scale: Int) throws {
        let png = try QRCode(text: text).png(scale: scale, bitDepth: depth)
        #expect(try zbarDecode(png: png) == text)
    }
}
