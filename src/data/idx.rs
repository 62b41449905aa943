//! Reader and writer for the IDX format that MNIST ships in: a big-endian header (magic
//! `00 00 type dims`, then one `u32` per dimension) followed by the raw elements. Only unsigned bytes
//! (type 0x08) are supported. Files may be raw or gzip-compressed, detected by content.
//!
//! Every size a header claims is checked against the data actually present before anything is
//! allocated on its say-so: raw files against their length on disk, gzip streams by reading at most
//! one byte more than claimed into a buffer that grows with the real data.

use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::Path;

use flate2::read::MultiGzDecoder;

use super::error::DataError;

/// IDX type code for unsigned bytes, the only element type MNIST uses.
const UBYTE: u8 = 0x08;
/// First two bytes of every gzip stream, used to detect compression by content.
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// A stack of greyscale images as stored in an IDX3 file, kept as raw bytes for the caller to scale.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdxImages {
    /// Number of images.
    pub count: usize,
    /// Rows per image.
    pub rows: usize,
    /// Columns per image.
    pub cols: usize,
    /// `count * rows * cols` pixels, image after image, each row-major.
    pub pixels: Vec<u8>,
}

/// Reads an IDX3 images file (raw or gzip), validating it completely.
pub fn read_images(path: &Path) -> Result<IdxImages, DataError> {
    let (dims, pixels) = read_file(path, Kind::Images)?;
    Ok(images_from(&dims, pixels))
}

/// Reads an IDX1 labels file (raw or gzip), validating it completely.
pub fn read_labels(path: &Path) -> Result<Vec<u8>, DataError> {
    read_file(path, Kind::Labels).map(|(_, labels)| labels)
}

/// Parses an in-memory IDX3 images file (raw or gzip); `path` is only used in error messages.
pub fn parse_images(bytes: &[u8], path: &Path) -> Result<IdxImages, DataError> {
    let (dims, pixels) = parse_bytes(bytes, path, Kind::Images)?;
    Ok(images_from(&dims, pixels))
}

/// Parses an in-memory IDX1 labels file (raw or gzip); `path` is only used in error messages.
pub fn parse_labels(bytes: &[u8], path: &Path) -> Result<Vec<u8>, DataError> {
    parse_bytes(bytes, path, Kind::Labels).map(|(_, labels)| labels)
}

/// Reads only the header of an images file, returning `(count, rows, cols)`, so datasets can be
/// cross-checked cheaply before the pixels are read. A raw file's length is checked too; a gzip
/// file's length can only be checked by reading it all, which [`read_images`] does.
pub fn probe_images(path: &Path) -> Result<(usize, usize, usize), DataError> {
    let dims = probe_file(path, Kind::Images)?;
    Ok((dims[0], dims[1], dims[2]))
}

/// Reads only the header of a labels file, returning the label count (see [`probe_images`]).
pub fn probe_labels(path: &Path) -> Result<usize, DataError> {
    Ok(probe_file(path, Kind::Labels)?[0])
}

/// Writes images as a raw (uncompressed) IDX3 file, for tests and tools.
pub fn write_images(path: &Path, images: &IdxImages) -> io::Result<()> {
    let expected = images.count.checked_mul(images.rows).and_then(|n| n.checked_mul(images.cols));
    if expected != Some(images.pixels.len()) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "{}: {} images of {}x{} need {} pixels but {} were given",
                path.display(),
                images.count,
                images.rows,
                images.cols,
                expected.map_or_else(|| "too many".to_string(), |n| n.to_string()),
                images.pixels.len()
            ),
        ));
    }
    write_file(path, &[images.count, images.rows, images.cols], &images.pixels)
}

/// Writes labels as a raw (uncompressed) IDX1 file, for tests and tools.
pub fn write_labels(path: &Path, labels: &[u8]) -> io::Result<()> {
    write_file(path, &[labels.len()], labels)
}

/// Which IDX layout the caller expects, so checks and messages can say what the file should be.
#[derive(Clone, Copy)]
enum Kind {
    Images,
    Labels,
}

