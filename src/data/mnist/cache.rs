//! The MNIST cache: where it is, and whether the files there are the originals (SHA-256, with a note
//! of verified files so that they are not hashed on every command).

use super::load::{TEST_IMAGES, TEST_LABELS, TRAIN_IMAGES, TRAIN_LABELS};
use crate::data::error::DataError;
use sha2::{Digest, Sha256};
use std::ffi::OsString;
use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};

/// SHA-256 of each uncompressed original MNIST file, so a cache can be trusted.
pub const SHA256: [(&str, &str); 4] = [
    (TRAIN_IMAGES, "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db"),
    (TRAIN_LABELS, "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5"),
    (TEST_IMAGES, "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7"),
    (TEST_LABELS, "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2"),
];

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
pub(super) fn hex(bytes: &[u8]) -> String {
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
        let dir = tempfile::tempdir().unwrap();
        for name in [TRAIN_IMAGES, TRAIN_LABELS, TEST_IMAGES, TEST_LABELS] {
            std::fs::write(dir.path().join(name), b"not the original file").unwrap();
        }
        assert!(!is_cached(dir.path()));
        assert!(!is_cached(&dir.path().join("nowhere")));
        let msg = verify(&dir.path().join(TEST_LABELS), SHA256[3].1).unwrap_err().to_string();
        assert!(msg.contains(TEST_LABELS) && msg.contains("SHA-256 mismatch: expected ff7bcfd4"), "{msg}");
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
}
