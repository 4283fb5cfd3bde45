import Foundation
import Testing

@testable import CubbyCore

private let zbarPath = "/usr/bin/zbarimg"
private let hasZbar = FileManager.default.isExecutableFile(atPath: zbarPath)

private let totpURI =
    "otpauth://totp/Cubby:alice%40example.org?secret=JBSWY3DPEHPK3PXP&issuer=Cubby&algorithm=SHA1&digits=6&period=30"

/// Deterministic printable ASCII text of `count` bytes.
private func sampleText(_ count: Int) -> String {
    let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789 $%*+-./:=?&#!@~_,;()")
    var text = ""
    for i in 0..<count {
        text.append(alphabet[(i * 37 + i / 7) % alphabet.count])
    }
    return text
}

/// Decodes the symbol's PGM image with zbarimg (QR only); nil when nothing was decoded.
private func zbarDecode(_ code: QRCode) throws -> String? {
    let url = FileManager.default.temporaryDirectory
        .appendingPathComponent("cubby-qr-\(UUID().uuidString).pgm")
    try Data(code.pgm()).write(to: url)
    defer { try? FileManager.default.removeItem(at: url) }

    // Only the QR decoder: random module patterns can look like 1D barcodes.
    let result = try ChildProcess.run(zbarPath, ["--quiet", "--raw", "-Sdisable", "-Sqrcode.enable", url.path])
    guard result.termination == .exited(0) else { return nil }
    let output = result.standardOutput
    var text = String(decoding: output, as: UTF8.self)
    if text.hasSuffix("\n") {
        text.removeLast()
    }
    return text
}

@Suite("QRCode")
struct QRCodeTests {
    // MARK: Structure

    @Test("size is 17 + 4 × version")
    func sizeMatchesVersion() throws {
        for length in [0, 1, 14, 15, 100, 300, 1000, 2331] {
            let code = try QRCode(bytes: [UInt8](repeating: 0x41, count: length), correction: .medium)
            #expect((1...40).contains(code.version))
            #expect(code.size == 17 + 4 * code.version)
            #expect(code.modules.count == code.size * code.size)
        }
    }

    @Test("the smallest version that fits is chosen")
    func smallestVersion() throws {
        // Byte-mode capacities of version 1 and version 40 (ISO/IEC 18004 Table 7).
        let limits: [(QRCode.ErrorCorrection, Int, Int)] = [
            (.low, 17, 2953), (.medium, 14, 2331), (.quartile, 11, 1663), (.high, 7, 1273),
        ]
        for (level, v1, v40) in limits {
            #expect(try QRCode(bytes: [UInt8](repeating: 0x30, count: v1), correction: level).version == 1)
            #expect(try QRCode(bytes: [UInt8](repeating: 0x30, count: v1 + 1), correction: level).version == 2)
            #expect(try QRCode(bytes: [UInt8](repeating: 0x30, count: v40), correction: level).version == 40)
            #expect(QRCode.byteCapacity(version: 1, correction: level) == v1)
            #expect(QRCode.byteCapacity(version: 40, correction: level) == v40)
        }
    }

    @Test("finder patterns and separators sit in three corners")
    func finderPatterns() throws {
        let code = try QRCode(text: totpURI)
        let n = code.size
        for (top, left) in [(0, 0), (0, n - 7), (n - 7, 0)] {
            for r in 0..<7 {
                for c in 0..<7 {
                    let ring = max(abs(r - 3), abs(c - 3))
                    #expect(code[top + r, left + c] == (ring != 2), "finder at \(top),\(left), module \(r),\(c)")
                }
            }
        }
        for i in 0...7 {
            #expect(!code[7, i] && !code[i, 7])
            #expect(!code[7, n - 1 - i] && !code[i, n - 8])
            #expect(!code[n - 8, i] && !code[n - 1 - i, 7])
        }
    }

    @Test("timing patterns alternate and the dark module is set")
    func timingPatterns() throws {
        for text in ["x", totpURI, sampleText(1000)] {
            let code = try QRCode(text: text)
            for i in 8..<(code.size - 8) {
                #expect(code[6, i] == (i % 2 == 0), "row 6, column \(i)")
                #expect(code[i, 6] == (i % 2 == 0), "row \(i), column 6")
            }
            #expect(code[code.size - 8, 8])
        }
    }