impl Kind {
    /// Number of dimensions this kind of file has.
    fn dims(self) -> u8 {
        match self {
            Kind::Images => 3,
            Kind::Labels => 1,
        }
    }

    /// Plural noun for messages.
    fn what(self) -> &'static str {
        match self {
            Kind::Images => "images",
            Kind::Labels => "labels",
        }
    }

    /// Size of the header in bytes.
    fn header_len(self) -> usize {
        4 + 4 * usize::from(self.dims())
    }
}

/// A header that has passed every check that needs no payload: its dimensions and payload size.
struct Header {
    dims: Vec<usize>,
    payload: u64,
    kind: Kind,
}

impl Header {
    /// What the header claims, in words, for messages ("60000 labels", "5 images of 28x28 ...").
    fn claim(&self) -> String {
        match self.kind {
            Kind::Labels => format!("{} labels", self.dims[0]),
            Kind::Images => {
                format!("{} images of {}x{} pixels ({} bytes)", self.dims[0], self.dims[1], self.dims[2], self.payload)
            }
        }
    }
}

/// Where the bytes come from, so errors can be worded for what the user has on disk.
#[derive(Clone, Copy)]
struct Source<'a> {
    path: &'a Path,
    gzip: bool,
}

impl Source<'_> {
    /// "file" or "gunzipped file", for messages about lengths.
    fn form(self) -> &'static str {
        if self.gzip { "gunzipped file" } else { "file" }
    }

    /// Wraps a read error: corrupt gzip data and a failing disk need different advice.
    fn read_error(self, source: io::Error) -> DataError {
        if self.gzip {
            DataError::Gzip { path: self.path.to_path_buf(), source }
        } else {
            DataError::Io { path: self.path.to_path_buf(), action: "reading", source }
        }
    }
}

/// An IDX file opened for reading, with compression already detected.
struct Opened<'a> {
    /// Positioned at the first IDX byte (decompressing, for gzip).
    reader: Box<dyn Read>,
    source: Source<'a>,
    /// Length on disk of a raw file; `None` for gzip, whose real length is only known by reading.
    len: Option<u64>,
}

/// Opens a file and detects compression by its first bytes.
fn open(path: &Path) -> Result<Opened<'_>, DataError> {
    let io_err = |action| move |source| DataError::Io { path: path.to_path_buf(), action, source };
    let mut file = File::open(path).map_err(io_err("opening"))?;
    let len = file.metadata().map_err(io_err("reading metadata of"))?.len();
    let mut signature = [0u8; 2];
    let n = read_full(&mut file, &mut signature).map_err(io_err("reading"))?;
    file.seek(SeekFrom::Start(0)).map_err(io_err("seeking in"))?;
    if n == signature.len() && signature == GZIP_MAGIC {
        let reader = MultiGzDecoder::new(BufReader::new(file));
        Ok(Opened { reader: Box::new(reader), source: Source { path, gzip: true }, len: None })
    } else {
        Ok(Opened { reader: Box::new(file), source: Source { path, gzip: false }, len: Some(len) })
    }
}

/// Reads and fully validates an IDX file from disk.
fn read_file(path: &Path, kind: Kind) -> Result<(Vec<usize>, Vec<u8>), DataError> {
    let opened = open(path)?;
    read_idx(opened.reader, opened.source, kind, opened.len)
}

/// Reads an IDX header from disk and checks it (and a raw file's length) without reading the payload.
fn probe_file(path: &Path, kind: Kind) -> Result<Vec<usize>, DataError> {
    let mut opened = open(path)?;
    let header = read_header(&mut opened.reader, opened.source, kind)?;
    if let Some(len) = opened.len {
        check_length(&header, opened.source, len)?;
    }
    Ok(header.dims)
}

