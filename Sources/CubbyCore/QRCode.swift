#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// A QR Code symbol (ISO/IEC 18004:2015), encoded in byte mode.
///
/// The encoder picks the smallest version (1–40) that holds the data at the
/// requested error correction level, and the data mask with the lowest penalty.
public struct QRCode: Sendable, Equatable {
    /// Error correction level; recovers roughly 7 %, 15 %, 25 % and 30 % of codewords.
    public enum ErrorCorrection: Sendable, CaseIterable {
        case low, medium, quartile, high
    }

    /// Why a payload could not be encoded.
    public enum EncodeError: Error, Equatable {
        /// The payload has `bytes` bytes; version 40 holds at most `max` at this level.
        case tooLong(bytes: Int, max: Int)
    }

    /// Symbol version, 1...40.
    public let version: Int
    /// Modules per side: 17 + 4 × version.
    public let size: Int
    /// modules[row * size + col] == true means dark.
    public let modules: [Bool]
    /// The data mask pattern reference applied, 0...7.
    let mask: Int

    /// Encodes `bytes` in byte mode.
    public init(bytes: [UInt8], correction: ErrorCorrection = .medium) throws {
        try self.init(bytes: bytes, correction: correction, forcedMask: nil)
    }

    /// Encodes the UTF-8 bytes of `text` in byte mode.
    public init(text: String, correction: ErrorCorrection = .medium) throws {
        try self.init(bytes: Array(text.utf8), correction: correction, forcedMask: nil)
    }

    /// Encodes with the given mask (0...7), or the lowest-penalty mask when nil.
    init(bytes: [UInt8], correction: ErrorCorrection, forcedMask: Int?) throws {
        guard
            let version = (1...40).first(where: {
                bytes.count <= Self.byteCapacity(version: $0, correction: correction)
            })
        else {
            throw EncodeError.tooLong(bytes: bytes.count, max: Self.byteCapacity(version: 40, correction: correction))
        }
        var matrix = Matrix(version: version)
        matrix.drawFunctionPatterns()
        matrix.placeCodewords(Self.codewords(for: bytes, version: version, correction: correction))

        let mask: Int
        if let forcedMask {
            precondition((0..<8).contains(forcedMask), "mask must be 0...7")
            mask = forcedMask
        } else {
            var best = (mask: 0, penalty: Int.max)
            for candidate in 0..<8 {
                var trial = matrix
                trial.applyMask(candidate)
                trial.drawFormatInformation(correction: correction, mask: candidate)
                let penalty = trial.penalty()
                if penalty < best.penalty { best = (candidate, penalty) }
            }
            mask = best.mask
        }
        matrix.applyMask(mask)
        matrix.drawFormatInformation(correction: correction, mask: mask)

        self.version = version
        self.size = matrix.size
        self.modules = matrix.dark
        self.mask = mask
    }

    /// The module at `row`, `col` (0-based, from the top-left); true means dark.
    public subscript(row: Int, col: Int) -> Bool {
        precondition(row >= 0 && row < size && col >= 0 && col < size, "module position out of range")
        return modules[row * size + col]
    }

    // MARK: - Rendering

    /// An SVG image with a 4-module quiet zone and `moduleSize` px per module.
    ///
    /// Dark modules are one black path over a white background. `label` (XML-escaped)
    /// becomes the `aria-label` and `<title>` of an element with `role="img"`.
    public func svg(label: String, moduleSize: Int = 4) -> String {
        let quiet = 4
        let side = size + 2 * quiet
        let pixels = side * max(1, moduleSize)
        let text = Self.xmlEscaped(label)
        var path = ""
        for row in 0..<size {
            var col = 0
            while col < size {
                guard modules[row * size + col] else {
                    col += 1
                    continue
                }
                let start = col
                while col < size && modules[row * size + col] { col += 1 }
                path += "M\(start + quiet) \(row + quiet)h\(col - start)v1h-\(col - start)z"
            }
        }
        return "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(pixels)\" height=\"\(pixels)\""
            + " viewBox=\"0 0 \(side) \(side)\" role=\"img\" aria-label=\"\(text)\" shape-rendering=\"crispEdges\">"
            + "<title>\(text)</title>"
            + "<rect width=\"\(side)\" height=\"\(side)\" fill=\"#fff\"/>"
            + "<path fill=\"#000\" stroke=\"none\" d=\"\(path)\"/>"
            + "</svg>\n"
    }

