//! Datasets on disk: the IDX file format ([`idx`]), the MNIST digits ([`mnist`]) and tables from CSV
//! files ([`table`]), with one error type whose every message names the file at fault and what is
//! wrong with it. Digit photos become MNIST-style inputs in [`photo`].

pub mod augment;
pub mod error;
pub mod idx;
pub mod mnist;
pub mod photo;
pub mod table;
pub mod toy;

pub use error::{CsvError, DataError};
