//! Tabular data from CSV files: a header row naming the columns, one example per row.
//!
//! [`read`] holds the cells ([`Table`]); [`infer`] finds the task and the columns' kinds; [`encode`]
//! turns rows into network inputs and targets with a [`Tabular`], the encoding stored in the model
//! file; [`prepare`](mod@prepare) splits off validation rows and fits the encoding on the rest.
//!
//! Numeric feature columns are standardised, `x = (raw − mean) / std`, with statistics of the
//! training rows only; text (categorical) columns are one-hot encoded with the categories seen in
//! the training rows (a category first met later encodes as all zeros). For regression the target
//! is standardised the same way and the model's output is mapped back to the original units.
//!
//! Missing values (an empty cell, `NA`, `N/A`, `NaN`, `null` or `?`) are an error naming the line
//! and column, unless imputation is asked for: the training mean for a numeric column, the most
//! frequent training category for a text column. A missing target is always an error.

pub mod encode;
pub mod infer;
pub mod prepare;
pub mod read;

pub use crate::data::error::CsvError;
pub use encode::{Column, Tabular, Targets};
pub use infer::{MAX_INFERRED_CLASSES, Task};
pub use prepare::{
    ColumnNote, IDENTIFIER_DISTINCT, MAX_CATEGORIES, Options, Prepared, named_like_an_identifier, prepare,
};
pub use read::{MISSING_MARKERS, Table, is_missing, parse_number};
