/// A table for the terminal: each column as wide as its widest cell, two spaces between columns, the last
/// column unpadded.
enum TextTable {
    static func print(_ rows: [[String]]) {
        guard let first = rows.first else { return }
        let widths = first.indices.map { column in rows.map { $0[column].count }.max() ?? 0 }
        for row in rows {
            var line = ""
            for (column, cell) in row.enumerated() {
                if column > 0 { line += "  " }
                line += cell
                if column < row.count - 1 { line += String(repeating: " ", count: widths[column] - cell.count) }
            }
            Swift.print(line)
        }
    }
}