/// Parses and fully validates an in-memory IDX file.
fn parse_bytes(bytes: &[u8], path: &Path, kind: Kind) -> Result<(Vec<usize>, Vec<u8>), DataError> {
    if bytes.starts_with(&GZIP_MAGIC) {
        read_idx(MultiGzDecoder::new(bytes), Source { path, gzip: true }, kind, None)
    } else {
        read_idx(bytes, Source { path, gzip: false }, kind, Some(bytes.len() as u64))
    }
}

/// Reads header and payload from `reader`. With a known total length the header is checked against
/// it before any payload is read; without one (gzip) at most one byte past the claim is read into a
/// buffer that only grows as real data arrives.
fn read_idx(
    mut reader: impl Read,
    source: Source<'_>,
    kind: Kind,
    total_len: Option<u64>,
) -> Result<(Vec<usize>, Vec<u8>), DataError> {
    let header = read_header(&mut reader, source, kind)?;
    let mut data = Vec::new();
    if let Some(total) = total_len {
        check_length(&header, source, total)?;
        // The claim now matches the real length, so allocating it up front is safe.
        data.reserve_exact(usize::try_from(header.payload).unwrap_or(0));
    }
    reader.take(header.payload.saturating_add(1)).read_to_end(&mut data).map_err(|e| source.read_error(e))?;
    let got = data.len() as u64;
    if got < header.payload {
        return Err(truncated(&header, source, got));
    }
    if got > header.payload {
        return Err(trailing(&header, source, None));
    }
    Ok((header.dims, data))
}

/// Reads and validates the magic number and dimensions, without trusting them for anything yet.
fn read_header(reader: &mut impl Read, source: Source<'_>, kind: Kind) -> Result<Header, DataError> {
    let path = source.path.to_path_buf();
    let needed = kind.header_len();
    let mut bytes = [0u8; 16];
    let bytes = &mut bytes[..needed];
    let n = read_full(reader, bytes).map_err(|e| source.read_error(e))?;
    if n == 0 {
        return Err(DataError::Empty { path, form: source.form(), what: kind.what() });
    }
    if n >= 4 || bytes[..n] != [0, 0, UBYTE, kind.dims()][..n] {
        // Judge the magic number as soon as there is any hint it is wrong.
        let magic = &bytes[..n.min(4)];
        if magic.len() < 2 || magic[..2] != [0, 0] {
            let found = magic.iter().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(" ");
            return Err(DataError::BadMagic { path, what: kind.what(), found, dims: kind.dims() });
        }
        if magic.len() >= 3 && magic[2] != UBYTE {
            return Err(DataError::UnsupportedType { path, code: magic[2] });
        }
        if magic.len() == 4 && magic[3] != kind.dims() {
            return Err(DataError::WrongDims { path, what: kind.what(), found: magic[3], expected: kind.dims() });
        }
    }
    if n < needed {
        return Err(DataError::ShortHeader { path, form: source.form(), len: n, needed });
    }
    let raw: Vec<u64> =
        bytes[4..].chunks_exact(4).map(|c| u64::from(u32::from_be_bytes([c[0], c[1], c[2], c[3]]))).collect();
    if let Kind::Images = kind {
        for (value, dim) in [(raw[1], "rows"), (raw[2], "cols")] {
            if value == 0 {
                return Err(DataError::ZeroDim { path, dim });
            }
        }
    }
    let too_large = || DataError::TooLarge { path: path.clone(), dims: raw.clone() };
    let payload = raw.iter().try_fold(1u64, |acc, &d| acc.checked_mul(d)).ok_or_else(too_large)?;
    usize::try_from(payload).map_err(|_| too_large())?;
    let dims = raw.iter().map(|&d| usize::try_from(d)).collect::<Result<_, _>>().map_err(|_| too_large())?;
    Ok(Header { dims, payload, kind })
}

/// Checks a raw file's real length against its header: neither short nor long is acceptable.
fn check_length(header: &Header, source: Source<'_>, total: u64) -> Result<(), DataError> {
    let actual = total.saturating_sub(header.kind.header_len() as u64);
    if actual < header.payload {
        Err(truncated(header, source, actual))
    } else if actual > header.payload {
        Err(trailing(header, source, Some(actual - header.payload)))
    } else {
        Ok(())
    }
}

