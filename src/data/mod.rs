//! Datasets on disk: the IDX file format ([`idx`]) and the MNIST digits ([`mnist`]), with one error
//! type whose every message names the file at fault and what is wrong with it. Digit photos become
//! MNIST-style inputs in [`image`].

pub mod augment;
pub mod csv;
pub mod error;
pub mod idx;
pub mod image;
pub mod mnist;

pub use error::{CsvError, DataError};
