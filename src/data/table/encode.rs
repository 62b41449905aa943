//! How a table's rows become network inputs and targets, the [`Tabular`] stored in the model file.
//!
//! Numeric feature columns are standardised, `x = (raw − mean) / std`, with statistics of the
//! training rows only; text (categorical) columns are one-hot encoded with the categories seen in
//! the training rows (a category first met later encodes as all zeros). For regression the target
//! is standardised the same way and the model's output is mapped back to the original units.
//!
//! Everything needed to apply a model to new rows — target name, feature columns in order, their
//! kind, statistics and categories, the class names — is a [`Tabular`]. New CSV files may hold the
//! columns in any order and extra columns, which are ignored. A missing feature value is an error
//! naming the line and column unless the model imputes ([`Tabular::impute`]); a missing target is
//! always an error.

use super::infer::{Task, class_labels};
use super::read::{Table, is_missing, numbers, parse_number};
use crate::data::error::CsvError;
use crate::dataset::{Blocks, Dataset};
use crate::error::Result;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// One cell, encoded: a value, or the index of the one input that is 1 in its column's block.
enum Cell {
    Value(f32),
    Hot(Option<usize>),
}

/// One input column and how it becomes network inputs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Column {
    /// A number, standardised: one input `(raw − mean) / std`.
    Numeric {
        /// The column's name.
        name: String,
        /// Mean over the training rows.
        mean: f64,
        /// Standard deviation over the training rows (1 where it is 0).
        std: f64,
    },
    /// Text, one-hot encoded: one input per category, in this order (and one more, last, for
    /// every other value when `other` is set).
    Categorical {
        /// The column's name.
        name: String,
        /// The categories seen in the training rows, sorted (the most frequent ones when capped).
        categories: Vec<String>,
        /// The most frequent training category (what imputation fills in).
        mode: String,
        /// The column had more categories than the cap: every value not in `categories`, in
        /// training or later, is the one "other" category, the block's last input.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        other: bool,
    },
}

impl Column {
    /// The column's name.
    pub fn name(&self) -> &str {
        match self {
            Column::Numeric { name, .. } | Column::Categorical { name, .. } => name,
        }
    }

    /// How many network inputs it becomes.
    pub fn width(&self) -> usize {
        match self {
            Column::Numeric { .. } => 1,
            Column::Categorical { categories, other, .. } => categories.len() + usize::from(*other),
        }
    }
}

/// How a table's rows become a network's inputs and targets: stored in the model file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Tabular {
    /// The target column's name.
    pub target: String,
    /// Classification or regression.
    pub task: Task,
    /// The feature columns, in input order.
    pub columns: Vec<Column>,
    /// Class names in output order (classification; empty for regression).
    #[serde(default)]
    pub classes: Vec<String>,
    /// Mean of the training targets (regression; 0 for classification).
    #[serde(default)]
    pub target_mean: f64,
    /// Standard deviation of the training targets (regression; 1 for classification).
    #[serde(default = "one")]
    pub target_std: f64,
    /// Whether missing feature values are imputed (else they are an error).
    #[serde(default)]
    pub impute: bool,
    /// Columns of the training table left out (identifiers, or by `--drop`): ignored in new files.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dropped: Vec<String>,
}

fn one() -> f64 {
    1.0
}

impl Tabular {
    /// Network inputs per row.
    pub fn width(&self) -> usize {
        self.columns.iter().map(Column::width).sum()
    }

    /// Network outputs: the classes, or one value.
    pub fn outputs(&self) -> usize {
        match self.task {
            Task::Classify => self.classes.len(),
            Task::Regress => 1,
        }
    }

    /// A target in original units as the network learns it.
    pub fn scale_target(&self, y: f64) -> f32 {
        ((y - self.target_mean) / self.target_std) as f32
    }

    /// A network output back in the target's original units.
    pub fn unscale_target(&self, out: f32) -> f64 {
        f64::from(out) * self.target_std + self.target_mean
    }

    /// The features of every row of `table`, encoded (rows × [`Tabular::width`]). Columns are found
    /// by name, in any order; extra columns are ignored.
    pub fn features(&self, table: &Table) -> Result<Vec<f32>, CsvError> {
        self.features_of(table, &(0..table.len()).collect::<Vec<_>>())
    }

    /// [`Tabular::features`] of the rows `rows` of `table`, in that order.
    pub fn features_of(&self, table: &Table, rows: &[usize]) -> Result<Vec<f32>, CsvError> {
        let w = self.width();
        let mut x = vec![0f32; rows.len() * w];
        // The current row's first input; a row's first cell (k = 0) moves it on.
        let mut base = 0usize.wrapping_sub(w);
        self.encode(table, rows, |k, v| {
            if k == 0 {
                base = base.wrapping_add(w);
            }
            match v {
                Cell::Value(v) => x[base + k] = v,
                Cell::Hot(Some(j)) => x[base + k + j] = 1.0,
                Cell::Hot(None) => {}
            }
        })?;
        Ok(x)
    }

