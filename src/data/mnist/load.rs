//! The MNIST layout: the four IDX files of a directory (raw or gzip) found, loaded and
//! cross-checked (counts, shapes, labels) into an [`IdxDataset`].

use crate::data::error::DataError;
use crate::data::idx::{self, IdxImages};
use std::path::{Path, PathBuf};

/// File name of the training images.
pub const TRAIN_IMAGES: &str = "train-images-idx3-ubyte";
/// File name of the training labels.
pub const TRAIN_LABELS: &str = "train-labels-idx1-ubyte";
/// File name of the test images.
pub const TEST_IMAGES: &str = "t10k-images-idx3-ubyte";
/// File name of the test labels.
pub const TEST_LABELS: &str = "t10k-labels-idx1-ubyte";

/// A train/test split of images and labels, validated to be consistent with each other.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdxDataset {
    /// Training images.
    pub train_images: IdxImages,
    /// One label per training image.
    pub train_labels: Vec<u8>,
    /// Test images, the same size as the training images.
    pub test_images: IdxImages,
    /// One label per test image, each below `classes`.
    pub test_labels: Vec<u8>,
    /// Number of classes: the largest training label plus one.
    pub classes: usize,
}

/// Finds `name` or `name.gz` in `dir` (raw preferred), so users may keep the files compressed.
pub fn find_file(dir: &Path, name: &str) -> Result<PathBuf, DataError> {
    let tried = vec![dir.join(name), dir.join(format!("{name}.gz"))];
    match tried.iter().find(|p| p.is_file()) {
        Some(found) => Ok(found.clone()),
        None => Err(DataError::Missing { dir: dir.to_path_buf(), name: name.to_string(), tried }),
    }
}

/// Loads and cross-checks the four IDX files in `dir`: cheap header checks on all four first, then
/// the full reads, so a bad file is reported before seconds are spent on the good ones.
pub fn load_dir(dir: &Path) -> Result<IdxDataset, DataError> {
    let train_images_path = find_file(dir, TRAIN_IMAGES)?;
    let train_labels_path = find_file(dir, TRAIN_LABELS)?;
    let test_images_path = find_file(dir, TEST_IMAGES)?;
    let test_labels_path = find_file(dir, TEST_LABELS)?;

    let train_shape = idx::probe_images(&train_images_path)?;
    let train_count = idx::probe_labels(&train_labels_path)?;
    let test_shape = idx::probe_images(&test_images_path)?;
    let test_count = idx::probe_labels(&test_labels_path)?;
    let consistent = check_pair(&train_images_path, train_shape.0, &train_labels_path, train_count)
        .and_then(|()| check_pair(&test_images_path, test_shape.0, &test_labels_path, test_count))
        .and_then(|()| check_shapes(&train_images_path, train_shape, &test_images_path, test_shape));
    if let Err(mismatch) = consistent {
        // A gzip file's length is only checked by decompressing it, so a lying header there shows
        // up first as a mismatch; read every file so the real fault is the one reported.
        idx::read_images(&train_images_path)?;
        idx::read_labels(&train_labels_path)?;
        idx::read_images(&test_images_path)?;
        idx::read_labels(&test_labels_path)?;
        return Err(mismatch);
    }

    let train_images = idx::read_images(&train_images_path)?;
    let train_labels = idx::read_labels(&train_labels_path)?;
    let test_images = idx::read_images(&test_images_path)?;
    let test_labels = idx::read_labels(&test_labels_path)?;

    let classes = match train_labels.iter().max() {
        Some(&max) => usize::from(max) + 1,
        None => {
            return Err(DataError::NoTrainingData { path: train_labels_path });
        }
    };
    if let Some((index, &label)) = test_labels.iter().enumerate().find(|&(_, &l)| usize::from(l) >= classes) {
        return Err(DataError::LabelOutOfRange {
            path: test_labels_path,
            train_labels: train_labels_path,
            index,
            label,
            classes,
        });
    }
    Ok(IdxDataset { train_images, train_labels, test_images, test_labels, classes })
}

/// Checks that an images file and its labels file describe the same number of examples.
fn check_pair(images: &Path, images_count: usize, labels: &Path, labels_count: usize) -> Result<(), DataError> {
    if images_count == labels_count {
        Ok(())
    } else {
        Err(DataError::CountMismatch {
            images: images.to_path_buf(),
            labels: labels.to_path_buf(),
            images_count,
            labels_count,
        })
    }
}

