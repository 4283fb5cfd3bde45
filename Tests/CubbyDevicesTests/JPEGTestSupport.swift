import CubbyCore
import Foundation
import Testing

/// libjpeg-turbo's `djpeg`, the outside decoder the JPEG tests check against.
enum DJPEG {
    static let path: String? = ["/usr/bin/djpeg", "/usr/local/bin/djpeg", "/opt/homebrew/bin/djpeg"]
        .first { FileManager.default.isExecutableFile(atPath: $0) }

    /// On CI a missing decoder is a failure, elsewhere the tests that need it are skipped.
    static let isCI = ProcessInfo.processInfo.environment["CI"] == "true"

    static let shouldRun = path != nil || isCI

    static let skipReason: Comment =
        "djpeg not installed (Debian package libjpeg-turbo-progs); set CI=true to make this a failure"

    /// Decodes `jpeg` with `djpeg -pnm`, requiring a clean exit and no warnings.
    static func decode(_ jpeg: Data) throws -> DecodedImage {
        let executable = try #require(
            path, "CI=true but djpeg is not installed: install libjpeg-turbo-progs to run the JPEG decoding tests"
        )
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("cubby-jpeg-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let input = directory.appendingPathComponent("in.jpg")
        let output = directory.appendingPathComponent("out.pnm")
        try jpeg.write(to: input)

        let result = try ChildProcess.run(executable, ["-pnm", "-outfile", output.path, input.path])
        let messages = result.standardErrorText
        try #require(
            result.termination == .exited(0), "djpeg ended with \(String(describing: result.termination)): \(messages)")
        #expect(messages.isEmpty, "djpeg warned: \(messages)")
        return try DecodedImage(pgm: Data(contentsOf: output))
    }
}

/// A grayscale picture read back from a binary PGM (P5) file.
struct DecodedImage {
    let width: Int
    let height: Int
    let pixels: [UInt8]

    struct Malformed: Error, CustomStringConvertible {
        let description: String
    }

    init(pgm: Data) throws {
        let bytes = [UInt8](pgm)
        var index = 0
        func token() throws -> String {
            while index < bytes.count {
                if bytes[index] == UInt8(ascii: "#") {
                    while index < bytes.count, bytes[index] != UInt8(ascii: "\n") { index += 1 }
                } else if [UInt8(ascii: " "), UInt8(ascii: "\t"), UInt8(ascii: "\n"), UInt8(ascii: "\r")].contains(
                    bytes[index])
                {
                    index += 1
                } else {
                    break
                }
            }
            let start = index
            while index < bytes.count, bytes[index] > 0x20 { index += 1 }
            guard index > start else { throw Malformed(description: "PGM header ends early") }
            return String(decoding: bytes[start..<index], as: UTF8.self)
        }
        guard try token() == "P5" else { throw Malformed(description: "not a binary PGM (P5)") }
        guard let width = Int(try token()), let height = Int(try token()), let maxValue = Int(try token()),
            maxValue == 255
        else { throw Malformed(description: "bad PGM header") }
        index += 1
        guard bytes.count - index == width * height else {
            throw Malformed(description: "PGM holds \(bytes.count - index) pixel bytes, expected \(width * height)")
        }
        self.width = width
        self.height = height
        self.pixels = Array(bytes[index...])
    }

    subscript(x: Int, y: Int) -> UInt8 { pixels[y * width + x] }

    /// The rows `range` of the picture.
    func rows(_ range: Range<Int>) -> ArraySlice<UInt8> {
        pixels[range.lowerBound * width..<range.upperBound * width]
    }
}

/// Mean of |a − b| over two equally long pixel sequences.
func meanAbsoluteError<A: Collection<UInt8>, B: Collection<UInt8>>(_ a: A, _ b: B) -> Double {
    precondition(a.count == b.count && !a.isEmpty)
    let total = zip(a, b).reduce(0) { $0 + abs(Int($1.0) - Int($1.1)) }
    return Double(total) / Double(a.count)
}

/// How many positions hold different values: a count to report instead of two long arrays.
func differingCount<A: Collection<UInt8>, B: Collection<UInt8>>(_ a: A, _ b: B) -> Int {
    precondition(a.count == b.count)
    return zip(a, b).filter { $0 != $1 }.count
}

/// A JPEG file split into its marker segments and its entropy-coded scan data.
struct JPEGFile {
    struct Segment {
        let marker: UInt8
        let payload: [UInt8]
    }

    struct Malformed: Error, CustomStringConvertible {
        let description: String
    }

    /// Segments from SOI to SOS in file order (SOI with an empty payload).
    let segments: [Segment]
    /// The entropy-coded data after SOS, still byte-stuffed.
    let scan: [UInt8]

    var markers: [UInt8] { segments.map(\.marker) }

    func segment(_ marker: UInt8) -> Segment? { segments.first { $0.marker == marker } }