/// The error for a file holding less payload than its header claims.
fn truncated(header: &Header, source: Source<'_>, actual: u64) -> DataError {
    DataError::Truncated {
        path: source.path.to_path_buf(),
        claim: header.claim(),
        form: source.form(),
        actual,
        what: header.kind.what(),
    }
}

/// The error for a file holding more payload than its header claims.
fn trailing(header: &Header, source: Source<'_>, extra: Option<u64>) -> DataError {
    DataError::TrailingData { path: source.path.to_path_buf(), claim: header.claim(), form: source.form(), extra }
}

/// Reads until `buf` is full or the stream ends, returning how many bytes arrived.
fn read_full(reader: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match reader.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// Builds [`IdxImages`] from dimensions already validated as three.
fn images_from(dims: &[usize], pixels: Vec<u8>) -> IdxImages {
    IdxImages { count: dims[0], rows: dims[1], cols: dims[2], pixels }
}

/// Writes an unsigned-byte IDX file with the given dimensions and payload.
fn write_file(path: &Path, dims: &[usize], payload: &[u8]) -> io::Result<()> {
    let mut out = BufWriter::new(File::create(path)?);
    let rank = u8::try_from(dims.len()).map_err(|_| invalid(path, "too many dimensions"))?;
    out.write_all(&[0, 0, UBYTE, rank])?;
    for &d in dims {
        let d = u32::try_from(d).map_err(|_| invalid(path, "a dimension exceeds u32::MAX"))?;
        out.write_all(&d.to_be_bytes())?;
    }
    out.write_all(payload)?;
    out.flush()
}

/// An `InvalidInput` error naming the file, for data IDX cannot represent.
fn invalid(path: &Path, what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, format!("{}: {what}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::Compression;
    use flate2::write::GzEncoder;
    use std::time::{Duration, Instant};

    /// Five 10x10 images with a recognisable pattern.
    fn sample() -> IdxImages {
        let pixels = (0..500u32).map(|i| (i * 7 % 256) as u8).collect();
        IdxImages { count: 5, rows: 10, cols: 10, pixels }
    }

    /// gzip-compresses bytes the way a user's `gzip` would.
    fn gz(bytes: &[u8]) -> Vec<u8> {
        let mut enc = GzEncoder::new(Vec::new(), Compression::default());
        enc.write_all(bytes).unwrap();
        enc.finish().unwrap()
    }

    #[test]
    fn round_trip_raw_and_gzip() {
        let dir = tempfile::tempdir().unwrap();
        let images = sample();
        let labels = vec![0u8, 1, 2, 1, 0];
        let ip = dir.path().join("images");
        let lp = dir.path().join("labels");
        write_images(&ip, &images).unwrap();
        write_labels(&lp, &labels).unwrap();
        assert_eq!(read_images(&ip).unwrap(), images);
        assert_eq!(read_labels(&lp).unwrap(), labels);
        assert_eq!(probe_images(&ip).unwrap(), (5, 10, 10));
        assert_eq!(probe_labels(&lp).unwrap(), 5);

        let ipz = dir.path().join("images.gz");
        let lpz = dir.path().join("labels.gz");
        std::fs::write(&ipz, gz(&std::fs::read(&ip).unwrap())).unwrap();
        std::fs::write(&lpz, gz(&std::fs::read(&lp).unwrap())).unwrap();
        assert_eq!(read_images(&ipz).unwrap(), images);
        assert_eq!(read_labels(&lpz).unwrap(), labels);
        assert_eq!(probe_images(&ipz).unwrap(), (5, 10, 10));

        // The in-memory parsers agree with the file readers, both forms.
        let bytes = std::fs::read(&ip).unwrap();
        assert_eq!(parse_images(&bytes, &ip).unwrap(), images);
        assert_eq!(parse_images(&gz(&bytes), &ip).unwrap(), images);
        let bytes = std::fs::read(&lp).unwrap();
        assert_eq!(parse_labels(&bytes, &lp).unwrap(), labels);
        assert_eq!(parse_labels(&gz(&bytes), &lp).unwrap(), labels);
    }

    #[test]
    fn zero_images_is_a_valid_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("none");
        let empty = IdxImages { count: 0, rows: 3, cols: 4, pixels: vec![] };
        write_images(&p, &empty).unwrap();
        assert_eq!(read_images(&p).unwrap(), empty);
    }

    #[test]
    fn write_rejects_inconsistent_images() {
        let dir = tempfile::tempdir().unwrap();
        let bad = IdxImages { count: 2, rows: 3, cols: 3, pixels: vec![0; 17] };
        let err = write_images(&dir.path().join("x"), &bad).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
    }

    /// Parses `bytes` raw and gzipped as images and returns both messages.
    fn image_errors(bytes: &[u8]) -> [String; 2] {
        let p = Path::new("/x/imgs");
        [bytes.to_vec(), gz(bytes)].map(|b| parse_images(&b, p).unwrap_err().to_string())
    }

    #[test]
    fn header_problems_are_named() {
        let header = |magic: [u8; 4], dims: &[u32]| {
            let mut v = magic.to_vec();
            dims.iter().for_each(|d| v.extend(d.to_be_bytes()));
            v
        };
        for m in image_errors(&header([0, 0, 0x0d, 3], &[1, 1, 1])) {
            assert!(m.starts_with("/x/imgs: ") && m.contains("type 0x0d"), "{m}");
        }
        for m in image_errors(&header([0, 0, 8, 1], &[5])) {
            assert!(m.contains("has 1 dimension(s) but images need 3"), "{m}");
        }
        for m in image_errors(&header([0, 0, 8, 3], &[5, 0, 10])) {
            assert!(m.contains("rows = 0"), "{m}");
        }
        for m in image_errors(&header([0, 0, 8, 3], &[1, 28])) {
            assert!(m.contains("only 12 bytes, too short for the 16-byte IDX header"), "{m}");
        }
        for m in image_errors(&[0x50, 0x4b, 0x03]) {
            assert!(m.contains("magic bytes are 50 4b 03, expected 00 00 08 03"), "{m}");
        }
        #[cfg(target_pointer_width = "32")]
        for m in image_errors(&header([0, 0, 8, 3], &[u32::MAX, u32::MAX, 2])) {
            assert!(m.contains("more bytes than this machine can address"), "{m}");
        }
    }

    #[test]
    fn lying_header_fails_fast_without_allocating() {
        let mut bytes = vec![0, 0, 8, 3];
        for d in [4_000_000_000u32, 28, 28] {
            bytes.extend(d.to_be_bytes());
        }
        bytes.extend([0u8; 1000]);
        let start = Instant::now();
        for m in image_errors(&bytes) {
            assert!(m.contains("header says 4000000000 images of 28x28"), "{m}");
            assert!(m.contains("holds 1000 bytes of images (truncated?)"), "{m}");
        }
        assert!(start.elapsed() < Duration::from_secs(2));
    }

    #[test]
    fn cut_gzip_stream_is_reported_as_gzip_damage() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("labels.gz");
        let mut raw = vec![0, 0, 8, 1, 0, 0, 0, 200];
        raw.extend((0..200u32).map(|i| (i % 10) as u8));
        let z = gz(&raw);
        std::fs::write(&p, &z[..z.len() / 2]).unwrap();
        let m = read_labels(&p).unwrap_err().to_string();
        assert!(m.contains(&p.display().to_string()) && m.contains("corrupt or truncated gzip"), "{m}");
    }

    #[test]
    fn missing_file_names_the_path() {
        let m = read_labels(Path::new("/nonexistent/labels")).unwrap_err().to_string();
        assert!(m.starts_with("/nonexistent/labels: opening:"), "{m}");
    }
}
