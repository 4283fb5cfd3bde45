import CubbyCore
import CubbyStore

/// A unit's compartments as the cabinet is built: rows of cells from the top, each row's cells from the left, a
/// compartment taller than one cell spanning rows (an HTML table with `rowspan` draws it).
struct UnitGrid: Sendable, Equatable {
    /// One cell to draw: a compartment starting on this row, or an empty place in the cabinet.
    struct Cell: Sendable, Equatable {
        var column: Int
        var compartment: CompartmentRecord?
        var rows: Int
    }

    var columns: Int
    /// Per row from the top, the cells that start on it (places covered by a taller compartment above are left out).
    var rows: [[Cell]]

    /// The most rows and columns a stored position may name: anything beyond is treated as unknown.
    static let maxColumns = 64
    static let maxRows = 256
    /// Compartments without a known place stand in columns of at most this many, right of the placed ones.
    static let fallbackHeight = 10

    /// Draws `compartments`: each at its stored place; those without one (or whose place another already takes)
    /// in label order, top to bottom, in columns added to the right.
    static func arrange(_ compartments: [CompartmentRecord]) -> UnitGrid {
        var taken: Set<[Int]> = []
        var placed: [(column: Int, row: Int, rows: Int, c: CompartmentRecord)] = []
        var unplaced: [CompartmentRecord] = []
        let ordered = compartments.sorted {
            ($0.gridColumn ?? .max, $0.gridRow ?? .max, $0.label) < (
                $1.gridColumn ?? .max, $1.gridRow ?? .max, $1.label
            )
        }
        for c in ordered {
            guard let column = c.gridColumn.map(Int.init), let row = c.gridRow.map(Int.init),
                (0..<maxColumns).contains(column), (0..<maxRows).contains(row)
            else {
                unplaced.append(c)
                continue
            }
            let span = max(1, min(Int(c.gridRows), maxRows - row))
            let cells = (row..<(row + span)).map { [column, $0] }
            guard cells.allSatisfy({ !taken.contains($0) }) else {
                unplaced.append(c)
                continue
            }
            taken.formUnion(cells)
            placed.append((column, row, span, c))
        }
        let height =
            placed.isEmpty
            ? min(max(unplaced.count, 1), fallbackHeight) : placed.map { $0.row + $0.rows }.max()!
        let firstFree = (placed.map(\.column).max() ?? -1) + 1
        for (i, c) in unplaced.sorted(by: { $0.label < $1.label }).enumerated() {
            placed.append((firstFree + i / height, i % height, 1, c))
        }
        let columns = (placed.map(\.column).max() ?? -1) + 1
        let rowCount = placed.map { $0.row + $0.rows }.max() ?? 0
        var starts: [[Int]: (rows: Int, c: CompartmentRecord)] = [:]
        var covered: Set<[Int]> = []
        for p in placed {
            starts[[p.column, p.row]] = (p.rows, p.c)
            for r in (p.row + 1)..<(p.row + p.rows) { covered.insert([p.column, r]) }
        }
        var rows: [[Cell]] = []
        for r in 0..<rowCount {
            var line: [Cell] = []
            for col in 0..<columns where !covered.contains([col, r]) {
                if let s = starts[[col, r]] {
                    line.append(Cell(column: col, compartment: s.c, rows: s.rows))
                } else {
                    line.append(Cell(column: col, compartment: nil, rows: 1))
                }
            }
            rows.append(line)
        }
        return UnitGrid(columns: columns, rows: rows)
    }

    /// A column's name as the generated labels use it: A, B … Z, then numbers.
    static func columnName(_ i: Int) -> String {
        i < 26 ? String(Character(UnicodeScalar(UInt8(65 + i)))) : String(i + 1)
    }
}