    /// A binary PGM (P5) image with a 4-module quiet zone, `scale` px per module, for tests and tools.
    public func pgm(scale: Int = 4) -> [UInt8] {
        let scale = max(1, scale)
        let quiet = 4
        let side = (size + 2 * quiet) * scale
        var out = Array("P5\n\(side) \(side)\n255\n".utf8)
        out.reserveCapacity(out.count + side * side)
        for y in 0..<side {
            let row = y / scale - quiet
            for x in 0..<side {
                let col = x / scale - quiet
                let isDark = row >= 0 && row < size && col >= 0 && col < size && modules[row * size + col]
                out.append(isDark ? 0 : 255)
            }
        }
        return out
    }

    /// Escapes text for XML character data and attribute values; drops characters XML 1.0 forbids.
    static func xmlEscaped(_ text: String) -> String {
        var out = ""
        out.unicodeScalars.reserveCapacity(text.unicodeScalars.count)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&apos;"
            case "\t", "\n", "\r": out.unicodeScalars.append(scalar)
            default:
                if scalar.value < 0x20 || scalar.value == 0xFFFE || scalar.value == 0xFFFF { continue }
                out.unicodeScalars.append(scalar)
            }
        }
        return out
    }
}

// MARK: - Data encoding and error correction

extension QRCode {
    /// Number of codewords in one error correction block layout (ISO/IEC 18004 Table 9):
    /// EC codewords per block, then count and data codewords of group 1 and group 2 blocks.
    struct BlockLayout: Sendable, Equatable {
        let ecPerBlock: Int
        let group1Blocks: Int
        let group1Data: Int
        let group2Blocks: Int
        let group2Data: Int

        var blockCount: Int { group1Blocks + group2Blocks }
        var dataCodewords: Int { group1Blocks * group1Data + group2Blocks * group2Data }
        var totalCodewords: Int { dataCodewords + blockCount * ecPerBlock }
    }