    /// Parses `data`, which must end with EOI directly after the scan; a 0xFF in the scan that is not followed
    /// by 0x00 is reported as malformed.
    init(_ data: Data) throws {
        let bytes = [UInt8](data)
        guard bytes.count >= 4, bytes[0] == 0xFF, bytes[1] == 0xD8 else { throw Malformed(description: "no SOI") }
        var segments = [Segment(marker: 0xD8, payload: [])]
        var index = 2
        while true {
            guard index + 4 <= bytes.count, bytes[index] == 0xFF else {
                throw Malformed(description: "expected a marker at \(index)")
            }
            let marker = bytes[index + 1]
            let length = Int(bytes[index + 2]) << 8 | Int(bytes[index + 3])
            guard length >= 2, index + 2 + length <= bytes.count else {
                throw Malformed(description: "segment \(String(marker, radix: 16)) overruns the file")
            }
            segments.append(Segment(marker: marker, payload: Array(bytes[(index + 4)..<(index + 2 + length)])))
            index += 2 + length
            if marker == 0xDA { break }
        }
        let scanStart = index
        while index < bytes.count {
            if bytes[index] == 0xFF {
                guard index + 1 < bytes.count else { throw Malformed(description: "file ends in 0xFF") }
                if bytes[index + 1] == 0x00 {
                    index += 2
                    continue
                }
                break
            }
            index += 1
        }
        guard index + 2 == bytes.count, bytes[index + 1] == 0xD9 else {
            throw Malformed(description: "scan ends at \(index) of \(bytes.count) without EOI as the last two bytes")
        }
        self.segments = segments
        self.scan = Array(bytes[scanStart..<index])
    }

    /// Image size from the SOF0 header.
    var frameSize: (width: Int, height: Int)? {
        guard let sof = segment(0xC0), sof.payload.count >= 5 else { return nil }
        return (Int(sof.payload[3]) << 8 | Int(sof.payload[4]), Int(sof.payload[1]) << 8 | Int(sof.payload[2]))
    }
}

/// A Huffman decoding table read from a DHT segment.
struct HuffmanDecoder {
    let tableClass: UInt8
    let counts: [Int]
    let values: [UInt8]

    init(dht payload: [UInt8]) {
        tableClass = payload[0] >> 4
        counts = payload[1...16].map(Int.init)
        values = Array(payload[17..<(17 + counts.reduce(0, +))])
    }

    /// The code of every symbol as a bit string, assigned as T.81 Annex C does.
    var codes: [UInt8: String] {
        var result: [UInt8: String] = [:]
        var code = 0
        var next = 0
        for length in 1...16 {
            for _ in 0..<counts[length - 1] {
                let bits = String(code, radix: 2)
                result[values[next]] = String(repeating: "0", count: length - bits.count) + bits
                code += 1
                next += 1
            }
            code <<= 1
        }
        return result
    }

    func decode(_ reader: inout ScanBitReader) throws -> UInt8 {
        var code = 0
        var first = 0
        var offset = 0
        for length in 1...16 {
            code = code << 1 | (try reader.bit())
            let count = counts[length - 1]
            if code - first < count { return values[offset + code - first] }
            offset += count
            first = (first + count) << 1
        }
        throw JPEGFile.Malformed(description: "no Huffman code matches")
    }
}

/// Reads the scan's bits MSB first, dropping the stuffed zero byte after each 0xFF.
struct ScanBitReader {
    private let bytes: [UInt8]
    private var index = 0
    private var bitInByte = 0

    init(_ stuffed: [UInt8]) {
        var bytes: [UInt8] = []
        var i = 0
        while i < stuffed.count {
            bytes.append(stuffed[i])
            i += stuffed[i] == 0xFF ? 2 : 1
        }
        self.bytes = bytes
    }

    mutating func bit() throws -> Int {
        guard index < bytes.count else { throw JPEGFile.Malformed(description: "scan data ends early") }
        let value = Int(bytes[index] >> (7 - bitInByte)) & 1
        bitInByte += 1
        if bitInByte == 8 {
            bitInByte = 0
            index += 1
        }
        return value
    }

    /// A `count`-bit magnitude as T.81 F.2.2.1 extends it to a signed value.
    mutating func magnitude(_ count: Int) throws -> Int {
        guard count > 0 else { return 0 }
        var value = 0
        for _ in 0..<count { value = value << 1 | (try bit()) }
        return value < 1 << (count - 1) ? value - (1 << count) + 1 : value
    }

    /// The bits left in the current byte, and whether any whole bytes follow.
    var remainder: (bits: [Int], moreBytes: Bool) {
        guard index < bytes.count else { return ([], false) }
        let bits = (bitInByte..<8).map { Int(bytes[index] >> (7 - $0)) & 1 }
        return (bits, index + 1 < bytes.count)
    }
}

/// Decodes every block of a one-component baseline scan into quantised coefficients in zig-zag order,
/// DC values already undifferenced.
func decodeCoefficients(_ file: JPEGFile, blockCount: Int) throws -> (blocks: [[Int]], reader: ScanBitReader) {
    let tables = file.segments.filter { $0.marker == 0xC4 }.map { HuffmanDecoder(dht: $0.payload) }
    let dc = try #require(tables.first { $0.tableClass == 0 })
    let ac = try #require(tables.first { $0.tableClass == 1 })
    var reader = ScanBitReader(file.scan)
    var blocks: [[Int]] = []
    var previousDC = 0
    for _ in 0..<blockCount {
        var block = [Int](repeating: 0, count: 64)
        let category = Int(try dc.decode(&reader))
        previousDC += try reader.magnitude(category)
        block[0] = previousDC
        var k = 1
        while k < 64 {
            let symbol = try ac.decode(&reader)
            let run = Int(symbol >> 4)
            let size = Int(symbol & 0x0F)
            if size == 0 {
                if run == 15 {
                    k += 16
                    continue
                }
                try #require(run == 0, "AC symbol \(symbol) is not valid in baseline")
                break
            }
            k += run
            try #require(k < 64, "AC run past the end of the block")
            block[k] = try reader.magnitude(size)
            k += 1
        }
        blocks.append(block)
    }
    return (blocks, reader)
}