    @Test("both copies of the format information agree with level and mask")
    func formatInformation() throws {
        for level in QRCode.ErrorCorrection.allCases {
            let code = try QRCode(text: "Cubby", correction: level)
            let n = code.size
            var first = 0
            var second = 0
            let firstPositions = [
                (0, 8), (1, 8), (2, 8), (3, 8), (4, 8), (5, 8), (7, 8), (8, 8),
                (8, 7), (8, 5), (8, 4), (8, 3), (8, 2), (8, 1), (8, 0),
            ]
            for (bit, position) in firstPositions.enumerated() where code[position.0, position.1] {
                first |= 1 << bit
            }
            for bit in 0..<8 where code[8, n - 1 - bit] {
                second |= 1 << bit
            }
            for bit in 8..<15 where code[n - 15 + bit, 8] {
                second |= 1 << bit
            }
            #expect(first == second)
            #expect(first == QRCode.formatBits(correction: level, mask: code.mask))
        }
    }

    @Test("format and version information match published values")
    func bchCodes() {
        // ISO/IEC 18004 Annex C: level M, mask 0 is 101010000010010; level L, mask 4 is 110011000101111.
        #expect(QRCode.formatBits(correction: .medium, mask: 0) == 0b1010100_00010010)
        #expect(QRCode.formatBits(correction: .low, mask: 4) == 0b1100110_00101111)
        // ISO/IEC 18004 Annex D: version 7 is 0x07C94, version 40 is 0x28C69.
        #expect(QRCode.versionBits(version: 7) == 0x07C94)
        #expect(QRCode.versionBits(version: 40) == 0x28C69)
    }

    @Test("the block table adds up to each version's codeword count")
    func blockTable() {
        for version in 1...40 {
            // Modules left for data and EC codewords (ISO/IEC 18004 Table 1), in whole codewords.
            var modules = (16 * version + 128) * version + 64
            if version >= 2 {
                let n = version / 7 + 2
                modules -= (25 * n - 10) * n - 55
                if version >= 7 { modules -= 36 }
            }
            for level in 0..<4 {
                let layout = QRCode.blockTable[version - 1][level]
                #expect(layout.totalCodewords == modules / 8, "version \(version), level \(level)")
                #expect(layout.group2Blocks == 0 || layout.group2Data == layout.group1Data + 1)
            }
        }
    }