    /// Error correction characteristics, from ISO/IEC 18004 Table 9, indexed
    /// `[version - 1][level]` with levels in the order L, M, Q, H. Each entry is
    /// (EC codewords per block, group 1 blocks, data codewords each, group 2 blocks, data codewords each).
    static let blockTable: [[BlockLayout]] = {
        func b(_ ec: Int, _ n1: Int, _ d1: Int, _ n2: Int, _ d2: Int) -> BlockLayout {
            BlockLayout(ecPerBlock: ec, group1Blocks: n1, group1Data: d1, group2Blocks: n2, group2Data: d2)
        }
        return [
            // version 1
            [b(7, 1, 19, 0, 0), b(10, 1, 16, 0, 0), b(13, 1, 13, 0, 0), b(17, 1, 9, 0, 0)],
            // version 2
            [b(10, 1, 34, 0, 0), b(16, 1, 28, 0, 0), b(22, 1, 22, 0, 0), b(28, 1, 16, 0, 0)],
            // version 3
            [b(15, 1, 55, 0, 0), b(26, 1, 44, 0, 0), b(18, 2, 17, 0, 0), b(22, 2, 13, 0, 0)],
            // version 4
            [b(20, 1, 80, 0, 0), b(18, 2, 32, 0, 0), b(26, 2, 24, 0, 0), b(16, 4, 9, 0, 0)],
            // version 5
            [b(26, 1, 108, 0, 0), b(24, 2, 43, 0, 0), b(18, 2, 15, 2, 16), b(22, 2, 11, 2, 12)],
            // version 6
            [b(18, 2, 68, 0, 0), b(16, 4, 27, 0, 0), b(24, 4, 19, 0, 0), b(28, 4, 15, 0, 0)],
            // version 7
            [b(20, 2, 78, 0, 0), b(18, 4, 31, 0, 0), b(18, 2, 14, 4, 15), b(26, 4, 13, 1, 14)],
            // version 8
            [b(24, 2, 97, 0, 0), b(22, 2, 38, 2, 39), b(22, 4, 18, 2, 19), b(26, 4, 14, 2, 15)],
            // version 9
            [b(30, 2, 116, 0, 0), b(22, 3, 36, 2, 37), b(20, 4, 16, 4, 17), b(24, 4, 12, 4, 13)],
            // version 10
            [b(18, 2, 68, 2, 69), b(26, 4, 43, 1, 44), b(24, 6, 19, 2, 20), b(28, 6, 15, 2, 16)],
            // version 11
            [b(20, 4, 81, 0, 0), b(30, 1, 50, 4, 51), b(28, 4, 22, 4, 23), b(24, 3, 12, 8, 13)],
            // version 12
            [b(24, 2, 92, 2, 93), b(22, 6, 36, 2, 37), b(26, 4, 20, 6, 21), b(28, 7, 14, 4, 15)],
            // version 13
            [b(26, 4, 107, 0, 0), b(22, 8, 37, 1, 38), b(24, 8, 20, 4, 21), b(22, 12, 11, 4, 12)],
            // version 14
            [b(30, 3, 115, 1, 116), b(24, 4, 40, 5, 41), b(20, 11, 16, 5, 17), b(24, 11, 12, 5, 13)],
            // version 15
            [b(22, 5, 87, 1, 88), b(24, 5, 41, 5, 42), b(30, 5, 24, 7, 25), b(24, 11, 12, 7, 13)],
            // version 16
            [b(24, 5, 98, 1, 99), b(28, 7, 45, 3, 46), b(24, 15, 19, 2, 20), b(30, 3, 15, 13, 16)],
            // version 17
            [b(28, 1, 107, 5, 108), b(28, 10, 46, 1, 47), b(28, 1, 22, 15, 23), b(28, 2, 14, 17, 15)],
            // version 18
            [b(30, 5, 120, 1, 121), b(26, 9, 43, 4, 44), b(28, 17, 22, 1, 23), b(28, 2, 14, 19, 15)],
            // version 19
            [b(28, 3, 113, 4, 114), b(26, 3, 44, 11, 45), b(26, 17, 21, 4, 22), b(26, 9, 13, 16, 14)],
            // version 20
            [b(28, 3, 107, 5, 108), b(26, 3, 41, 13, 42), b(30, 15, 24, 5, 25), b(28, 15, 15, 10, 16)],
            // version 21
            [b(28, 4, 116, 4, 117), b(26, 17, 42, 0, 0), b(28, 17, 22, 6, 23), b(30, 19, 16, 6, 17)],
            // version 22
            [b(28, 2, 111, 7, 112), b(28, 17, 46, 0, 0), b(30, 7, 24, 16, 25), b(24, 34, 13, 0, 0)],
            // version 23
            [b(30, 4, 121, 5, 122), b(28, 4, 47, 14, 48), b(30, 11, 24, 14, 25), b(30, 16, 15, 14, 16)],
            // version 24
            [b(30, 6, 117, 4, 118), b(28, 6, 45, 14, 46), b(30, 11, 24, 16, 25), b(30, 30, 16, 2, 17)],
            // version 25
            [b(26, 8, 106, 4, 107), b(28, 8, 47, 13, 48), b(30, 7, 24, 22, 25), b(30, 22, 15, 13, 16)],
            // version 26
            [b(28, 10, 114, 2, 115), b(28, 19, 46, 4, 47), b(28, 28, 22, 6, 23), b(30, 33, 16, 4, 17)],
            // version 27
            [b(30, 8, 122, 4, 123), b(28, 22, 45, 3, 46), b(30, 8, 23, 26, 24), b(30, 12, 15, 28, 16)],
            // version 28
            [b(30, 3, 117, 10, 118), b(28, 3, 45, 23, 46), b(30, 4, 24, 31, 25), b(30, 11, 15, 31, 16)],
            // version 29
            [b(30, 7, 116, 7, 117), b(28, 21, 45, 7, 46), b(30, 1, 23, 37, 24), b(30, 19, 15, 26, 16)],
            // version 30
            [b(30, 5, 115, 10, 116), b(28, 19, 47, 10, 48), b(30, 15, 24, 25, 25), b(30, 23, 15, 25, 16)],
            // version 31
            [b(30, 13, 115, 3, 116), b(28, 2, 46, 29, 47), b(30, 42, 24, 1, 25), b(30, 23, 15, 28, 16)],
            // version 32
            [b(30, 17, 115, 0, 0), b(28, 10, 46, 23, 47), b(30, 10, 24, 35, 25), b(30, 19, 15, 35, 16)],
            // version 33
            [b(30, 17, 115, 1, 116), b(28, 14, 46, 21, 47), b(30, 29, 24, 19, 25), b(30, 11, 15, 46, 16)],
            // version 34
            [b(30, 13, 115, 6, 116), b(28, 14, 46, 23, 47), b(30, 44, 24, 7, 25), b(30, 59, 16, 1, 17)],
            // version 35
            [b(30, 12, 121, 7, 122), b(28, 12, 47, 26, 48), b(30, 39, 24, 14, 25), b(30, 22, 15, 41, 16)],
            // version 36
            [b(30, 6, 121, 14, 122), b(28, 6, 47, 34, 48), b(30, 46, 24, 10, 25), b(30, 2, 15, 64, 16)],
            // version 37
            [b(30, 17, 122, 4, 123), b(28, 29, 46, 14, 47), b(30, 49, 24, 10, 25), b(30, 24, 15, 46, 16)],
            // version 38
            [b(30, 4, 122, 18, 123), b(28, 13, 46, 32, 47), b(30, 48, 24, 14, 25), b(30, 42, 15, 32, 16)],
            // version 39
            [b(30, 20, 117, 4, 118), b(28, 40, 47, 7, 48), b(30, 43, 24, 22, 25), b(30, 10, 15, 67, 16)],
            // version 40
            [b(30, 19, 118, 6, 119), b(28, 18, 47, 31, 48), b(30, 34, 24, 34, 25), b(30, 20, 15, 61, 16)],
        ]
    }()

