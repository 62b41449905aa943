//! A table made ready for training: the task inferred, validation rows split off (stratified by
//! class), the encoding fitted on the training rows and both parts encoded.
//!
//! Imputation, when asked for, fills a missing feature value with the training mean of a numeric
//! column or the most frequent training category of a text column.

use super::encode::{Column, Tabular};
use super::infer::{Task, class_labels, class_names, column_kinds};
use super::read::{Table, is_missing, numbers, parse_number};
use crate::data::error::CsvError;
use crate::dataset::{Blocks, Dataset, Targets};
use crate::error::Result;
use crate::split::holdout;
use std::collections::HashMap;

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
    /// Columns to leave out.
    pub drop: Vec<String>,
    /// Columns to keep even if they look like identifiers.
    pub keep: Vec<String>,
    /// At most this many categories per text column: the most frequent ones, the rest sharing one
    /// "other" category ([`MAX_CATEGORIES`] by default).
    pub max_categories: usize,
}

/// Default cap on a text column's categories (one-hot inputs), the rest sharing "other".
pub const MAX_CATEGORIES: usize = 100;

/// A text column in which at least this fraction of the training rows have a value no other row
/// has is an identifier (a name, an order number) and is left out unless kept.
pub const IDENTIFIER_DISTINCT: f64 = 0.95;

/// Whether a column's name says it identifies rows: `id`, `uuid`, `guid`, `key`, or a name ending
/// in `_id`, `-id`, ` id`, `Id` (`userId`), `_no`, `_number`, `_uuid`.
pub fn named_like_an_identifier(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    ["id", "uuid", "guid", "key"].contains(&lower.as_str())
        || ["_id", "-id", " id", "_no", "_number", "_uuid", "_key"].iter().any(|s| lower.ends_with(s))
        || (name.ends_with("Id")
            && name.len() > 2
            && name[..name.len() - 2].chars().last().is_some_and(|c| c.is_ascii_lowercase()))
}

