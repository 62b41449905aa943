//! What a table holds: the task its target asks for, the target's classes, and which feature
//! columns are numbers and which are text.

use super::read::{Table, is_missing, parse_number};
use crate::data::error::CsvError;
use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};

/// Without an explicit task, an integer target with at most this many distinct values is a class.
pub const MAX_INFERRED_CLASSES: usize = 20;

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
    pub fn parse(name: &str) -> Result<Self> {
        match name.trim().to_ascii_lowercase().as_str() {
            "classify" | "classification" => Ok(Task::Classify),
            "regress" | "regression" => Ok(Task::Regress),
            _ => Err(Error::UnknownName { kind: "task", name: name.into(), expected: "classify, regress" }),
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

/// Distinct target values in class order: numeric order when all are numbers, else text order.
pub(super) fn class_names<'a>(values: impl Iterator<Item = &'a str>) -> Vec<String> {
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

pub(super) fn class_labels(table: &Table, t: usize, classes: &[String]) -> Result<Vec<u32>, CsvError> {
    table
        .cells(t)
        .map(|(cell, line)| {
            class_index(classes, cell).map(|c| c as u32).ok_or_else(|| CsvError::UnknownClass {
                path: table.path.clone(),
                line,
                column: table.header[t].clone(),
                value: cell.to_string(),
                known: classes.join(", "),
            })
        })
        .collect()
}

/// Every column but the target, with whether it is numeric. A column is text (categorical) when
/// most of its values are not numbers; a mostly numeric column with a stray word is an error.
pub(super) fn column_kinds(table: &Table, target: usize) -> Result<Vec<(usize, bool)>, CsvError> {
    let mut kinds = Vec::new();
    for c in (0..table.header.len()).filter(|&c| c != target) {
        let (mut present, mut numeric, mut stray) = (0, 0, None);
        for (cell, line) in table.cells(c).filter(|(cell, _)| !is_missing(cell)) {
            present += 1;
            match parse_number(cell) {
                Some(_) => numeric += 1,
                None => {
                    stray.get_or_insert((cell, line));
                }
            }
        }
        let is_numeric = numeric > 0 && 2 * numeric >= present;
        if is_numeric && let Some((value, line)) = stray {
            return Err(CsvError::NotNumeric {
                path: table.path.clone(),
                line,
                column: table.header[c].clone(),
                value: value.to_string(),
                why: "most of the column's values are numbers",
            });
        }
        kinds.push((c, is_numeric));
    }
    Ok(kinds)
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