    /// Row/column centres of alignment patterns per version (ISO/IEC 18004 Annex E, Table E.1).
    static let alignmentPositions: [[Int]] = [
        [], [6, 18], [6, 22], [6, 26], [6, 30], [6, 34],
        [6, 22, 38], [6, 24, 42], [6, 26, 46], [6, 28, 50], [6, 30, 54], [6, 32, 58], [6, 34, 62],
        [6, 26, 46, 66], [6, 26, 48, 70], [6, 26, 50, 74], [6, 30, 54, 78], [6, 30, 56, 82], [6, 30, 58, 86],
        [6, 34, 62, 90],
        [6, 28, 50, 72, 94], [6, 26, 50, 74, 98], [6, 30, 54, 78, 102], [6, 28, 54, 80, 106],
        [6, 32, 58, 84, 110], [6, 30, 58, 86, 114], [6, 34, 62, 90, 118],
        [6, 26, 50, 74, 98, 122], [6, 30, 54, 78, 102, 126], [6, 26, 52, 78, 104, 130],
        [6, 30, 56, 82, 108, 134], [6, 34, 60, 86, 112, 138], [6, 30, 58, 86, 114, 142],
        [6, 34, 62, 90, 118, 146],
        [6, 30, 54, 78, 102, 126, 150], [6, 24, 50, 76, 102, 128, 154], [6, 28, 54, 80, 106, 132, 158],
        [6, 32, 58, 84, 110, 136, 162], [6, 26, 54, 82, 110, 138, 166], [6, 30, 58, 86, 114, 142, 170],
    ]

    /// Bits of the byte-mode character count indicator (ISO/IEC 18004 Table 3).
    static func characterCountBits(version: Int) -> Int {
        version <= 9 ? 8 : 16
    }

    /// The most bytes a symbol of `version` holds at `correction` in byte mode.
    static func byteCapacity(version: Int, correction: ErrorCorrection) -> Int {
        let dataBits = blockTable[version - 1][correction.tableIndex].dataCodewords * 8
        return (dataBits - 4 - characterCountBits(version: version)) / 8
    }