    @Test("payloads over the version 40 capacity are rejected")
    func tooLong() throws {
        #expect(throws: QRCode.EncodeError.tooLong(bytes: 2954, max: 2953)) {
            try QRCode(bytes: [UInt8](repeating: 0x61, count: 2954), correction: .low)
        }
        #expect(throws: QRCode.EncodeError.tooLong(bytes: 1274, max: 1273)) {
            try QRCode(bytes: [UInt8](repeating: 0x61, count: 1274), correction: .high)
        }
        #expect(try QRCode(bytes: [UInt8](repeating: 0x61, count: 2953), correction: .low).version == 40)
    }

    @Test("encoding is deterministic")
    func deterministic() throws {
        #expect(try QRCode(text: totpURI) == QRCode(text: totpURI))
        #expect(try QRCode(text: "a") != QRCode(text: "b"))
    }

    // MARK: Reed–Solomon

    @Test("Reed–Solomon codewords of the 1-M HELLO WORLD example")
    func reedSolomonKnownAnswer() {
        let data: [UInt8] = [32, 91, 11, 120, 209, 114, 220, 77, 67, 64, 236, 17, 236, 17, 236, 17]
        #expect(QRCode.reedSolomon(data, ecCount: 10) == [196, 35, 39, 119, 235, 215, 231, 226, 93, 23])
    }

    @Test("data codewords of the 1-M HELLO WORLD example in byte mode")
    func dataCodewords() {
        // 0100 | 00001011 | "HELLO WORLD" | 0000 | pad 0xEC 0x11 ...
        let data = QRCode.dataCodewords(for: Array("HELLO WORLD".utf8), version: 1, capacity: 16)
        #expect(
            data == [0x40, 0xB4, 0x84, 0x54, 0xC4, 0xC4, 0xF2, 0x05, 0x74, 0xF5, 0x24, 0xC4, 0x40, 0xEC, 0x11, 0xEC])
    }

    // MARK: Images

    @Test("SVG output carries an escaped accessible label")
    func svg() throws {
        let code = try QRCode(text: "locker 7")
        let svg = code.svg(label: "Open <locker> \"7\" & 'go'", moduleSize: 5)
        let side = (code.size + 8) * 5
        #expect(svg.hasPrefix("<svg xmlns=\"http://www.w3.org/2000/svg\""))
        #expect(svg.contains("width=\"\(side)\" height=\"\(side)\""))
        #expect(svg.contains("viewBox=\"0 0 \(code.size + 8) \(code.size + 8)\""))
        #expect(svg.contains("role=\"img\""))
        let escaped = "Open &lt;locker&gt; &quot;7&quot; &amp; &apos;go&apos;"
        #expect(svg.contains("aria-label=\"\(escaped)\""))
        #expect(svg.contains("<title>\(escaped)</title>"))
        #expect(svg.contains("fill=\"#fff\""))
        #expect(svg.contains("fill=\"#000\""))
        #expect(!svg.contains("<locker>"))
        #expect(svg.hasSuffix("</svg>\n"))
        // Top-left finder pattern: its first row is one 7-module run after the quiet zone.
        #expect(svg.contains("d=\"M4 4h7v1h-7z"))
    }

    @Test("PGM output has a header, a quiet zone and the modules")
    func pgm() throws {
        let code = try QRCode(text: "locker 7")
        let scale = 3
        let side = (code.size + 8) * scale
        let image = code.pgm(scale: scale)
        let header = Array("P5\n\(side) \(side)\n255\n".utf8)
        #expect(Array(image.prefix(header.count)) == header)
        #expect(image.count == header.count + side * side)
        let pixels = Array(image.dropFirst(header.count))
        for row in 0..<code.size {
            for col in 0..<code.size {
                let y = (row + 4) * scale + 1
                let x = (col + 4) * scale + 1
                #expect(pixels[y * side + x] == (code[row, col] ? 0 : 255))
            }
        }
        for i in 0..<(4 * scale) {
            #expect(pixels[i * side + i] == 255)
            #expect(pixels[(side - 1 - i) * side + (side - 1 - i)] == 255)
        }
    }

    // MARK: Round trips through zbarimg

    @Test(
        "zbarimg decodes sample payloads",
        .enabled(if: hasZbar),
        arguments: ["Cubby", "Grüße aus dem Schließfach 📦", totpURI, sampleText(300), sampleText(1000)]
    )
    func zbarRoundTrip(text: String) throws {
        let code = try QRCode(text: text)
        #expect(try zbarDecode(code) == text)
    }

    @Test(
        "zbarimg decodes every error correction level", .enabled(if: hasZbar),
        arguments: QRCode.ErrorCorrection.allCases)
    func zbarLevels(level: QRCode.ErrorCorrection) throws {
        for text in ["Cubby", totpURI, sampleText(300), sampleText(1000)] {
            let code = try QRCode(text: text, correction: level)
            #expect(try zbarDecode(code) == text, "version \(code.version), \(text.utf8.count) bytes")
        }
    }

    @Test("zbarimg decodes a large symbol with version information", .enabled(if: hasZbar))
    func zbarLargeVersion() throws {
        let text = sampleText(1000)
        let code = try QRCode(text: text, correction: .medium)
        #expect(code.version >= 7)
        #expect(try zbarDecode(code) == text)
    }

    @Test("zbarimg decodes a full version 40 symbol", .enabled(if: hasZbar), arguments: QRCode.ErrorCorrection.allCases)
    func zbarVersion40(level: QRCode.ErrorCorrection) throws {
        let text = sampleText(QRCode.byteCapacity(version: 40, correction: level))
        let code = try QRCode(text: text, correction: level)
        #expect(code.version == 40)
        #expect(try zbarDecode(code) == text)
    }

    @Test("zbarimg decodes every data mask", .enabled(if: hasZbar), arguments: 0..<8)
    func zbarMasks(mask: Int) throws {
        let text = sampleText(120)
        for level in QRCode.ErrorCorrection.allCases {
            let code = try QRCode(bytes: Array(text.utf8), correction: level, forcedMask: mask)
            #expect(code.mask == mask)
            #expect(try zbarDecode(code) == text, "mask \(mask), level \(level)")
        }
    }
}
