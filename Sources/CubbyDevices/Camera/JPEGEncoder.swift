#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif
#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// Encodes 8-bit grayscale pictures as baseline sequential DCT JPEG files (ITU-T T.81) with a JFIF header.
///
/// One component, Huffman coding with the example tables of Annex K.3, no restart markers. The same input
/// always gives the same bytes, which lets an audit record refer to a still by its hash.
public struct JPEGEncoder: Sendable {
    /// IJG-style quality, 1…100: 50 uses the Annex K table as printed, higher keeps more detail.
    public let quality: Int

    /// Quantisation divisors in natural (row-major) order, derived from `quality`.
    private let divisors: [UInt8]

    /// Makes an encoder; `quality` outside 1…100 is clamped into it.
    public init(quality: Int = 75) {
        self.quality = min(max(quality, 1), 100)
        self.divisors = Self.quantizationTable(quality: self.quality)
    }

    /// The luminance quantisation table for `quality`, in natural (row-major) order.
    ///
    /// Annex K.1 scaled the way the IJG library does: a factor of 5000/q below 50 and 200 − 2q from 50 up,
    /// each entry rounded and kept within 1…255 so it fits an 8-bit DQT.
    public static func quantizationTable(quality: Int) -> [UInt8] {
        let q = min(max(quality, 1), 100)
        let percent = q < 50 ? 5000 / q : 200 - 2 * q
        return annexKLuminance.map { base in
            UInt8(min(max((Int(base) * percent + 50) / 100, 1), 255))
        }
    }

    /// Encodes a raster.
    public func encode(_ raster: Raster) throws(JPEGEncodingError) -> Data {
        try encode(width: raster.width, height: raster.height, pixels: raster.pixels)
    }

    /// Encodes `pixels`, one byte per pixel row by row from the top left; partial 8×8 blocks at the right and
    /// bottom edges are completed by repeating the last column and row.
    public func encode(width: Int, height: Int, pixels: [UInt8]) throws(JPEGEncodingError) -> Data {
        guard (1...0xFFFF).contains(width), (1...0xFFFF).contains(height) else {
            throw .invalidSize(width: width, height: height)
        }
        guard pixels.count == width * height else {
            throw .pixelCountMismatch(expected: width * height, actual: pixels.count)
        }

        var writer = EntropyWriter()
        writer.bytes.reserveCapacity(1024 + width * height / 4)
        writeHeaders(into: &writer.bytes, width: width, height: height)
        pixels.withUnsafeBufferPointer { source in
            encodeScan(source, width: width, height: height, writer: &writer)
        }
        writer.padToByte()
        writer.bytes += [0xFF, 0xD9]
        return Data(writer.bytes)
    }

    // MARK: - Headers

    private func writeHeaders(into out: inout [UInt8], width: Int, height: Int) {
        out += [0xFF, 0xD8]

        // APP0 JFIF 1.01, no density unit, aspect 1:1, no thumbnail.
        out += [0xFF, 0xE0, 0x00, 0x10]
        out += Array("JFIF".utf8) + [0x00]
        out += [0x01, 0x01, 0x00, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00]

        out += [0xFF, 0xDB, 0x00, 0x43, 0x00]
        out += zigzagOrder.map { divisors[$0] }

        out += [0xFF, 0xC0, 0x00, 0x0B, 0x08]
        appendUInt16(height, to: &out)
        appendUInt16(width, to: &out)
        out += [0x01, 0x01, 0x11, 0x00]

        writeHuffmanTable(into: &out, classAndID: 0x00, table: HuffmanTable.luminanceDC)
        writeHuffmanTable(into: &out, classAndID: 0x10, table: HuffmanTable.luminanceAC)

        out += [0xFF, 0xDA, 0x00, 0x08, 0x01, 0x01, 0x00, 0x00, 0x3F, 0x00]
    }

    private func writeHuffmanTable(into out: inout [UInt8], classAndID: UInt8, table: HuffmanTable) {
        out += [0xFF, 0xC4]
        appendUInt16(2 + 1 + 16 + table.values.count, to: &out)
        out.append(classAndID)
        out += table.counts
        out += table.values
    }

    private func appendUInt16(_ value: Int, to out: inout [UInt8]) {
        out.append(UInt8(truncatingIfNeeded: value >> 8))
        out.append(UInt8(truncatingIfNeeded: value))
    }

    // MARK: - Scan