    /// The final codeword sequence: data and EC codewords, split into blocks and interleaved.
    static func codewords(for bytes: [UInt8], version: Int, correction: ErrorCorrection) -> [UInt8] {
        let layout = blockTable[version - 1][correction.tableIndex]
        let data = dataCodewords(for: bytes, version: version, capacity: layout.dataCodewords)

        var blocks: [[UInt8]] = []
        var offset = 0
        for index in 0..<layout.blockCount {
            let count = index < layout.group1Blocks ? layout.group1Data : layout.group2Data
            blocks.append(Array(data[offset..<(offset + count)]))
            offset += count
        }
        let ecBlocks = blocks.map { reedSolomon($0, ecCount: layout.ecPerBlock) }

        var result: [UInt8] = []
        result.reserveCapacity(layout.totalCodewords)
        for index in 0..<max(layout.group1Data, layout.group2Data) {
            for block in blocks where index < block.count {
                result.append(block[index])
            }
        }
        for index in 0..<layout.ecPerBlock {
            for block in ecBlocks {
                result.append(block[index])
            }
        }
        return result
    }

    /// Mode indicator, character count, data, terminator and pad codewords (0xEC, 0x11).
    static func dataCodewords(for bytes: [UInt8], version: Int, capacity: Int) -> [UInt8] {
        var writer = BitWriter()
        writer.append(0b0100, bits: 4)
        writer.append(bytes.count, bits: characterCountBits(version: version))
        for byte in bytes {
            writer.append(Int(byte), bits: 8)
        }
        writer.append(0, bits: min(4, capacity * 8 - writer.count))
        writer.append(0, bits: (8 - writer.count % 8) % 8)
        var result = writer.bytes
        var pad: UInt8 = 0xEC
        while result.count < capacity {
            result.append(pad)
            pad = pad == 0xEC ? 0x11 : 0xEC
        }
        return result
    }

    /// Reed–Solomon error correction codewords for `data` over GF(256) with
    /// primitive polynomial 0x11D and generator ∏ (x − α^i), i = 0..<ecCount.
    static func reedSolomon(_ data: [UInt8], ecCount: Int) -> [UInt8] {
        // Generator coefficients, highest degree first; the leading 1 is kept at index 0.
        var generator: [UInt8] = [1]
        for i in 0..<ecCount {
            var next = [UInt8](repeating: 0, count: generator.count + 1)
            for (j, coefficient) in generator.enumerated() {
                next[j] ^= coefficient
                next[j + 1] ^= gfMultiply(coefficient, gfExp[i])
            }
            generator = next
        }
        var remainder = [UInt8](repeating: 0, count: ecCount)
        for byte in data {
            let factor = byte ^ remainder[0]
            remainder.removeFirst()
            remainder.append(0)
            for k in 0..<ecCount {
                remainder[k] ^= gfMultiply(generator[k + 1], factor)
            }
        }
        return remainder
    }

    /// α^i in GF(256), for i in 0..<510.
    private static let gfExp: [UInt8] = {
        var table = [UInt8](repeating: 0, count: 510)
        var x = 1
        for i in 0..<255 {
            table[i] = UInt8(x)
            x <<= 1
            if x & 0x100 != 0 { x ^= 0x11D }
        }
        for i in 255..<510 {
            table[i] = table[i - 255]
        }
        return table
    }()

    /// log_α(x) in GF(256); entry 0 is unused.
    private static let gfLog: [Int] = {
        var table = [Int](repeating: 0, count: 256)
        for i in 0..<255 {
            table[Int(gfExp[i])] = i
        }
        return table
    }()

    static func gfMultiply(_ a: UInt8, _ b: UInt8) -> UInt8 {
        if a == 0 || b == 0 { return 0 }
        return gfExp[gfLog[Int(a)] + gfLog[Int(b)]]
    }

    /// Remainder of value · x^degree divided by `generator` over GF(2).
    static func bchRemainder(_ value: Int, generator: Int, degree: Int) -> Int {
        var remainder = value << degree
        var bit = Int.bitWidth - remainder.leadingZeroBitCount - 1
        while bit >= degree {
            if (remainder >> bit) & 1 == 1 {
                remainder ^= generator << (bit - degree)
            }
            bit -= 1
        }
        return remainder
    }

    /// The 15-bit format information: level and mask, BCH(15,5) with generator 0x537, XOR 0x5412.
    static func formatBits(correction: ErrorCorrection, mask: Int) -> Int {
        let data = correction.formatIndicator << 3 | mask
        return (data << 10 | bchRemainder(data, generator: 0x537, degree: 10)) ^ 0x5412
    }

