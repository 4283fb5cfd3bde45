/// A grayscale PNG image (ISO/IEC 15948, PNG 2nd edition), written without compression.
///
/// The image data is a zlib stream (RFC 1950) of stored deflate blocks (RFC 1951 §3.2.4), which every
/// PNG decoder reads; a QR code at a few pixels per module stays small enough for an email that way,
/// and the writer needs no compression library.
public enum PNGImage {
    /// Bits per pixel of a grayscale image: 1 (black or white, eight pixels a byte) or 8 (256 levels).
    public enum BitDepth: Int, Sendable, CaseIterable {
        case one = 1
        case eight = 8
    }

    /// The eight bytes every PNG file starts with.
    public static let signature: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]

    /// The most bytes one stored deflate block holds (its length field is 16 bits).
    static let storedBlockLimit = 65_535

    /// A grayscale PNG of `width` × `height` pixels; `luminance(x, y)` gives each pixel, 0 black to 255 white.
    ///
    /// At 1 bit a pixel is white when its luminance is 128 or more. `width` and `height` must be at least 1.
    public static func grayscale(
        width: Int, height: Int, bitDepth: BitDepth, luminance: (_ x: Int, _ y: Int) -> UInt8
    ) -> [UInt8] {
        precondition(width > 0 && height > 0, "a PNG has at least one pixel")
        let rowBytes = bitDepth == .one ? (width + 7) / 8 : width
        var raw: [UInt8] = []
        raw.reserveCapacity((rowBytes + 1) * height)
        for y in 0..<height {
            raw.append(0)  // filter type 0: the row as it is
            switch bitDepth {
            case .eight:
                for x in 0..<width { raw.append(luminance(x, y)) }
            case .one:
                var byte: UInt8 = 0
                for x in 0..<width {
                    if luminance(x, y) >= 128 { byte |= 0x80 >> UInt8(x % 8) }
                    if x % 8 == 7 || x == width - 1 {
                        raw.append(byte)
                        byte = 0
                    }
                }
            }
        }

        var header: [UInt8] = []
        header.appendBigEndian(UInt32(width))
        header.appendBigEndian(UInt32(height))
        // Bit depth, colour type 0 (grayscale), compression 0, filter method 0, no interlace.
        header += [UInt8(bitDepth.rawValue), 0, 0, 0, 0]

        var out = signature
        appendChunk("IHDR", header, to: &out)
        appendChunk("IDAT", zlibStored(raw), to: &out)
        appendChunk("IEND", [], to: &out)
        return out
    }

    /// A zlib stream (RFC 1950) holding `data` in stored deflate blocks, closed by its Adler-32.
    public static func zlibStored(_ data: [UInt8]) -> [UInt8] {
        // CMF 0x78: deflate with a 32 KiB window; FLG 0x01: no dictionary, and (CMF·256 + FLG) % 31 == 0.
        var out: [UInt8] = [0x78, 0x01]
        out.reserveCapacity(data.count + data.count / storedBlockLimit * 5 + 11)
        var start = 0
        repeat {
            let end = min(data.count, start + storedBlockLimit)
            let length = UInt16(end - start)
            // BFINAL in bit 0, BTYPE 00 (stored) in bits 1–2; the rest of the byte is padding.
            out.append(end == data.count ? 1 : 0)
            out += [UInt8(length & 0xFF), UInt8(length >> 8), UInt8(~length & 0xFF), UInt8(~length >> 8)]
            out += data[start..<end]
            start = end
        } while start < data.count
        out.appendBigEndian(Adler32.checksum(data))
        return out
    }

    /// Appends a chunk: length, type, data and the CRC-32 of type and data.
    static func appendChunk(_ type: String, _ data: [UInt8], to out: inout [UInt8]) {
        let typeBytes = Array(type.utf8)
        precondition(typeBytes.count == 4, "a chunk type has four letters")
        out.appendBigEndian(UInt32(data.count))
        out += typeBytes
        out += data
        var crc = CRC32()
        crc.update(typeBytes)
        crc.update(data)
        out.appendBigEndian(crc.value)
    }
}

/// CRC-32 as PNG, zlib's `crc32` and Ethernet compute it: polynomial 0x04C11DB7 reflected (0xEDB88320),
/// initial value and final XOR 0xFFFFFFFF.
public struct CRC32: Sendable {
    private var register: UInt32 = 0xFFFF_FFFF

    /// A checksum with no bytes in it yet.
    public init() {}

    /// The CRC-32 of `bytes`.
    public static func checksum(_ bytes: some Sequence<UInt8>) -> UInt32 {
        var crc = CRC32()
        crc.update(bytes)
        return crc.value
    }

    /// Adds `bytes` to the checksum.
    public mutating func update(_ bytes: some Sequence<UInt8>) {
        var r = register
        for byte in bytes {
            r = Self.table[Int((r ^ UInt32(byte)) & 0xFF)] ^ (r >> 8)
        }
        register = r
    }

    /// The checksum of the bytes added so far.
    public var value: UInt32 { register ^ 0xFFFF_FFFF }

    /// The remainder of each byte value, one bit at a time (PNG specification, Annex D).
    private static let table: [UInt32] = (0..<256).map { n in
        var c = UInt32(n)
        for _ in 0..<8 {
            c = c & 1 == 1 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1
        }
        return c
    }
}

/// Adler-32 (RFC 1950 §8.2): two sums modulo 65521, the check value closing a zlib stream.
public enum Adler32 {
    /// The largest prime below 2^16.
    static let modulus: UInt32 = 65_521
    /// Bytes that can be summed before the 32-bit sums must be reduced (zlib's NMAX).
    static let run = 5_552

    /// The Adler-32 of `bytes`.
    public static func checksum(_ bytes: [UInt8]) -> UInt32 {
        var a: UInt32 = 1
        var b: UInt32 = 0
        var index = 0
        while index < bytes.count {
            let end = min(bytes.count, index + run)
            for i in index..<end {
                a &+= UInt32(bytes[i])
                b &+= a
            }
            a %= modulus
            b %= modulus
            index = end
        }
        return b << 16 | a
    }
}

extension QRCode {
    /// A grayscale PNG with a 4-module quiet zone and `scale` px per module: for an email's inline image.
    public func png(scale: Int = 4, bitDepth: PNGImage.BitDepth = .one) -> [UInt8] {
        let scale = max(1, scale)
        let quiet = 4
        let side = (size + 2 * quiet) * scale
        return PNGImage.grayscale(width: side, height: side, bitDepth: bitDepth) { x, y in
            let row = y / scale - quiet
            let col = x / scale - quiet
            let isDark = row >= 0 && row < size && col >= 0 && col < size && modules[row * size + col]
            return isDark ? 0 : 255
        }
    }
}

extension [UInt8] {
    /// Appends `value` most significant byte first, as PNG and zlib write their numbers.
    mutating func appendBigEndian(_ value: UInt32) {
        append(UInt8(value >> 24))
        append(UInt8(value >> 16 & 0xFF))
        append(UInt8(value >> 8 & 0xFF))
        append(UInt8(value & 0xFF))
    }
}