    private func encodeScan(
        _ source: UnsafeBufferPointer<UInt8>, width: Int, height: Int, writer: inout EntropyWriter
    ) {
        let samples = UnsafeMutableBufferPointer<Double>.allocate(capacity: 64)
        let rows = UnsafeMutableBufferPointer<Double>.allocate(capacity: 64)
        let coefficients = UnsafeMutableBufferPointer<Int>.allocate(capacity: 64)
        defer {
            samples.deallocate()
            rows.deallocate()
            coefficients.deallocate()
        }
        let divisors = self.divisors.map(Double.init)
        let cosines = dctCosines
        let order = zigzagOrder
        let dc = HuffmanTable.luminanceDC
        let ac = HuffmanTable.luminanceAC
        var previousDC = 0

        for blockY in stride(from: 0, to: height, by: 8) {
            for blockX in stride(from: 0, to: width, by: 8) {
                for y in 0..<8 {
                    let rowStart = min(blockY + y, height - 1) * width
                    for x in 0..<8 {
                        samples[y * 8 + x] = Double(source[rowStart + min(blockX + x, width - 1)]) - 128
                    }
                }

                // Separable forward DCT: along each row, then down each column.
                for y in 0..<8 {
                    for u in 0..<8 {
                        var sum = 0.0
                        for x in 0..<8 { sum += cosines[u * 8 + x] * samples[y * 8 + x] }
                        rows[y * 8 + u] = sum
                    }
                }
                for u in 0..<8 {
                    for v in 0..<8 {
                        var sum = 0.0
                        for y in 0..<8 { sum += cosines[v * 8 + y] * rows[y * 8 + u] }
                        let index = v * 8 + u
                        coefficients[index] = Int((sum / divisors[index]).rounded())
                    }
                }

                // DC differences fit 11 bits and AC values 10 bits in baseline; the DCT of 8-bit samples
                // stays inside both, the clamps only guard the invariant.
                let dcValue = min(max(coefficients[0], -1024), 1023)
                let difference = dcValue - previousDC
                previousDC = dcValue
                let dcCategory = bitLength(difference)
                writer.write(dc.codes[dcCategory], length: dc.lengths[dcCategory])
                writer.writeMagnitude(difference, category: dcCategory)

                var zeroRun = 0
                for k in 1..<64 {
                    let value = min(max(coefficients[order[k]], -1023), 1023)
                    if value == 0 {
                        zeroRun += 1
                        continue
                    }
                    while zeroRun >= 16 {
                        writer.write(ac.codes[0xF0], length: ac.lengths[0xF0])
                        zeroRun -= 16
                    }
                    let category = bitLength(value)
                    let symbol = zeroRun << 4 | category
                    writer.write(ac.codes[symbol], length: ac.lengths[symbol])
                    writer.writeMagnitude(value, category: category)
                    zeroRun = 0
                }
                if zeroRun > 0 {
                    writer.write(ac.codes[0x00], length: ac.lengths[0x00])
                }
            }
        }
    }
}

/// Why a picture could not be encoded.
public enum JPEGEncodingError: Error, Equatable, CustomStringConvertible {
    /// Width or height outside 1…65535, the range a SOF0 frame header can carry.
    case invalidSize(width: Int, height: Int)
    /// The pixel buffer does not hold exactly width × height bytes.
    case pixelCountMismatch(expected: Int, actual: Int)

    /// What went wrong, for logs.
    public var description: String {
        switch self {
        case .invalidSize(let w, let h): "cannot encode a \(w)×\(h) JPEG: each side must be 1…65535"
        case .pixelCountMismatch(let expected, let actual): "expected \(expected) pixels, got \(actual)"
        }
    }
}

/// Number of bits needed for |value|: the SSSS category of T.81 F.1.2.
private func bitLength(_ value: Int) -> Int {
    Int.bitWidth - value.magnitude.leadingZeroBitCount
}

/// Collects the Huffman-coded bit stream MSB first, stuffing a zero byte after every 0xFF (T.81 F.1.2.3).
private struct EntropyWriter {
    var bytes: [UInt8] = []
    private var pending: UInt64 = 0
    private var pendingCount = 0

    mutating func write(_ bits: UInt16, length: UInt8) {
        pending = pending << UInt64(length) | UInt64(bits)
        pendingCount += Int(length)
        flushWholeBytes()
    }

    /// Appends the low `category` bits of `value`, negative values as value − 1 (T.81 F.1.2.1).
    mutating func writeMagnitude(_ value: Int, category: Int) {
        guard category > 0 else { return }
        let raw = value < 0 ? value - 1 : value
        let mask = (1 << category) - 1
        write(UInt16(raw & mask), length: UInt8(category))
    }

    /// Fills the last byte with 1-bits (T.81 F.1.2.3).
    mutating func padToByte() {
        let free = (8 - pendingCount % 8) % 8
        if free > 0 { write(UInt16((1 << free) - 1), length: UInt8(free)) }
    }

    private mutating func flushWholeBytes() {
        while pendingCount >= 8 {
            pendingCount -= 8
            let byte = UInt8(truncatingIfNeeded: pending >> UInt64(pendingCount))
            bytes.append(byte)
            if byte == 0xFF { bytes.append(0x00) }
        }
        pending &= (1 << UInt64(pendingCount)) - 1
    }
}

/// A Huffman table as a DHT segment lists it (code counts per length, symbols by code) and as the encoder
/// uses it (code and length per symbol).
struct HuffmanTable: Sendable {
    /// How many codes have length 1…16.
    let counts: [UInt8]
    /// Symbols in order of increasing code.
    let values: [UInt8]
    /// Code for each symbol 0…255 (meaningless where `lengths` is 0).
    let codes: [UInt16]
    /// Code length for each symbol 0…255, 0 when the symbol has no code.
    let lengths: [UInt8]