    /// The 18-bit version information, BCH(18,6) with generator 0x1F25 (versions 7 and up).
    static func versionBits(version: Int) -> Int {
        version << 12 | bchRemainder(version, generator: 0x1F25, degree: 12)
    }
}

extension QRCode.ErrorCorrection {
    /// Column in `QRCode.blockTable`.
    var tableIndex: Int {
        switch self {
        case .low: 0
        case .medium: 1
        case .quartile: 2
        case .high: 3
        }
    }

    /// Error correction level indicator in the format information (ISO/IEC 18004 Table 12).
    var formatIndicator: Int {
        switch self {
        case .low: 0b01
        case .medium: 0b00
        case .quartile: 0b11
        case .high: 0b10
        }
    }
}

/// Appends values most significant bit first.
private struct BitWriter {
    private(set) var bytes: [UInt8] = []
    private(set) var count = 0

    mutating func append(_ value: Int, bits: Int) {
        var bit = bits - 1
        while bit >= 0 {
            if count % 8 == 0 { bytes.append(0) }
            if (value >> bit) & 1 == 1 {
                bytes[count / 8] |= UInt8(0x80 >> (count % 8))
            }
            count += 1
            bit -= 1
        }
    }
}

// MARK: - Symbol layout

/// A symbol under construction; `reserved` marks function patterns and format/version areas.
private struct Matrix {
    let version: Int
    let size: Int
    var dark: [Bool]
    var reserved: [Bool]

    init(version: Int) {
        self.version = version
        self.size = 17 + 4 * version
        self.dark = [Bool](repeating: false, count: size * size)
        self.reserved = [Bool](repeating: false, count: size * size)
    }

    private mutating func setFunction(_ row: Int, _ col: Int, _ isDark: Bool) {
        dark[row * size + col] = isDark
        reserved[row * size + col] = true
    }

    /// Finder patterns with separators, timing patterns, alignment patterns, version
    /// information, and reserved format information areas with the dark module.
    mutating func drawFunctionPatterns() {
        for i in 0..<size {
            setFunction(6, i, i % 2 == 0)
            setFunction(i, 6, i % 2 == 0)
        }
        drawFinder(centerRow: 3, centerCol: 3)
        drawFinder(centerRow: 3, centerCol: size - 4)
        drawFinder(centerRow: size - 4, centerCol: 3)

        let positions = QRCode.alignmentPositions[version - 1]
        let last = size - 7
        for row in positions {
            for col in positions {
                // Skip the three positions that would overlap finder patterns.
                if (row == 6 && col == 6) || (row == 6 && col == last) || (row == last && col == 6) { continue }
                for dr in -2...2 {
                    for dc in -2...2 {
                        setFunction(row + dr, col + dc, max(abs(dr), abs(dc)) != 1)
                    }
                }
            }
        }

        drawFormatBits(0)
        if version >= 7 {
            let bits = QRCode.versionBits(version: version)
            for i in 0..<18 {
                let isDark = (bits >> i) & 1 == 1
                let a = size - 11 + i % 3
                let b = i / 3
                setFunction(b, a, isDark)  // top right, 6 rows × 3 columns
                setFunction(a, b, isDark)  // bottom left, 3 rows × 6 columns
            }
        }
    }

    /// A 7×7 finder pattern and its light separator, clipped to the symbol.
    private mutating func drawFinder(centerRow: Int, centerCol: Int) {
        for dr in -4...4 {
            for dc in -4...4 {
                let row = centerRow + dr
                let col = centerCol + dc
                guard row >= 0 && row < size && col >= 0 && col < size else { continue }
                let ring = max(abs(dr), abs(dc))
                setFunction(row, col, ring != 2 && ring != 4)
            }
        }
    }

    mutating func drawFormatInformation(correction: QRCode.ErrorCorrection, mask: Int) {
        drawFormatBits(QRCode.formatBits(correction: correction, mask: mask))
    }

