//! Tabular data from CSV files: a header row naming the columns, one example per row.
//!
//! Numeric feature columns are standardised, `x = (raw − mean) / std`, with statistics of the
//! training rows only; text (categorical) columns are one-hot encoded with the categories seen in
//! the training rows (a category first met later encodes as all zeros). For regression the target
//! is standardised the same way and the model's output is mapped back to the original units.
//!
//! Everything needed to apply a model to new rows — target name, feature columns in order, their
//! kind, statistics and categories, the class names — is a [`Tabular`], stored in the model file.
//! New CSV files may hold the columns in any order and extra columns, which are ignored.
//!
//! Missing values (an empty cell, `NA`, `N/A`, `NaN`, `null` or `?`) are an error naming the line
//! and column, unless imputation is asked for: the training mean for a numeric column, the most
//! frequent training category for a text column. A missing target is always an error.

use super::error::CsvError;
use crate::dataset::Dataset;
use crate::rng::rng;
use rand::seq::SliceRandom;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Without an explicit task, an integer target with at most this many distinct values is a class.
pub const MAX_INFERRED_CLASSES: usize = 20;

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

/// What the network learns to predict.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Task {
    /// One class per row: softmax outputs, cross-entropy.
    Classify,
    /// One real value per row: an identity output, half-MSE.
    Regress,
}

impl Task {
    /// `classify` or `regress` (also `classification`, `regression`).
    pub fn parse(name: &str) -> crate::Result<Self> {
        match name.trim().to_ascii_lowercase().as_str() {
            "classify" | "classification" => Ok(Task::Classify),
            "regress" | "regression" => Ok(Task::Regress),
            _ => Err(crate::Error::UnknownName { kind: "task", name: name.into(), expected: "classify, regress" }),
        }
    }

    /// The task's name as `parse` takes it.
    pub fn name(self) -> &'static str {
        match self {
            Task::Classify => "classify",
            Task::Regress => "regress",
        }
    }

    /// The rule for a target without an explicit task: classify when the values hold text, or are
    /// integers with at most [`MAX_INFERRED_CLASSES`] distinct values; otherwise regress.
    pub fn infer<'a>(values: impl IntoIterator<Item = &'a str>) -> Self {
        let mut distinct = std::collections::BTreeSet::new();
        let mut integers = true;
        for v in values {
            match parse_number(v) {
                None => return Task::Classify,
                Some(x) => {
                    integers &= x.fract() == 0.0;
                    distinct.insert(x.to_bits());
                }
            }
        }
        if integers && distinct.len() <= MAX_INFERRED_CLASSES { Task::Classify } else { Task::Regress }
    }
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
    /// Text, one-hot encoded: one input per category, in this order.
    Categorical {
        /// The column's name.
        name: String,
        /// The categories seen in the training rows, sorted.
        categories: Vec<String>,
        /// The most frequent training category (what imputation fills in).
        mode: String,
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
            Column::Categorical { categories, .. } => categories.len(),
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
}

fn one() -> f64 {
    1.0
}

/// How to turn a table into training and validation sets.
#[derive(Clone, Debug, PartialEq)]
pub struct Options {
    /// The target column's name.
    pub target: String,
    /// The task; `None` infers it ([`Task::infer`]).
    pub task: Option<Task>,
    /// Impute missing feature values instead of refusing them.
    pub impute: bool,
    /// Fraction of the rows held out for validation (stratified by class for classification).
    pub val_fraction: f64,
    /// Seed of the validation split.
    pub seed: u64,
}

/// A table made ready for training.
#[derive(Clone, Debug, PartialEq)]
pub struct Prepared {
    /// The encoding (fitted on the training rows), to store with the model.
    pub tabular: Tabular,
    /// Whether the task was inferred rather than given.
    pub task_inferred: bool,
    /// Training rows, encoded (targets standardised for regression).
    pub train: Dataset<f32>,
    /// Validation rows, encoded the same way.
    pub val: Dataset<f32>,
}

