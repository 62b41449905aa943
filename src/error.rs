//! The library's typed errors: each names the layer, file, shape or value at fault, and a hint.

use crate::data::error::{CsvError, DataError};
use crate::kernels::Float;
use std::path::PathBuf;

/// Everything the library can refuse, with enough context to fix it.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A name (activation, loss, optimizer, …) that the library does not know.
    #[error("unknown {kind} '{name}'; expected one of: {expected}")]
    UnknownName {
        /// What was being named ("activation", "loss", …).
        kind: &'static str,
        /// The name as given.
        name: String,
        /// The accepted names.
        expected: &'static str,
    },
    /// A parameter of a named thing that does not parse or is out of range.
    #[error("invalid {what}: {message}")]
    InvalidValue {
        /// What was being parsed.
        what: String,
        /// What is wrong with it.
        message: String,
    },
    /// Two shapes that must agree do not.
    #[error("{context}: expected {expected} but got {actual}{}", hint_suffix(.hint))]
    Shape {
        /// Where the mismatch was found (e.g. "layer 2 input").
        context: String,
        /// The expected shape, in words.
        expected: String,
        /// The actual shape, in words.
        actual: String,
        /// How to fix it, if known.
        hint: Option<String>,
    },
    /// A non-finite number where only finite ones make sense.
    #[error("{context}: value {value} at {position} is not finite{}", hint_suffix(.hint))]
    NotFinite {
        /// What holds the value (e.g. "input batch").
        context: String,
        /// The offending value, printed.
        value: String,
        /// Where it sits (row/column or index).
        position: String,
        /// How to fix it, if known.
        hint: Option<String>,
    },
    /// An output activation and loss that do not belong together.
    #[error("loss '{loss}' cannot be used with output activation '{activation}': {hint}")]
    Incompatible {
        /// The loss name.
        loss: String,
        /// The output activation name.
        activation: String,
        /// What to use instead.
        hint: String,
    },
    /// Training diverged (NaN or infinite loss or gradient).
    #[error(
        "training diverged at epoch {epoch}, batch {batch}: {what} is not finite; \
         the learning rate may be too high or the inputs unscaled"
    )]
    Diverged {
        /// Epoch (1-based).
        epoch: usize,
        /// Batch within the epoch (1-based).
        batch: usize,
        /// What went non-finite ("loss", "gradient of layer 2 weights", …).
        what: String,
    },
    /// Reading or writing a data set.
    #[error(transparent)]
    Data(#[from] DataError),
    /// A model file that cannot be written or read back.
    #[error("{path}: {message}")]
    ModelFile {
        /// The model file.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },
    /// A model given inputs of the other kind: a table model given images, or an image model
    /// given a table.
    #[error("{}", wrong_input_kind(path, *reads, action))]
    WrongInputKind {
        /// The model file.
        path: PathBuf,
        /// What the model reads.
        reads: InputKind,
        /// What the command would do with it, for the hint ("predict", "evaluate it").
        action: &'static str,
    },
    /// An image model whose input is not the size photos are read at.
    #[error(
        "{} takes {inputs} inputs{}, but photos are read as {side}×{side} = {} pixels (MNIST's size); use a model trained on MNIST-style images",
        path.display(),
        shape.map(|(r, c)| format!(" ({r}×{c} images)")).unwrap_or_default(),
        side * side
    )]
    PhotoSize {
        /// The model file.
        path: PathBuf,
        /// The model's number of inputs.
        inputs: usize,
        /// The model's image shape (rows, columns), if it records one.
        shape: Option<(usize, usize)>,
        /// The side of the square photos are read as.
        side: usize,
    },
    /// A file that cannot be read.
    #[error("cannot read {}: {error}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        error: std::io::Error,
    },
    /// A file whose content the library refuses.
    #[error("{}: {error}", path.display())]
    InFile {
        /// The file.
        path: PathBuf,
        /// What is wrong with its content.
        error: Box<Error>,
    },
    /// The processes of a distributed run disagree (settings, data, weights).
    #[error("{0}")]
    Distributed(String),
    /// An I/O error on a named file.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
}

/// What a model's inputs are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InputKind {
    /// Images: IDX files or photos.
    Images,
    /// The rows of a CSV table.
    Table,
}

fn wrong_input_kind(path: &std::path::Path, reads: InputKind, action: &str) -> String {
    match reads {
        InputKind::Table => format!("{} was trained on a CSV table: {action} with --csv FILE", path.display()),
        InputKind::Images => {
            format!("{} was not trained on a CSV table (it reads images): {action} without --csv", path.display())
        }
    }
}

fn hint_suffix(hint: &Option<String>) -> String {
    match hint {
        Some(h) => format!("; {h}"),
        None => String::new(),
    }
}

/// The library's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Normalises a user-supplied name: lower case, `-` and `_` alike.
pub(crate) fn normalize_name(name: &str) -> String {
    name.trim().to_ascii_lowercase().replace('-', "_")
}

/// Refuses NaN and infinities, naming the row and column of the first one.
pub fn check_finite<T: Float>(what: &str, x: &[T], width: usize) -> Result<()> {
    if let Some(i) = x.iter().position(|v| !v.is_finite()) {
        let w = width.max(1);
        return Err(Error::NotFinite {
            context: what.to_string(),
            value: x[i].to_string(),
            position: format!("row {}, column {}", i / w + 1, i % w + 1),
            hint: Some("clean or impute the data first".into()),
        });
    }
    Ok(())
}

/// Shorthand for a shape error.
pub(crate) fn shape_error(
    context: impl Into<String>,
    expected: impl Into<String>,
    actual: impl Into<String>,
    hint: Option<String>,
) -> Error {
    Error::Shape { context: context.into(), expected: expected.into(), actual: actual.into(), hint }
}

impl From<CsvError> for Error {
    fn from(e: CsvError) -> Self {
        Error::Data(DataError::Csv(e))
    }
}