    /// Both copies of the format information (bit 0 least significant), plus the dark module.
    private mutating func drawFormatBits(_ bits: Int) {
        func bit(_ i: Int) -> Bool { (bits >> i) & 1 == 1 }
        // Around the top-left finder: bits 0–7 down column 8, bits 8–14 leftwards along row 8.
        for i in 0...5 { setFunction(i, 8, bit(i)) }
        setFunction(7, 8, bit(6))
        setFunction(8, 8, bit(7))
        setFunction(8, 7, bit(8))
        for i in 9..<15 { setFunction(8, 14 - i, bit(i)) }
        // Bits 0–7 along row 8 from the right edge; bits 8–14 down column 8 at the bottom.
        for i in 0..<8 { setFunction(8, size - 1 - i, bit(i)) }
        for i in 8..<15 { setFunction(size - 15 + i, 8, bit(i)) }
        setFunction(size - 8, 8, true)
    }

    /// Places codeword bits in two-module columns, zigzagging up and down from the
    /// bottom-right corner and skipping the vertical timing pattern. Remainder bits stay 0.
    mutating func placeCodewords(_ codewords: [UInt8]) {
        let totalBits = codewords.count * 8
        var index = 0
        var right = size - 1
        var upward = true
        while right > 0 {
            if right == 6 { right = 5 }
            for step in 0..<size {
                let row = upward ? size - 1 - step : step
                for col in [right, right - 1] where !reserved[row * size + col] {
                    if index < totalBits {
                        dark[row * size + col] = (codewords[index / 8] >> (7 - index % 8)) & 1 == 1
                    }
                    index += 1
                }
            }
            upward.toggle()
            right -= 2
        }
        assert(index / 8 == codewords.count, "codeword count does not match the symbol")
    }

    /// Inverts the non-function modules where the mask condition holds (ISO/IEC 18004 Table 10).
    mutating func applyMask(_ mask: Int) {
        for row in 0..<size {
            for col in 0..<size where !reserved[row * size + col] {
                let i = row
                let j = col
                let invert: Bool
                switch mask {
                case 0: invert = (i + j) % 2 == 0
                case 1: invert = i % 2 == 0
                case 2: invert = j % 3 == 0
                case 3: invert = (i + j) % 3 == 0
                case 4: invert = (i / 2 + j / 3) % 2 == 0
                case 5: invert = (i * j) % 2 + (i * j) % 3 == 0
                case 6: invert = ((i * j) % 2 + (i * j) % 3) % 2 == 0
                default: invert = ((i + j) % 2 + (i * j) % 3) % 2 == 0
                }
                if invert { dark[row * size + col].toggle() }
            }
        }
    }

    /// Penalty score of the whole symbol (ISO/IEC 18004 7.8.3, features N1–N4).
    func penalty() -> Int {
        var score = 0
        for line in 0..<size {
            for horizontal in [true, false] {
                var runColor = false
                var runLength = 0
                var window = 0
                for k in 0..<size {
                    let isDark = horizontal ? dark[line * size + k] : dark[k * size + line]
                    // N1: runs of five or more same-coloured modules score 3 + (length − 5).
                    if k > 0 && isDark == runColor {
                        runLength += 1
                    } else {
                        if runLength >= 5 { score += runLength - 2 }
                        runColor = isDark
                        runLength = 1
                    }
                    // N3: 1:1:3:1:1 finder-like pattern with four light modules on one side.
                    window = (window << 1 | (isDark ? 1 : 0)) & 0x7FF
                    if k >= 10 && (window == 0b101_1101_0000 || window == 0b000_0101_1101) {
                        score += 40
                    }
                }
                if runLength >= 5 { score += runLength - 2 }
            }
        }
        // N2: each 2×2 block of one colour scores 3.
        for row in 0..<(size - 1) {
            for col in 0..<(size - 1) {
                let isDark = dark[row * size + col]
                if isDark == dark[row * size + col + 1]
                    && isDark == dark[(row + 1) * size + col]
                    && isDark == dark[(row + 1) * size + col + 1]
                {
                    score += 3
                }
            }
        }
        // N4: 10 points per full 5 % step of the dark proportion away from 50 %.
        let darkCount = dark.reduce(0) { $0 + ($1 ? 1 : 0) }
        let total = size * size
        score += abs(darkCount * 20 - total * 10) / total * 10
        return score
    }
}