/// Reads the target, infers the task and column kinds, splits off validation rows, fits the
/// encoding on the training rows and encodes both parts.
pub fn prepare(table: &Table, opts: &Options) -> Result<Prepared, CsvError> {
    let path = &table.path;
    let invalid = |message: String| CsvError::Invalid { path: path.clone(), message };
    if !(0.0..1.0).contains(&opts.val_fraction) {
        return Err(invalid(format!("the validation fraction must be in [0, 1), got {}", opts.val_fraction)));
    }
    let t = table.column(&opts.target, "target")?;
    for (row, &line) in table.rows.iter().zip(&table.lines) {
        if is_missing(&row[t]) {
            return Err(CsvError::MissingTarget { path: path.clone(), line, column: opts.target.clone() });
        }
    }
    let task_inferred = opts.task.is_none();
    let task = opts.task.unwrap_or_else(|| Task::infer(table.rows.iter().map(|r| r[t].as_str())));
    let classes = match task {
        Task::Classify => {
            let classes = class_names(table.rows.iter().map(|r| r[t].as_str()));
            if classes.len() < 2 {
                return Err(CsvError::OneClass {
                    path: path.clone(),
                    column: opts.target.clone(),
                    class: classes.first().cloned().unwrap_or_default(),
                });
            }
            classes
        }
        Task::Regress => Vec::new(),
    };
    let labels = match task {
        Task::Classify => Some(class_labels(table, t, &classes)?),
        Task::Regress => None,
    };
    let raw_y = match task {
        Task::Classify => Vec::new(),
        Task::Regress => numbers(table, t, "the target of a regression must be numeric")?,
    };
    let n = table.len();
    let n_val = (n as f64 * opts.val_fraction).round() as usize;
    let (train_rows, val_rows) = split(labels.as_deref(), n, n_val, opts.seed);
    if train_rows.is_empty() {
        return Err(invalid(format!("{n} rows leave none to train on after the validation split")));
    }
    let kinds = column_kinds(table, t)?;
    if kinds.is_empty() {
        return Err(invalid(format!("there is no feature column besides the target '{}'", opts.target)));
    }
    let mut columns = Vec::with_capacity(kinds.len());
    for (c, numeric) in kinds {
        let name = table.header[c].clone();
        let present: Vec<&str> =
            train_rows.iter().map(|&i| table.rows[i][c].as_str()).filter(|v| !is_missing(v)).collect();
        if present.is_empty() {
            return Err(invalid(format!("column '{name}' has no values in the training rows")));
        }
        columns.push(if numeric {
            let v: Vec<f64> = present.iter().filter_map(|s| parse_number(s)).collect();
            let (mean, std) = mean_std(&v);
            Column::Numeric { name, mean, std }
        } else {
            let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
            for v in &present {
                *counts.entry(v).or_default() += 1;
            }
            let mode = counts.iter().max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(a.0))).map_or("", |(k, _)| k);
            Column::Categorical {
                name,
                mode: mode.to_string(),
                categories: counts.keys().map(|s| s.to_string()).collect(),
            }
        });
    }
    let (target_mean, target_std) = match task {
        Task::Classify => (0.0, 1.0),
        Task::Regress => mean_std(&train_rows.iter().map(|&i| raw_y[i]).collect::<Vec<_>>()),
    };
    let tabular =
        Tabular { target: opts.target.clone(), task, columns, classes, target_mean, target_std, impute: opts.impute };
    let x = tabular.features(table)?;
    let make = |rows: &[usize]| -> crate::Result<Dataset<f32>> {
        let w = tabular.width();
        let xs: Vec<f32> = rows.iter().flat_map(|&i| x[i * w..(i + 1) * w].iter().copied()).collect();
        match &labels {
            Some(l) => Dataset::classification(xs, w, rows.iter().map(|&i| l[i]).collect(), tabular.classes.len()),
            None => Dataset::regression(xs, w, rows.iter().map(|&i| tabular.scale_target(raw_y[i])).collect(), 1),
        }
    };
    let train = make(&train_rows).map_err(|e| invalid(e.to_string()))?;
    let val = make(&val_rows).map_err(|e| invalid(e.to_string()))?;
    Ok(Prepared { tabular, task_inferred, train, val })
}

/// Distinct target values in class order: numeric order when all are numbers, else text order.
fn class_names<'a>(values: impl Iterator<Item = &'a str>) -> Vec<String> {
    let mut names: Vec<String> =
        values.collect::<std::collections::BTreeSet<_>>().into_iter().map(String::from).collect();
    if names.iter().all(|s| parse_number(s).is_some()) {
        names.sort_by(|a, b| parse_number(a).unwrap_or(0.0).total_cmp(&parse_number(b).unwrap_or(0.0)));
    }
    names
}

/// Looks up a class by name, or by numeric value (`1.0` is class `1`).
fn class_index(classes: &[String], value: &str) -> Option<usize> {
    classes.iter().position(|c| c == value).or_else(|| {
        let v = parse_number(value)?;
        classes.iter().position(|c| parse_number(c) == Some(v))
    })
}