    init(counts: [UInt8], values: [UInt8]) {
        self.counts = counts
        self.values = values
        var codes = [UInt16](repeating: 0, count: 256)
        var lengths = [UInt8](repeating: 0, count: 256)
        // Canonical code assignment of T.81 Annex C.
        var code: UInt16 = 0
        var next = 0
        for (index, count) in counts.enumerated() {
            for _ in 0..<Int(count) {
                codes[Int(values[next])] = code
                lengths[Int(values[next])] = UInt8(index + 1)
                code += 1
                next += 1
            }
            code <<= 1
        }
        self.codes = codes
        self.lengths = lengths
    }

    /// Table K.3: luminance DC differences, categories 0…11.
    static let luminanceDC = HuffmanTable(
        counts: [0, 1, 5, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0],
        values: Array(0...11)
    )

    /// Table K.5: luminance AC run/size symbols.
    static let luminanceAC = HuffmanTable(
        counts: [0, 2, 1, 3, 3, 2, 4, 3, 5, 5, 4, 4, 0, 0, 1, 0x7D],
        values: [
            0x01, 0x02, 0x03, 0x00, 0x04, 0x11, 0x05, 0x12, 0x21, 0x31, 0x41, 0x06, 0x13, 0x51, 0x61, 0x07,
            0x22, 0x71, 0x14, 0x32, 0x81, 0x91, 0xA1, 0x08, 0x23, 0x42, 0xB1, 0xC1, 0x15, 0x52, 0xD1, 0xF0,
            0x24, 0x33, 0x62, 0x72, 0x82, 0x09, 0x0A, 0x16, 0x17, 0x18, 0x19, 0x1A, 0x25, 0x26, 0x27, 0x28,
            0x29, 0x2A, 0x34, 0x35, 0x36, 0x37, 0x38, 0x39, 0x3A, 0x43, 0x44, 0x45, 0x46, 0x47, 0x48, 0x49,
            0x4A, 0x53, 0x54, 0x55, 0x56, 0x57, 0x58, 0x59, 0x5A, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68, 0x69,
            0x6A, 0x73, 0x74, 0x75, 0x76, 0x77, 0x78, 0x79, 0x7A, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89,
            0x8A, 0x92, 0x93, 0x94, 0x95, 0x96, 0x97, 0x98, 0x99, 0x9A, 0xA2, 0xA3, 0xA4, 0xA5, 0xA6, 0xA7,
            0xA8, 0xA9, 0xAA, 0xB2, 0xB3, 0xB4, 0xB5, 0xB6, 0xB7, 0xB8, 0xB9, 0xBA, 0xC2, 0xC3, 0xC4, 0xC5,
            0xC6, 0xC7, 0xC8, 0xC9, 0xCA, 0xD2, 0xD3, 0xD4, 0xD5, 0xD6, 0xD7, 0xD8, 0xD9, 0xDA, 0xE1, 0xE2,
            0xE3, 0xE4, 0xE5, 0xE6, 0xE7, 0xE8, 0xE9, 0xEA, 0xF1, 0xF2, 0xF3, 0xF4, 0xF5, 0xF6, 0xF7, 0xF8,
            0xF9, 0xFA,
        ]
    )
}

/// Table K.1: luminance quantisation, natural order.
private let annexKLuminance: [UInt8] = [
    16, 11, 10, 16, 24, 40, 51, 61,
    12, 12, 14, 19, 26, 58, 60, 55,
    14, 13, 16, 24, 40, 57, 69, 56,
    14, 17, 22, 29, 51, 87, 80, 62,
    18, 22, 37, 56, 68, 109, 103, 77,
    24, 35, 55, 64, 81, 104, 113, 92,
    49, 64, 78, 87, 103, 121, 120, 101,
    72, 92, 95, 98, 112, 100, 103, 99,
]

/// Natural-order index of each zig-zag position (T.81 Figure 5): anti-diagonals walked alternately up and down.
private let zigzagOrder: [Int] = {
    var order: [Int] = []
    for diagonal in 0..<15 {
        let rows = max(0, diagonal - 7)...min(diagonal, 7)
        let walk = diagonal % 2 == 0 ? Array(rows.reversed()) : Array(rows)
        for row in walk { order.append(row * 8 + diagonal - row) }
    }
    return order
}()

/// DCT basis, `[u * 8 + x]` = C(u)/2 · cos((2x + 1)uπ/16) with C(0) = 1/√2 (T.81 A.3.3).
private let dctCosines: [Double] = (0..<64).map { index in
    let u = index / 8
    let x = index % 8
    let scale = u == 0 ? 1 / 2.0.squareRoot() : 1.0
    return scale / 2 * cos(Double((2 * x + 1) * u) * .pi / 16)
}
