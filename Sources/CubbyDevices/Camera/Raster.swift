/// An 8-bit grayscale picture, one byte per pixel, row by row from the top left; 0 is black.
///
/// Drawing clips to the picture, so shapes and text may run over its edges.
public struct Raster: Sendable, Equatable {
    /// Width in pixels.
    public let width: Int
    /// Height in pixels.
    public let height: Int
    /// The pixels, `width × height` of them, row by row.
    public private(set) var pixels: [UInt8]

    /// A picture filled with one gray level.
    public init(width: Int, height: Int, fill value: UInt8 = 0) {
        precondition(width >= 0 && height >= 0, "negative raster size \(width)×\(height)")
        self.width = width
        self.height = height
        self.pixels = [UInt8](repeating: value, count: width * height)
    }

    /// A picture over existing pixels; `pixels` must hold exactly `width × height` bytes.
    public init(width: Int, height: Int, pixels: [UInt8]) {
        precondition(width >= 0 && height >= 0, "negative raster size \(width)×\(height)")
        precondition(pixels.count == width * height, "\(pixels.count) pixels for a \(width)×\(height) raster")
        self.width = width
        self.height = height
        self.pixels = pixels
    }

    /// The gray level at column `x`, row `y`; both must lie inside the picture.
    public subscript(x: Int, y: Int) -> UInt8 {
        get {
            precondition(x >= 0 && x < width && y >= 0 && y < height, "pixel (\(x), \(y)) outside \(width)×\(height)")
            return pixels[y * width + x]
        }
        set {
            precondition(x >= 0 && x < width && y >= 0 && y < height, "pixel (\(x), \(y)) outside \(width)×\(height)")
            pixels[y * width + x] = newValue
        }
    }

    /// Paints the whole picture one gray level.
    public mutating func fill(_ value: UInt8) {
        fillRect(x: 0, y: 0, width: width, height: height, value: value)
    }

    /// Paints a solid rectangle whose top-left pixel is (`x`, `y`).
    public mutating func fillRect(x: Int, y: Int, width w: Int, height h: Int, value: UInt8) {
        let left = max(x, 0)
        let right = min(x + w, width)
        let top = max(y, 0)
        let bottom = min(y + h, height)
        guard left < right, top < bottom else { return }
        for row in top..<bottom {
            let start = row * width
            for column in left..<right { pixels[start + column] = value }
        }
    }

    /// Paints the outline of a rectangle, `thickness` pixels wide, inside the rectangle's bounds.
    public mutating func strokeRect(x: Int, y: Int, width w: Int, height h: Int, thickness: Int = 1, value: UInt8) {
        guard w > 0, h > 0, thickness > 0 else { return }
        let t = min(thickness, w, h)
        fillRect(x: x, y: y, width: w, height: t, value: value)
        fillRect(x: x, y: y + h - t, width: w, height: t, value: value)
        fillRect(x: x, y: y, width: t, height: h, value: value)
        fillRect(x: x + w - t, y: y, width: t, height: h, value: value)
    }

    /// Shades rows `y ..< y + height` from `top` at the first row to `bottom` at the last.
    public mutating func verticalGradient(y: Int, height h: Int, top: UInt8, bottom: UInt8) {
        guard h > 0 else { return }
        for row in 0..<h {
            let fraction = h == 1 ? 0 : Double(row) / Double(h - 1)
            let level = Double(top) + (Double(bottom) - Double(top)) * fraction
            fillRect(x: 0, y: y + row, width: width, height: 1, value: UInt8(level.rounded()))
        }
    }

    /// Draws `text` in the built-in 5×7 font, each font pixel a `scale × scale` square, with the glyphs'
    /// top-left at (`x`, `y`). Letters are drawn as capitals; characters the font lacks appear as boxes.
    public mutating func drawText(_ text: String, x: Int, y: Int, scale: Int = 1, value: UInt8) {
        guard scale > 0 else { return }
        var left = x
        for character in text {
            let rows = BitmapFont.rows(for: character)
            for (row, bits) in rows.enumerated() {
                for column in 0..<BitmapFont.glyphWidth where bits & (0b10000 >> UInt8(column)) != 0 {
                    fillRect(x: left + column * scale, y: y + row * scale, width: scale, height: scale, value: value)
                }
            }
            left += BitmapFont.advance * scale
        }
    }

    /// Width in pixels that `drawText` covers for `text` at `scale`, not counting the gap after the last glyph.
    public static func textWidth(_ text: String, scale: Int = 1) -> Int {
        let count = text.count
        return count == 0 ? 0 : (count * BitmapFont.advance - 1) * scale
    }

    /// Height in pixels of a line of text at `scale`.
    public static func textHeight(scale: Int = 1) -> Int {
        BitmapFont.glyphHeight * scale
    }
}