    /// The rows `rows` of `table` with each text column kept as a category index (see
    /// [`Blocks`]): the values outside the one-hot blocks, and the blocks.
    pub fn compact_of(&self, table: &Table, rows: &[usize]) -> Result<(Vec<f32>, Blocks), CsvError> {
        let mut at = Vec::new();
        let mut k = 0;
        for c in &self.columns {
            if let Column::Categorical { .. } = c {
                at.push((k, c.width()));
            }
            k += c.width();
        }
        let outside = self.width() - at.iter().map(|b| b.1).sum::<usize>();
        let mut dense = Vec::with_capacity(rows.len() * outside);
        let mut hot = Vec::with_capacity(rows.len() * at.len());
        self.encode(table, rows, |_, v| match v {
            Cell::Value(v) => dense.push(v),
            Cell::Hot(index) => hot.push(index.map_or(Blocks::NONE, |j| j as u32)),
        })?;
        Ok((dense, Blocks { at, hot }))
    }

    /// Walks the cells of rows `rows`, column by column, giving `put` each one's first input and
    /// its encoding.
    fn encode(&self, table: &Table, rows: &[usize], mut put: impl FnMut(usize, Cell)) -> Result<(), CsvError> {
        let idx: Vec<usize> =
            self.columns.iter().map(|c| table.column(c.name(), "feature")).collect::<Result<_, _>>()?;
        // Each text column's categories by name: a lookup per cell, whatever their number.
        let positions: Vec<HashMap<&str, usize>> = self
            .columns
            .iter()
            .map(|c| match c {
                Column::Categorical { categories, .. } => {
                    categories.iter().enumerate().map(|(j, k)| (k.as_str(), j)).collect()
                }
                Column::Numeric { .. } => HashMap::new(),
            })
            .collect();
        for &r in rows {
            let line = table.lines[r];
            let mut k = 0;
            for ((col, &c), position) in self.columns.iter().zip(&idx).zip(&positions) {
                let cell = table.cell(r, c);
                if is_missing(cell) && !self.impute {
                    return Err(CsvError::Missing { path: table.path.clone(), line, column: col.name().into() });
                }
                match col {
                    Column::Numeric { mean, std, .. } => {
                        let v = if is_missing(cell) {
                            *mean
                        } else {
                            parse_number(cell).ok_or_else(|| CsvError::NotNumeric {
                                path: table.path.clone(),
                                line,
                                column: col.name().into(),
                                value: cell.into(),
                                why: "the column is numeric",
                            })?
                        };
                        put(k, Cell::Value(((v - mean) / std) as f32));
                    }
                    Column::Categorical { mode, other, categories, .. } => {
                        let cell = if is_missing(cell) { mode.as_str() } else { cell };
                        let index = match position.get(cell) {
                            Some(&j) => Some(j),
                            None if *other => Some(categories.len()),
                            None => None,
                        };
                        put(k, Cell::Hot(index));
                    }
                }
                k += col.width();
            }
        }
        Ok(())
    }

    /// Categories of `table` that the training rows did not have, per text column: (column, rows
    /// with an unseen category, the first such value and its line). Such rows encode as all zeros
    /// in that column's one-hot block, which callers should say.
    pub fn unseen_categories(&self, table: &Table) -> Vec<(String, usize, String, u64)> {
        let mut out = Vec::new();
        for col in &self.columns {
            let Column::Categorical { name, categories, other: false, .. } = col else { continue };
            let Ok(c) = table.column(name, "feature") else { continue };
            let mut first = None;
            let mut count = 0;
            let known: std::collections::HashSet<&str> = categories.iter().map(String::as_str).collect();
            for (cell, line) in table.cells(c) {
                if !is_missing(cell) && !known.contains(cell) {
                    count += 1;
                    first.get_or_insert((cell.to_string(), line));
                }
            }
            if let Some((value, line)) = first {
                out.push((name.clone(), count, value, line));
            }
        }
        out
    }

    /// The target of every row of `table`: class indices (classification) or values in original
    /// units (regression).
    pub fn targets(&self, table: &Table) -> Result<Targets, CsvError> {
        let t = table.column(&self.target, "target")?;
        for (cell, line) in table.cells(t) {
            if is_missing(cell) {
                return Err(CsvError::MissingTarget { path: table.path.clone(), line, column: self.target.clone() });
            }
        }
        Ok(match self.task {
            Task::Classify => Targets::Classes(class_labels(table, t, &self.classes)?),
            Task::Regress => Targets::Values(numbers(table, t, "the target of a regression must be numeric")?),
        })
    }

    /// Features and targets of `table` as a data set for the network (targets scaled as in training).
    pub fn dataset(&self, table: &Table) -> Result<Dataset<f32>> {
        let (dense, blocks) = self.compact_of(table, &(0..table.len()).collect::<Vec<_>>())?;
        let targets = match self.targets(table)? {
            Targets::Classes(labels) => crate::dataset::Targets::Classes { labels, classes: self.classes.len() },
            Targets::Values(y) => {
                crate::dataset::Targets::Values { y: y.iter().map(|&v| self.scale_target(v)).collect(), width: 1 }
            }
        };
        Dataset::with_blocks(dense, self.width(), blocks, targets)
    }
}

/// A table's targets in their own terms.
#[derive(Clone, Debug, PartialEq)]
pub enum Targets {
    /// Class indices into [`Tabular::classes`].
    Classes(Vec<u32>),
    /// Values in the target's original units.
    Values(Vec<f64>),
}
