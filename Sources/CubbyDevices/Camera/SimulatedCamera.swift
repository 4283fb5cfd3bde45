#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// The simulator's camera: a drawn view of a locker front, stamped with the unit, the caption and the time.
///
/// Stills are small grayscale JPEGs and depend only on the inputs, so the same event always yields the same
/// bytes (and the same evidence hash).
public struct SimulatedCamera: Camera {
    /// Name of the unit, stamped on every still.
    public let unitName: String
    /// Still width in pixels.
    public let width: Int
    /// Still height in pixels.
    public let height: Int
    /// JPEG quality, 1…100.
    public let quality: Int

    /// Makes a camera for the unit called `unitName`.
    public init(unitName: String, width: Int = 320, height: Int = 240, quality: Int = 75) {
        self.unitName = unitName
        self.width = width
        self.height = height
        self.quality = quality
    }

    /// Draws the scene, stamps it and encodes it as JPEG.
    public func still(caption: String, at time: Date) async throws -> Data {
        try JPEGEncoder(quality: quality).encode(frame(caption: caption, at: time))
    }

    /// The picture a still encodes.
    func frame(caption: String, at time: Date) -> Raster {
        var raster = Raster(width: max(width, 0), height: max(height, 0))
        let layout = BannerLayout(width: raster.width, height: raster.height)
        drawScene(on: &raster, height: layout.top)
        drawBanner(on: &raster, layout: layout, lines: [unitName, caption, Self.timestamp(time)])
        return raster
    }

    /// `time` as UTC ISO 8601 to the second, e.g. `2026-11-21T10:15:02Z`.
    static func timestamp(_ time: Date) -> String {
        Date.ISO8601FormatStyle(timeZone: .gmt).format(time)
    }

    /// Where the banner sits and how big its text is.
    struct BannerLayout {
        /// First row of the banner: a multiple of 8, so the scene above fills whole JPEG blocks and does
        /// not change with the text.
        let top: Int
        /// Preferred text scale; a line too wide for it drops to 1.
        let scale: Int
        /// Left margin and minimum space above and below the text, in pixels.
        let padding: Int
        /// Space between lines, in pixels.
        let lineGap: Int

        init(width: Int, height: Int) {
            scale = max(1, min(width / 160, height / 120))
            padding = 3 * scale
            lineGap = 2 * scale
            let needed = 2 * padding + 3 * Raster.textHeight(scale: scale) + 2 * lineGap
            top = max(0, (height - needed) / 8 * 8)
        }
    }

    private func drawScene(on raster: inout Raster, height sceneHeight: Int) {
        let w = raster.width
        let h = sceneHeight
        guard w > 0, h > 0 else { return }

        let floor = h * 7 / 8
        raster.verticalGradient(y: 0, height: floor, top: 214, bottom: 168)
        raster.verticalGradient(y: floor, height: h - floor, top: 120, bottom: 96)

        let columns = 4
        let rowNames = ["A", "B", "C"]
        let rows = rowNames.count
        let doorWidth = max(w * 3 / 4 / columns, 4)
        let doorHeight = max((floor - h / 10) / rows, 4)
        let left = (w - doorWidth * columns) / 2
        let top = floor - doorHeight * rows
        let bodyWidth = doorWidth * columns
        let bodyHeight = doorHeight * rows

        raster.fillRect(x: left - 4, y: top - 6, width: bodyWidth + 8, height: bodyHeight + 6, value: 150)
        raster.strokeRect(
            x: left - 4, y: top - 6, width: bodyWidth + 8, height: bodyHeight + 6, thickness: 2, value: 40)

        for column in 0..<columns {
            for row in 0..<rows {
                let x = left + column * doorWidth
                let y = top + row * doorHeight
                if column == 1 && row == 1 {
                    drawKiosk(on: &raster, x: x, y: y, width: doorWidth, height: doorHeight)
                    continue
                }
                raster.strokeRect(x: x + 1, y: y + 1, width: doorWidth - 2, height: doorHeight - 2, value: 72)
                raster.fillRect(x: x + doorWidth - 8, y: y + doorHeight / 2 - 5, width: 3, height: 10, value: 56)
                raster.drawText("\(rowNames[row])\(column + 1)", x: x + 5, y: y + 5, value: 64)
            }
        }
    }

    private func drawKiosk(on raster: inout Raster, x: Int, y: Int, width: Int, height: Int) {
        raster.fillRect(x: x + 1, y: y + 1, width: width - 2, height: height - 2, value: 96)
        raster.fillRect(x: x + 6, y: y + 6, width: width - 12, height: height / 2 - 6, value: 36)
        let keyTop = y + height / 2 + 4
        let keySize = max((width - 16) / 3 - 2, 2)
        for key in 0..<6 {
            let keyX = x + 8 + (key % 3) * (keySize + 2)
            let keyY = keyTop + (key / 3) * 7
            raster.fillRect(x: keyX, y: keyY, width: keySize, height: 5, value: 190)
        }
    }

    private func drawBanner(on raster: inout Raster, layout: BannerLayout, lines: [String]) {
        let bannerHeight = raster.height - layout.top
        guard bannerHeight > 0 else { return }
        raster.fillRect(x: 0, y: layout.top, width: raster.width, height: bannerHeight, value: 24)

        let lineHeight = Raster.textHeight(scale: layout.scale)
        let content = lines.count * lineHeight + (lines.count - 1) * layout.lineGap
        var y = layout.top + max((bannerHeight - content) / 2, 0)
        for line in lines {
            let fits = Raster.textWidth(line, scale: layout.scale) <= raster.width - 2 * layout.padding
            let scale = fits ? layout.scale : 1
            raster.drawText(
                line, x: layout.padding, y: y + (lineHeight - Raster.textHeight(scale: scale)), scale: scale, value: 236
            )
            y += lineHeight + layout.lineGap
        }
    }
}