fn class_labels(table: &Table, t: usize, classes: &[String]) -> Result<Vec<u32>, CsvError> {
    table
        .rows
        .iter()
        .zip(&table.lines)
        .map(|(row, &line)| {
            class_index(classes, &row[t]).map(|c| c as u32).ok_or_else(|| CsvError::UnknownClass {
                path: table.path.clone(),
                line,
                column: table.header[t].clone(),
                value: row[t].clone(),
                known: classes.join(", "),
            })
        })
        .collect()
}

/// Column `c` as numbers; `why` explains in the error why it must be numeric.
fn numbers(table: &Table, c: usize, why: &'static str) -> Result<Vec<f64>, CsvError> {
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

/// Every column but the target, with whether it is numeric. A column is text (categorical) when
/// most of its values are not numbers; a mostly numeric column with a stray word is an error.
fn column_kinds(table: &Table, target: usize) -> Result<Vec<(usize, bool)>, CsvError> {
    let mut kinds = Vec::new();
    for c in (0..table.header.len()).filter(|&c| c != target) {
        let present = table.rows.iter().filter(|r| !is_missing(&r[c])).count();
        let numeric = table.rows.iter().filter(|r| !is_missing(&r[c]) && parse_number(&r[c]).is_some()).count();
        let is_numeric = numeric > 0 && 2 * numeric >= present;
        if is_numeric && numeric < present {
            let (row, line) = table
                .rows
                .iter()
                .zip(&table.lines)
                .find(|(r, _)| !is_missing(&r[c]) && parse_number(&r[c]).is_none())
                .ok_or_else(|| CsvError::Invalid {
                    path: table.path.clone(),
                    message: "internal: no stray value".into(),
                })?;
            return Err(CsvError::NotNumeric {
                path: table.path.clone(),
                line: *line,
                column: table.header[c].clone(),
                value: row[c].clone(),
                why: "most of the column's values are numbers",
            });
        }
        kinds.push((c, is_numeric));
    }
    Ok(kinds)
}

/// Mean and (population) standard deviation; a zero deviation becomes 1.
fn mean_std(v: &[f64]) -> (f64, f64) {
    let n = v.len().max(1) as f64;
    let mean = v.iter().sum::<f64>() / n;
    let var = v.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / n;
    let std = var.sqrt();
    (mean, if std > 1e-12 { std } else { 1.0 })
}

/// A seeded split of rows `0..n` into (training, validation) with about `n_val` validation rows:
/// per class in proportion when `labels` are given (each class keeps a training row), else at random.
/// Both lists are sorted.
pub fn split(labels: Option<&[u32]>, n: usize, n_val: usize, seed: u64) -> (Vec<usize>, Vec<usize>) {
    let mut r = rng(seed);
    let mut train = Vec::with_capacity(n);
    let mut val = Vec::with_capacity(n_val);
    match labels {
        None => {
            let mut order: Vec<usize> = (0..n).collect();
            order.shuffle(&mut r);
            let k = n_val.min(n);
            val.extend_from_slice(&order[..k]);
            train.extend_from_slice(&order[k..]);
        }
        Some(labels) => {
            let classes = labels.iter().map(|&l| l as usize + 1).max().unwrap_or(0);
            let fraction = n_val as f64 / n.max(1) as f64;
            for c in 0..classes {
                let mut rows: Vec<usize> = (0..n).filter(|&i| labels[i] as usize == c).collect();
                rows.shuffle(&mut r);
                let k = ((rows.len() as f64 * fraction).round() as usize).min(rows.len().saturating_sub(1));
                val.extend_from_slice(&rows[..k]);
                train.extend_from_slice(&rows[k..]);
            }
        }
    }
    train.sort_unstable();
    val.sort_unstable();
    (train, val)
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
        let idx: Vec<usize> =
            self.columns.iter().map(|c| table.column(c.name(), "feature")).collect::<Result<_, _>>()?;
        let w = self.width();
        let mut x = vec![0f32; table.len() * w];
        for ((row, &line), xr) in table.rows.iter().zip(&table.lines).zip(x.chunks_exact_mut(w)) {
            let mut k = 0;
            for (col, &c) in self.columns.iter().zip(&idx) {
                let cell = row[c].as_str();
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
                        xr[k] = ((v - mean) / std) as f32;
                    }
                    Column::Categorical { categories, mode, .. } => {
                        let cell = if is_missing(cell) { mode.as_str() } else { cell };
                        if let Some(j) = categories.iter().position(|c| c == cell) {
                            xr[k + j] = 1.0;
                        }
                    }
                }
                k += col.width();
            }
        }
        Ok(x)
    }

    /// Categories of `table` that the training rows did not have, per text column: (column, rows
    /// with an unseen category, the first such value and its line). Such rows encode as all zeros
    /// in that column's one-hot block, which callers should say.
    pub fn unseen_categories(&self, table: &Table) -> Vec<(String, usize, String, u64)> {
        let mut out = Vec::new();
        for col in &self.columns {
            let Column::Categorical { name, categories, .. } = col else { continue };
            let Ok(c) = table.column(name, "feature") else { continue };
            let mut first = None;
            let mut count = 0;
            for (row, &line) in table.rows.iter().zip(&table.lines) {
                let cell = row[c].as_str();
                if !is_missing(cell) && !categories.iter().any(|k| k == cell) {
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
        for (row, &line) in table.rows.iter().zip(&table.lines) {
            if is_missing(&row[t]) {
                return Err(CsvError::MissingTarget { path: table.path.clone(), line, column: self.target.clone() });
            }
        }
        Ok(match self.task {
            Task::Classify => Targets::Classes(class_labels(table, t, &self.classes)?),
            Task::Regress => Targets::Values(numbers(table, t, "the target of a regression must be numeric")?),
        })
    }

    /// Features and targets of `table` as a data set for the network (targets scaled as in training).
    pub fn dataset(&self, table: &Table) -> crate::Result<Dataset<f32>> {
        let x = self.features(table)?;
        match self.targets(table)? {
            Targets::Classes(l) => Dataset::classification(x, self.width(), l, self.classes.len()),
            Targets::Values(y) => {
                Dataset::regression(x, self.width(), y.iter().map(|&v| self.scale_target(v)).collect(), 1)
            }
        }
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

/// How close predicted values are to the true ones.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct RegressionMetrics {
    /// Root mean squared error.
    pub rmse: f64,
    /// Mean absolute error.
    pub mae: f64,
    /// Coefficient of determination, `1 − SS_res / SS_tot` (1 is perfect, 0 is the mean's score).
    pub r2: f64,
}

/// RMSE, MAE and R² of `predicted` against `truth` (same length, at least one value).
pub fn regression_metrics(predicted: &[f64], truth: &[f64]) -> RegressionMetrics {
    let n = truth.len().max(1) as f64;
    let mean = truth.iter().sum::<f64>() / n;
    let (mut se, mut ae, mut tot) = (0.0, 0.0, 0.0);
    for (p, t) in predicted.iter().zip(truth) {
        se += (p - t) * (p - t);
        ae += (p - t).abs();
        tot += (t - mean) * (t - mean);
    }
    let r2 = if tot > 0.0 {
        1.0 - se / tot
    } else if se == 0.0 {
        1.0
    } else {
        0.0
    };
    RegressionMetrics { rmse: (se / n).sqrt(), mae: ae / n, r2 }
}

/// The mean over classes of F1 = 2PR/(P+R), from a confusion matrix (rows true, columns predicted);
/// a class absent from both truth and predictions is left out.
pub fn macro_f1(confusion: &[Vec<usize>]) -> f64 {
    let pr = crate::metrics::precision_recall(confusion);
    let k = confusion.len();
    let mut sum = 0.0;
    let mut count = 0;
    for c in 0..k {
        let present = confusion[c].iter().sum::<usize>() + (0..k).map(|r| confusion[r][c]).sum::<usize>() > 0;
        if !present {
            continue;
        }
        let (p, r) = pr[c];
        sum += if p + r > 0.0 { 2.0 * p * r / (p + r) } else { 0.0 };
        count += 1;
    }
    if count == 0 { 0.0 } else { sum / count as f64 }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(text: &str) -> Result<Table, CsvError> {
        Table::from_reader(text.as_bytes(), Path::new("t.csv"))
    }

    fn opts(target: &str) -> Options {
        Options { target: target.into(), task: None, impute: false, val_fraction: 0.0, seed: 1 }
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

    #[test]
    fn task_inference() {
        assert_eq!(Task::infer(["0", "1", "2", "1"]), Task::Classify);
        assert_eq!(Task::infer(["cat", "dog"]), Task::Classify);
        assert_eq!(Task::infer(["0.5", "1", "2"]), Task::Regress);
        let many: Vec<String> = (0..21).map(|i| i.to_string()).collect();
        assert_eq!(Task::infer(many.iter().map(String::as_str)), Task::Regress);
        assert_eq!(Task::parse("regression").unwrap(), Task::Regress);
        assert!(Task::parse("cluster").is_err());
    }

    #[test]
    fn one_hot_and_standardisation_from_training_rows() {
        let t = table("x,colour,y\n1,red,a\n3,blue,b\n5,red,a\n7,green,b\n").unwrap();
        let p = prepare(&t, &opts("y")).unwrap();
        let tab = &p.tabular;
        assert_eq!(tab.task, Task::Classify);
        assert_eq!(tab.classes, ["a", "b"]);
        assert_eq!(tab.width(), 4);
        assert_eq!(tab.columns[0], Column::Numeric { name: "x".into(), mean: 4.0, std: 5f64.sqrt() });
        let Column::Categorical { categories, mode, .. } = &tab.columns[1] else { panic!() };
        assert_eq!(categories, &["blue", "green", "red"]);
        assert_eq!(mode, "red");
        let x = &p.train.x;
        assert!((x[0] + 3.0 / 5f32.sqrt()).abs() < 1e-6);
        assert_eq!(&x[1..4], &[0.0, 0.0, 1.0]);
        // Other column order and an extra column: the same encoding.
        let t2 = table("extra,colour,x\n9,green,7\n").unwrap();
        assert_eq!(tab.features(&t2).unwrap(), &p.train.x[12..16]);
        // A missing column.
        let t3 = table("colour\nred\n").unwrap();
        assert!(matches!(tab.features(&t3), Err(CsvError::UnknownColumn { role: "feature", .. })));
    }

    #[test]
    fn data_errors_name_line_and_column() {
        let e = prepare(&table("x,y\n1,0\n2,1\nabc,0\n4,1\n").unwrap(), &opts("y")).unwrap_err();
        assert!(matches!(&e, CsvError::NotNumeric { line: 4, column, .. } if column == "x"), "{e}");
        let e = prepare(&table("x,y\n1,0\n,1\n").unwrap(), &opts("y")).unwrap_err();
        assert!(matches!(&e, CsvError::Missing { line: 3, .. }), "{e}");
        let e = prepare(&table("x,y\n1,0\n2,0\n").unwrap(), &opts("y")).unwrap_err();
        assert!(matches!(&e, CsvError::OneClass { .. }), "{e}");
        let e = prepare(&table("x,y\n1,0\n2,1\n").unwrap(), &opts("z")).unwrap_err();
        assert!(matches!(&e, CsvError::UnknownColumn { role: "target", .. }), "{e}");
        let e = prepare(&table("x,y\n1,a\n2,b\n").unwrap(), &Options { task: Some(Task::Regress), ..opts("y") })
            .unwrap_err();
        assert!(matches!(&e, CsvError::NotNumeric { line: 2, .. }), "{e}");
    }

    #[test]
    fn imputation_fills_mean_and_mode() {
        let t = table("x,c,y\n1,u,0.5\n,v,1.5\n3,,2.5\n5,u,3\n").unwrap();
        let p = prepare(&t, &Options { impute: true, ..opts("y") }).unwrap();
        assert_eq!(p.tabular.task, Task::Regress);
        let w = p.tabular.width();
        assert_eq!(p.train.x[w], 0.0); // the mean, standardised
        assert_eq!(&p.train.x[2 * w + 1..3 * w], &[1.0, 0.0]); // the mode, "u"
        let Targets::Values(y) = p.tabular.targets(&t).unwrap() else { panic!() };
        assert_eq!(y, [0.5, 1.5, 2.5, 3.0]);
        assert!((p.tabular.unscale_target(p.tabular.scale_target(2.5)) - 2.5).abs() < 1e-6);
    }

    #[test]
    fn stratified_split_is_seeded_and_proportional() {
        let labels: Vec<u32> = (0..100).map(|i| u32::from(i % 4 == 0)).collect();
        let (train, val) = split(Some(&labels), 100, 20, 7);
        assert_eq!(val.len(), 20);
        assert_eq!(val.iter().filter(|&&i| labels[i] == 1).count(), 5);
        assert_eq!(train.len() + val.len(), 100);
        assert_eq!(split(Some(&labels), 100, 20, 7), (train, val.clone()));
        assert_ne!(split(Some(&labels), 100, 20, 8).1, val);
    }

    #[test]
    fn metrics() {
        let m = regression_metrics(&[1.0, 2.0, 3.0], &[1.0, 2.0, 5.0]);
        assert!((m.rmse - (4.0f64 / 3.0).sqrt()).abs() < 1e-12);
        assert!((m.mae - 2.0 / 3.0).abs() < 1e-12);
        assert!((m.r2 - (1.0 - 4.0 / (78.0 / 9.0))).abs() < 1e-12);
        assert!((macro_f1(&[vec![2, 0], vec![0, 2]]) - 1.0).abs() < 1e-12);
    }
}
