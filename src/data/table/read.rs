//! The cells of a CSV file: a header row naming the columns, one example per row, every cell
//! trimmed text, the whole checked to be rectangular.
//!
//! Missing values are an empty cell, `NA`, `N/A`, `NaN`, `null` or `?` ([`is_missing`]).

use crate::data::error::CsvError;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// Cell contents read as a missing value (compared after trimming; case matters only for `?`).
pub const MISSING_MARKERS: &[&str] = &["", "na", "n/a", "nan", "null", "?"];

/// The cells of a CSV file as text, trimmed, checked to be rectangular.
///
/// The cells' text is kept in one buffer, each cell a range of it (four bytes per cell besides
/// its text): a table takes about the memory of its file, not a string per cell.
#[derive(Clone, Debug, PartialEq)]
pub struct Table {
    /// The file the table came from (named in errors).
    pub path: PathBuf,
    /// Column names.
    pub header: Vec<String>,
    /// Line in the file of each row (the header is line 1).
    pub lines: Vec<u64>,
    /// Every cell's text, row after row.
    text: String,
    /// Where each row starts in `text`.
    row_starts: Vec<usize>,
    /// Where each cell ends, from its row's start: rows × columns.
    ends: Vec<u32>,
    /// Column index by name.
    index: HashMap<String, usize>,
}

impl Table {
    /// Reads and checks a CSV file.
    pub fn read(path: &Path) -> Result<Self, CsvError> {
        let file = std::fs::File::open(path).map_err(|source| CsvError::Io { path: path.to_path_buf(), source })?;
        Self::from_reader(std::io::BufReader::new(file), path)
    }

    /// Reads CSV text from `reader`; `path` names the source in errors.
    pub fn from_reader(reader: impl std::io::Read, path: &Path) -> Result<Self, CsvError> {
        let path = path.to_path_buf();
        let parse = |e: ::csv::Error| CsvError::Parse { path: path.clone(), message: e.to_string() };
        let mut r =
            ::csv::ReaderBuilder::new().has_headers(false).flexible(true).trim(::csv::Trim::All).from_reader(reader);
        // One record, reused: no allocation per row.
        let mut rec = ::csv::StringRecord::new();
        if !r.read_record(&mut rec).map_err(parse)? {
            return Err(CsvError::Empty { path });
        }
        let header: Vec<String> = rec.iter().map(str::to_string).collect();
        if header.iter().all(String::is_empty) {
            return Err(CsvError::Empty { path });
        }
        let mut index = HashMap::with_capacity(header.len());
        for (i, name) in header.iter().enumerate() {
            if index.insert(name.clone(), i).is_some() {
                return Err(CsvError::DuplicateColumn { path, name: name.clone() });
            }
        }
        let (mut text, mut row_starts, mut ends, mut lines) = (String::new(), Vec::new(), Vec::new(), Vec::new());
        while r.read_record(&mut rec).map_err(parse)? {
            let line = rec.position().map_or(lines.len() as u64 + 2, |p| p.line());
            // Blank lines are skipped by the reader (and, in its count, not numbered).
            if rec.len() != header.len() {
                return Err(CsvError::Ragged { path, line, found: rec.len(), expected: header.len() });
            }
            let start = text.len();
            row_starts.push(start);
            for cell in rec.iter() {
                text.push_str(cell);
                let end = u32::try_from(text.len() - start).map_err(|_| CsvError::Invalid {
                    path: path.clone(),
                    message: format!("line {line} is longer than 4 GiB"),
                })?;
                ends.push(end);
            }
            lines.push(line);
        }
        if lines.is_empty() {
            return Err(CsvError::NoRows { path });
        }
        text.shrink_to_fit();
        Ok(Self { path, header, lines, text, row_starts, ends, index })
    }

    /// Number of data rows.
    pub fn len(&self) -> usize {
        self.lines.len()
    }

    /// Whether there are no data rows (never, for a table that was read successfully).
    pub fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }

    /// The cell of data row `row` (from 0) in column `col`, trimmed.
    pub fn cell(&self, row: usize, col: usize) -> &str {
        let w = self.header.len();
        let (base, ends) = (self.row_starts[row], &self.ends[row * w..(row + 1) * w]);
        let start = if col == 0 { 0 } else { ends[col - 1] as usize };
        &self.text[base + start..base + ends[col] as usize]
    }

    /// Column `col`'s cells, row by row, each with its line in the file.
    pub fn cells(&self, col: usize) -> impl Iterator<Item = (&str, u64)> + '_ {
        (0..self.len()).map(move |r| (self.cell(r, col), self.lines[r]))
    }

    /// Index of the column `name`; `role` ("target", "feature") goes into the error.
    pub fn column(&self, name: &str, role: &'static str) -> Result<usize, CsvError> {
        self.index.get(name).copied().ok_or_else(|| CsvError::UnknownColumn {
            path: self.path.clone(),
            role,
            name: name.to_string(),
            available: self.header.join(", "),
        })
    }
}

/// Whether a cell counts as missing.
pub fn is_missing(cell: &str) -> bool {
    MISSING_MARKERS.iter().any(|m| cell.eq_ignore_ascii_case(m))
}

/// A cell as a finite number, if it is one.
pub fn parse_number(cell: &str) -> Option<f64> {
    cell.parse::<f64>().ok().filter(|v| v.is_finite())
}

/// Column `c` as numbers; `why` explains in the error why it must be numeric.
pub(super) fn numbers(table: &Table, c: usize, why: &'static str) -> Result<Vec<f64>, CsvError> {
    table
        .cells(c)
        .map(|(cell, line)| {
            parse_number(cell).ok_or_else(|| CsvError::NotNumeric {
                path: table.path.clone(),
                line,
                column: table.header[c].clone(),
                value: cell.to_string(),
                why,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(text: &str) -> Result<Table, CsvError> {
        Table::from_reader(text.as_bytes(), Path::new("t.csv"))
    }

    #[test]
    fn reads_header_rows_and_lines() {
        let t = table("a, b\n1,x\n2 ,y\n").unwrap();
        assert_eq!(t.header, ["a", "b"]);
        assert_eq!((t.len(), t.cell(0, 0), t.cell(0, 1), t.cell(1, 0), t.cell(1, 1)), (2, "1", "x", "2", "y"));
        assert_eq!(t.cells(1).collect::<Vec<_>>(), [("x", 2), ("y", 3)]);
        assert_eq!(t.lines, [2, 3]);
    }

    #[test]
    fn file_errors() {
        assert!(matches!(table(""), Err(CsvError::Empty { .. })));
        assert!(matches!(table("a,b\n"), Err(CsvError::NoRows { .. })));
        let e = table("a,b\n1,2\n3\n").unwrap_err();
        assert!(matches!(e, CsvError::Ragged { line: 3, found: 1, expected: 2, .. }), "{e}");
        assert!(matches!(table("a,a\n1,2\n"), Err(CsvError::DuplicateColumn { .. })));
    }
}