/// What preparing a table decided about its columns, for the user to read.
#[derive(Clone, Debug, PartialEq)]
pub enum ColumnNote {
    /// Left out as an identifier.
    Identifier {
        /// The column.
        column: String,
        /// Why it looks like one.
        why: String,
    },
    /// Left out as asked (`--drop`).
    Dropped {
        /// The column.
        column: String,
    },
    /// More categories than the cap: the most frequent kept, the rest folded into "other".
    Capped {
        /// The column.
        column: String,
        /// Its categories in the training rows.
        categories: usize,
        /// How many were kept.
        kept: usize,
        /// Training rows whose value became "other".
        other_rows: usize,
        /// Training rows with a value.
        rows: usize,
    },
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
    /// Columns left out or capped, with why.
    pub notes: Vec<ColumnNote>,
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
    for (cell, line) in table.cells(t) {
        if is_missing(cell) {
            return Err(CsvError::MissingTarget { path: path.clone(), line, column: opts.target.clone() });
        }
    }
    let task_inferred = opts.task.is_none();
    let task = opts.task.unwrap_or_else(|| Task::infer(table.cells(t).map(|(cell, _)| cell)));
    let classes = match task {
        Task::Classify => {
            let classes = class_names(table.cells(t).map(|(cell, _)| cell));
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
    let (train_rows, val_rows) = holdout(labels.as_deref(), n, n_val, opts.seed);
    if train_rows.is_empty() {
        return Err(invalid(format!("{n} rows leave none to train on after the validation split")));
    }
    for name in opts.drop.iter().chain(&opts.keep) {
        table.column(name, "feature")?;
    }
    let mut notes = Vec::new();
    let kinds: Vec<(usize, bool)> = column_kinds(table, t)?
        .into_iter()
        .filter(|&(c, _)| {
            let dropped = opts.drop.contains(&table.header[c]);
            if dropped {
                notes.push(ColumnNote::Dropped { column: table.header[c].clone() });
            }
            !dropped
        })
        .collect();
    if kinds.is_empty() {
        return Err(invalid(format!("there is no feature column besides the target '{}'", opts.target)));
    }
    let mut columns = Vec::with_capacity(kinds.len());
    for (c, numeric) in kinds {
        let name = table.header[c].clone();
        let present: Vec<&str> = train_rows.iter().map(|&i| table.cell(i, c)).filter(|v| !is_missing(v)).collect();
        if present.is_empty() {
            return Err(invalid(format!("column '{name}' has no values in the training rows")));
        }
        if numeric {
            let v: Vec<f64> = present.iter().filter_map(|s| parse_number(s)).collect();
            let (mean, std) = mean_std(&v);
            columns.push(Column::Numeric { name, mean, std });
            continue;
        }
        let mut counts: HashMap<&str, usize> = HashMap::new();
        for v in &present {
            *counts.entry(v).or_default() += 1;
        }
        let kept_anyway = opts.keep.contains(&name);
        let unique = counts.values().filter(|&&n| n == 1).count();
        if !kept_anyway && present.len() >= 20 && unique as f64 >= IDENTIFIER_DISTINCT * present.len() as f64 {
            let why = format!("{unique} of its {} training values appear once", present.len());
            notes.push(ColumnNote::Identifier { column: name, why });
            continue;
        }
        if !kept_anyway && named_like_an_identifier(&name) && counts.len() * 2 > present.len() {
            let why =
                format!("named like an identifier, with {} different values in {} rows", counts.len(), present.len());
            notes.push(ColumnNote::Identifier { column: name, why });
            continue;
        }
        // By frequency, then name: the mode first; the cap keeps the most frequent.
        let mut by_count: Vec<(&str, usize)> = counts.into_iter().collect();
        by_count.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        let mode = by_count[0].0.to_string();
        let other = by_count.len() > opts.max_categories.max(1);
        if other {
            let kept = opts.max_categories.max(1);
            let other_rows = by_count[kept..].iter().map(|(_, n)| n).sum();
            notes.push(ColumnNote::Capped {
                column: name.clone(),
                categories: by_count.len(),
                kept,
                other_rows,
                rows: present.len(),
            });
            by_count.truncate(kept);
        }
        let mut categories: Vec<String> = by_count.into_iter().map(|(k, _)| k.to_string()).collect();
        categories.sort();
        columns.push(Column::Categorical { name, mode, categories, other });
    }
    if columns.is_empty() {
        return Err(invalid(format!(
            "every feature column was left out (identifiers or --drop); keep one with --keep COLUMN, besides the target '{}'",
            opts.target
        )));
    }
    let dropped: Vec<String> = notes
        .iter()
        .filter_map(|n| match n {
            ColumnNote::Identifier { column, .. } | ColumnNote::Dropped { column } => Some(column.clone()),
            ColumnNote::Capped { .. } => None,
        })
        .collect();
    let (target_mean, target_std) = match task {
        Task::Classify => (0.0, 1.0),
        Task::Regress => mean_std(&train_rows.iter().map(|&i| raw_y[i]).collect::<Vec<_>>()),
    };
    let tabular = Tabular {
        target: opts.target.clone(),
        task,
        columns,
        classes,
        target_mean,
        target_std,
        impute: opts.impute,
        dropped,
    };
    // Each part encoded straight from the table (the whole table is never encoded at once), text
    // columns as category indices. On a bad cell, the error of the earliest line, as reading the
    // file in order finds it.
    let (xt, xv) = match (tabular.compact_of(table, &train_rows), tabular.compact_of(table, &val_rows)) {
        (Ok(t), Ok(v)) => (t, v),
        (Err(e), _) | (_, Err(e)) => {
            tabular.features(table)?;
            return Err(e);
        }
    };
    let targets = |rows: &[usize]| match &labels {
        Some(l) => Targets::Classes { labels: rows.iter().map(|&i| l[i]).collect(), classes: tabular.classes.len() },
        None => Targets::Values { y: rows.iter().map(|&i| tabular.scale_target(raw_y[i])).collect(), width: 1 },
    };
    let make = |(dense, blocks): (Vec<f32>, Blocks), rows: &[usize]| {
        Dataset::with_blocks(dense, tabular.width(), blocks, targets(rows))
    };
    let train = make(xt, &train_rows).map_err(|e| invalid(e.to_string()))?;
    let val = make(xv, &val_rows).map_err(|e| invalid(e.to_string()))?;
    Ok(Prepared { tabular, task_inferred, train, val, notes })
}

/// Mean and (population) standard deviation; a zero deviation becomes 1. Where the plain sums
/// overflow (values near f64's limit, 1e300), they are taken again in proportion to the largest
/// value and deviation, so that the statistics stay finite.
fn mean_std(v: &[f64]) -> (f64, f64) {
    let n = v.len().max(1) as f64;
    let mean = v.iter().sum::<f64>() / n;
    let var = v.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / n;
    let std = var.sqrt();
    if mean.is_finite() && std.is_finite() {
        return (mean, if std > 1e-12 { std } else { 1.0 });
    }
    let scale = v.iter().fold(0.0f64, |m, x| m.max(x.abs()));
    let mean = v.iter().map(|x| x / scale).sum::<f64>() / n * scale;
    // Halved before subtracting: x − mean itself may overflow.
    let half_dev = |x: f64| x / 2.0 - mean / 2.0;
    let spread = v.iter().fold(0.0f64, |m, &x| m.max(half_dev(x).abs()));
    let var = v.iter().map(|&x| (half_dev(x) / spread).powi(2)).sum::<f64>() / n;
    let std = var.sqrt() * spread * 2.0;
    (mean, if std > 1e-12 && std.is_finite() { std } else { 1.0 })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::table::encode::Targets;
    use std::path::Path;

    #[test]
    fn statistics_of_values_near_the_limit_stay_finite() {
        assert_eq!(mean_std(&[1.0, 3.0]), (2.0, 1.0));
        assert_eq!(mean_std(&[5.0, 5.0]), (5.0, 1.0));
        // The plain sums overflow here (1e300² and 3·1e308).
        let (mean, std) = mean_std(&[1e300, -1e300, 1e300, -1e300]);
        assert!(mean.abs() < 1e285 && (std / 1e300 - 1.0).abs() < 1e-12, "{mean} {std}");
        let (mean, std) = mean_std(&[1.7e308, 1.7e308, 1.7e308]);
        assert!((mean / 1.7e308 - 1.0).abs() < 1e-12 && std == 1.0, "{mean} {std}");
    }

    fn table(text: &str) -> Result<Table, CsvError> {
        Table::from_reader(text.as_bytes(), Path::new("t.csv"))
    }

    fn opts(target: &str) -> Options {
        Options {
            target: target.into(),
            task: None,
            impute: false,
            val_fraction: 0.0,
            seed: 1,
            drop: vec![],
            keep: vec![],
            max_categories: MAX_CATEGORIES,
        }
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
        let inputs = p.train.inputs();
        let x = &inputs[..];
        assert!((x[0] + 3.0 / 5f32.sqrt()).abs() < 1e-6);
        assert_eq!(&x[1..4], &[0.0, 0.0, 1.0]);
        // Other column order and an extra column: the same encoding.
        let t2 = table("extra,colour,x\n9,green,7\n").unwrap();
        assert_eq!(tab.features(&t2).unwrap(), &p.train.inputs()[12..16]);
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
        assert_eq!(p.train.inputs()[w], 0.0); // the mean, standardised
        assert_eq!(&p.train.inputs()[2 * w + 1..3 * w], &[1.0, 0.0]); // the mode, "u"
        let Targets::Values(y) = p.tabular.targets(&t).unwrap() else { panic!() };
        assert_eq!(y, [0.5, 1.5, 2.5, 3.0]);
        assert!((p.tabular.unscale_target(p.tabular.scale_target(2.5)) - 2.5).abs() < 1e-6);
    }

    #[test]
    fn identifiers_are_left_out_unless_kept_and_large_columns_capped() {
        // 40 rows: a unique code, a name-like id with repeats, a city of 6 values, a number.
        let mut text = String::from("code,user_id,city,x,y\n");
        for i in 0..40 {
            text += &format!("c{i:03},u{},{},{},{}\n", i % 25, ["a", "b", "c", "d", "e", "f"][i % 6], i % 7, i % 2);
        }
        let t = table(&text).unwrap();
        let p = prepare(&t, &opts("y")).unwrap();
        assert_eq!(p.tabular.dropped, ["code", "user_id"]);
        assert!(
            matches!(&p.notes[0], ColumnNote::Identifier { column, why } if column == "code" && why.contains("40 of its 40"))
        );
        let names: Vec<&str> = p.tabular.columns.iter().map(Column::name).collect();
        assert_eq!(names, ["city", "x"]);
        // Kept as asked; dropped as asked; an unknown name is an error naming it.
        let kept = prepare(&t, &Options { keep: vec!["code".into()], drop: vec!["x".into()], ..opts("y") }).unwrap();
        assert_eq!(kept.tabular.dropped, ["x", "user_id"]);
        assert!(kept.tabular.columns.iter().any(|c| c.name() == "code"));
        let e = prepare(&t, &Options { drop: vec!["nope".into()], ..opts("y") }).unwrap_err();
        assert!(matches!(&e, CsvError::UnknownColumn { name, .. } if name == "nope"), "{e}");
        // Capped at 4 of the 6 cities (each appears 6 or 7 times: the most frequent, then by name).
        let capped = prepare(&t, &Options { max_categories: 4, ..opts("y") }).unwrap();
        let Column::Categorical { categories, other, .. } = &capped.tabular.columns[0] else { panic!() };
        assert_eq!((categories.as_slice(), *other), (&["a", "b", "c", "d"].map(String::from)[..], true));
        assert_eq!(capped.tabular.width(), 4 + 1 + 1);
        assert!(matches!(capped.notes.last(), Some(ColumnNote::Capped { categories: 6, kept: 4, other_rows: 12, .. })));
        // "e" and "f", and an unseen city, are "other": the block's last input.
        let t2 = table("city,x\nf,0\nzzz,0\na,0\n").unwrap();
        let x = capped.tabular.features(&t2).unwrap();
        assert_eq!(&x[..5], &[0.0, 0.0, 0.0, 0.0, 1.0]);
        assert_eq!(&x[6..11], &[0.0, 0.0, 0.0, 0.0, 1.0]);
        assert_eq!(&x[12..17], &[1.0, 0.0, 0.0, 0.0, 0.0]);
        // Everything left out: an error that says how to keep one.
        let e = prepare(&t, &Options { drop: vec!["city".into(), "x".into()], ..opts("y") }).unwrap_err();
        assert!(e.to_string().contains("--keep"), "{e}");
    }

    #[test]
    fn names_that_say_identifier() {
        for yes in ["id", "ID", "uuid", "customer_id", "order_no", "userId", "row-id", "Key"] {
            assert!(named_like_an_identifier(yes), "{yes}");
        }
        for no in ["idea", "paid", "width", "kid", "Idaho", "valid", "city"] {
            assert!(!named_like_an_identifier(no), "{no}");
        }
    }
}
