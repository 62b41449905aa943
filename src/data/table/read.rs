//! The cells of a CSV file: a header row naming the columns, one example per row, every cell
//! trimmed text, the whole checked to be rectangular.
//!
//! Missing values are an empty cell, `NA`, `N/A`, `NaN`, `null` or `?` ([`is_missing`]).

use crate::data::error::CsvError;
use std::path::{Path, PathBuf};

/// Cell contents read as a missing value (compared after trimming; case matters only for `?`).
pub const MISSING_MARKERS: &[&str] = &["", "na", "n/a", "nan", "null", "?"];

/// The cells of a CSV file as text, trimmed, checked to be rectangular.
#[derive(Clone, Debug, PartialEq)]
pub struct Table {
    /// The file the table came from (named in errors).
    pub path: PathBuf,
    /// Column names.
    pub header: Vec<String>,
    /// Rows of cells, each as long as the header.
    pub rows: Vec<Vec<String>>,
    /// Line in the file of each row (the header is line 1).
    pub lines: Vec<u64>,
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
        let mut records = r.records();
        let header: Vec<String> = match records.next() {
            None => return Err(CsvError::Empty { path }),
            Some(rec) => rec.map_err(parse)?.iter().map(str::to_string).collect(),
        };
        if header.iter().all(String::is_empty) {
            return Err(CsvError::Empty { path });
        }
        for (i, name) in header.iter().enumerate() {
            if header[..i].contains(name) {
                return Err(CsvError::DuplicateColumn { path, name: name.clone() });
            }
        }
        let mut rows = Vec::new();
        let mut lines = Vec::new();
        for rec in records {
            let rec = rec.map_err(parse)?;
            let line = rec.position().map_or(rows.len() as u64 + 2, |p| p.line());
            // Blank lines are skipped by the reader (and, in its count, not numbered).
            if rec.len() != header.len() {
                return Err(CsvError::Ragged { path, line, found: rec.len(), expected: header.len() });
            }
            rows.push(rec.iter().map(str::to_string).collect());
            lines.push(line);
        }
        if rows.is_empty() {
            return Err(CsvError::NoRows { path });
        }
        Ok(Self { path, header, rows, lines })
    }

    /// Number of data rows.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// Whether there are no data rows (never, for a table that was read successfully).
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Index of the column `name`; `role` ("target", "feature") goes into the error.
    pub fn column(&self, name: &str, role: &'static str) -> Result<usize, CsvError> {
        self.header.iter().position(|h| h == name).ok_or_else(|| CsvError::UnknownColumn {
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
        .rows
        .iter()
        .zip(&table.lines)
        .map(|(row, &line)| {
            parse_number(&row[c]).ok_or_else(|| CsvError::NotNumeric {
                path: table.path.clone(),
                line,
                column: table.header[c].clone(),
                value: row[c].clone(),
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
        assert_eq!(t.rows, [["1", "x"], ["2", "y"]]);
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