/// Checks that test images are the same size as training images, so one model can take both.
fn check_shapes(
    train: &Path,
    (_, train_rows, train_cols): (usize, usize, usize),
    test: &Path,
    (_, test_rows, test_cols): (usize, usize, usize),
) -> Result<(), DataError> {
    if (train_rows, train_cols) == (test_rows, test_cols) {
        Ok(())
    } else {
        Err(DataError::ShapeMismatch {
            train: train.to_path_buf(),
            test: test.to_path_buf(),
            train_rows,
            train_cols,
            test_rows,
            test_cols,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::Compression;
    use flate2::write::GzEncoder;
    use std::fs;
    use std::io::Write;
    use std::time::{Duration, Instant};

    const NAMES: [&str; 4] = [TRAIN_IMAGES, TRAIN_LABELS, TEST_IMAGES, TEST_LABELS];

    /// `count` images of `rows`x`cols` with a simple pattern.
    fn images(count: usize, rows: usize, cols: usize) -> IdxImages {
        let pixels = (0..count * rows * cols).map(|i| (i % 251) as u8).collect();
        IdxImages { count, rows, cols, pixels }
    }

    /// `count` labels cycling through `classes` classes.
    fn labels(count: usize, classes: u8) -> Vec<u8> {
        (0..count).map(|i| (i % usize::from(classes)) as u8).collect()
    }

    /// A directory with a valid 10x10, 3-class dataset: 6 training and 4 test examples.
    fn dataset_dir() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        idx::write_images(&d.join(TRAIN_IMAGES), &images(6, 10, 10)).unwrap();
        idx::write_labels(&d.join(TRAIN_LABELS), &labels(6, 3)).unwrap();
        idx::write_images(&d.join(TEST_IMAGES), &images(4, 10, 10)).unwrap();
        idx::write_labels(&d.join(TEST_LABELS), &labels(4, 3)).unwrap();
        dir
    }

    fn gz(bytes: &[u8]) -> Vec<u8> {
        let mut enc = GzEncoder::new(Vec::new(), Compression::default());
        enc.write_all(bytes).unwrap();
        enc.finish().unwrap()
    }

    /// Replaces file `name` by `damage(original)`, stored raw or as `name.gz`; returns its path.
    fn corrupt(dir: &Path, name: &str, gzip: bool, damage: impl Fn(&mut Vec<u8>)) -> PathBuf {
        let raw = dir.join(name);
        let mut bytes = fs::read(&raw).unwrap();
        damage(&mut bytes);
        if gzip {
            fs::remove_file(&raw).unwrap();
            let path = dir.join(format!("{name}.gz"));
            fs::write(&path, gz(&bytes)).unwrap();
            path
        } else {
            fs::write(&raw, bytes).unwrap();
            raw
        }
    }

    /// Damages each of the four files in turn, raw and gzip, and checks that `load_dir` names the
    /// file and that the message contains every one of `expect(name)`.
    fn each_file_fails(damage: impl Fn(&mut Vec<u8>), expect: impl Fn(&str) -> Vec<String>) {
        for name in NAMES {
            for gzip in [false, true] {
                let dir = dataset_dir();
                let path = corrupt(dir.path(), name, gzip, &damage);
                let start = Instant::now();
                let msg = load_dir(dir.path()).unwrap_err().to_string();
                assert!(start.elapsed() < Duration::from_secs(2), "slow: {msg}");
                assert!(msg.starts_with(&format!("{}: ", path.display())), "{msg}");
                for part in expect(name) {
                    assert!(msg.contains(&part), "{name} gzip={gzip}: missing {part:?} in {msg}");
                }
            }
        }
    }

    fn what(name: &str) -> &'static str {
        if name.contains("images") { "images" } else { "labels" }
    }

    #[test]
    fn loads_any_size_and_class_count_raw_or_gzip() {
        let dir = dataset_dir();
        let data = load_dir(dir.path()).unwrap();
        assert_eq!(data.classes, 3);
        assert_eq!((data.train_images.count, data.train_images.rows, data.train_images.cols), (6, 10, 10));
        assert_eq!(data.test_labels, labels(4, 3));
        for name in NAMES {
            corrupt(dir.path(), name, true, |_| {});
        }
        assert_eq!(load_dir(dir.path()).unwrap(), data);
    }

    #[test]
    fn empty_files() {
        each_file_fails(|b| b.clear(), |n| vec![format!("is empty (expected an IDX {} file)", what(n))]);
    }

    #[test]
    fn truncated_files() {
        each_file_fails(
            |b| b.truncate(b.len() - 2),
            |n| vec!["header says".into(), format!("bytes of {} (truncated?)", what(n))],
        );
        each_file_fails(|b| b.truncate(6), |_| vec!["only 6 bytes, too short for the".into()]);
    }

    #[test]
    fn wrong_magic() {
        each_file_fails(
            |b| b[..4].copy_from_slice(b"PK\x03\x04"),
            |n| vec![format!("not an IDX {} file: magic bytes are 50 4b 03 04", what(n))],
        );
    }

    #[test]
    fn trailing_garbage() {
        each_file_fails(|b| b.extend_from_slice(b"garbage"), |_| vec!["(trailing garbage?)".into()]);
    }

    #[test]
    fn lying_header_claiming_four_billion() {
        each_file_fails(
            |b| b[4..8].copy_from_slice(&4_000_000_000u32.to_be_bytes()),
            |n| vec![format!("header says 4000000000 {}", what(n)), "(truncated?)".into()],
        );
    }

    #[test]
    fn swapped_images_and_labels() {
        let dir = dataset_dir();
        let d = dir.path();
        fs::rename(d.join(TRAIN_LABELS), d.join("tmp")).unwrap();
        fs::rename(d.join(TRAIN_IMAGES), d.join(TRAIN_LABELS)).unwrap();
        fs::rename(d.join("tmp"), d.join(TRAIN_IMAGES)).unwrap();
        let msg = load_dir(d).unwrap_err().to_string();
        assert!(msg.contains(TRAIN_IMAGES) && msg.contains("1 dimension(s) but images need 3"), "{msg}");
    }

    #[test]
    fn count_mismatch_in_either_pair() {
        for (images_name, labels_name) in [(TRAIN_IMAGES, TRAIN_LABELS), (TEST_IMAGES, TEST_LABELS)] {
            let dir = dataset_dir();
            idx::write_labels(&dir.path().join(labels_name), &labels(5, 3)).unwrap();
            let msg = load_dir(dir.path()).unwrap_err().to_string();
            let n = if images_name == TRAIN_IMAGES { 6 } else { 4 };
            let want = format!(
                "{}: holds {n} images but {} holds 5 labels",
                dir.path().join(images_name).display(),
                dir.path().join(labels_name).display()
            );
            assert!(msg.starts_with(&want), "{msg}");
        }
    }

    #[test]
    fn test_label_out_of_range() {
        let dir = dataset_dir();
        idx::write_labels(&dir.path().join(TEST_LABELS), &[0, 2, 3, 1]).unwrap();
        let msg = load_dir(dir.path()).unwrap_err().to_string();
        let path = dir.path().join(TEST_LABELS);
        assert!(msg.starts_with(&format!("{}: label 3 at index 2 is out of range", path.display())), "{msg}");
        assert!(msg.contains("3 classes (0..=2)"), "{msg}");
    }

    #[test]
    fn empty_training_set() {
        let dir = dataset_dir();
        idx::write_images(&dir.path().join(TRAIN_IMAGES), &images(0, 10, 10)).unwrap();
        idx::write_labels(&dir.path().join(TRAIN_LABELS), &[]).unwrap();
        let msg = load_dir(dir.path()).unwrap_err().to_string();
        assert!(msg.contains(TRAIN_LABELS) && msg.contains("no training examples"), "{msg}");
    }

    #[test]
    fn missing_file_lists_what_was_tried() {
        let dir = dataset_dir();
        fs::remove_file(dir.path().join(TEST_LABELS)).unwrap();
        let msg = load_dir(dir.path()).unwrap_err().to_string();
        let raw = dir.path().join(TEST_LABELS);
        let want = format!(
            "{}: no {TEST_LABELS} file here (looked for {} and {}.gz)",
            dir.path().display(),
            raw.display(),
            raw.display()
        );
        assert_eq!(msg, want);
    }

    #[test]
    fn find_file_prefers_raw_then_gzip() {
        let dir = dataset_dir();
        let raw = dir.path().join(TRAIN_IMAGES);
        assert_eq!(find_file(dir.path(), TRAIN_IMAGES).unwrap(), raw);
        let gz_path = corrupt(dir.path(), TRAIN_IMAGES, true, |_| {});
        assert_eq!(find_file(dir.path(), TRAIN_IMAGES).unwrap(), gz_path);
    }

    #[test]
    fn train_and_test_shapes_must_agree() {
        let dir = dataset_dir();
        idx::write_images(&dir.path().join(TEST_IMAGES), &images(4, 10, 12)).unwrap();
        let msg = load_dir(dir.path()).unwrap_err().to_string();
        assert!(msg.starts_with(&dir.path().join(TEST_IMAGES).display().to_string()), "{msg}");
        assert!(msg.contains("test images are 10x12 but the training images in"), "{msg}");
        assert!(msg.contains(TRAIN_IMAGES) && msg.ends_with("are 10x10"), "{msg}");
    }
}
