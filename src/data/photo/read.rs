//! Decoding photos: PNG or JPEG told by content (not by extension), the EXIF orientation applied,
//! and limits checked before any pixel is decoded ([`MAX_SIDE`], [`MAX_PIXELS`]) and while decoding
//! ([`MAX_DECODE_BYTES`]), so a hostile file cannot take the memory.

use crate::data::error::DataError;
use image::{DynamicImage, ImageDecoder, ImageReader, Limits};
use std::path::Path;

/// Images wider or taller than this are refused before decoding (read from the header).
pub const MAX_SIDE: u32 = 16_384;
/// Images with more pixels than this (50 megapixels) are refused before decoding.
pub const MAX_PIXELS: u64 = 50_000_000;
/// Most bytes the decoder may allocate (a 50-megapixel RGBA image needs 200 MB).
pub const MAX_DECODE_BYTES: u64 = 256 * 1024 * 1024;

/// Decodes a PNG or JPEG file with the EXIF orientation applied. The header is read first and
/// images over [`MAX_SIDE`] or [`MAX_PIXELS`] are refused before any pixel is decoded; the decoder
/// itself runs under [`MAX_DECODE_BYTES`].
pub fn decode(path: &Path) -> Result<DynamicImage, DataError> {
    decode_with(path, || open_reader(path))
}

/// [`decode`] for an image already in memory (an upload, say), with the same checks and limits;
/// `name` only names it in error messages.
pub fn decode_bytes(bytes: &[u8], name: &Path) -> Result<DynamicImage, DataError> {
    decode_with(name, || {
        let io = |source| DataError::Io { path: name.to_path_buf(), action: "reading", source };
        let reader = ImageReader::new(std::io::Cursor::new(bytes)).with_guessed_format().map_err(io)?;
        check_format(reader, name, || Ok(bytes[..bytes.len().min(8)].to_vec()))
    })
}

/// The shared body of [`decode`] and [`decode_bytes`]: `open` gives a fresh reader each time (the
/// header is read with one, the pixels with another).
fn decode_with<R: std::io::BufRead + std::io::Seek>(
    path: &Path,
    open: impl Fn() -> Result<ImageReader<R>, DataError>,
) -> Result<DynamicImage, DataError> {
    let reader = open()?;
    let (width, height) = reader.into_dimensions().map_err(|e| decode_error(path, e))?;
    if width > MAX_SIDE || height > MAX_SIDE || u64::from(width) * u64::from(height) > MAX_PIXELS {
        return Err(DataError::ImageTooLarge {
            path: path.to_path_buf(),
            width,
            height,
            max_side: MAX_SIDE,
            max_pixels: MAX_PIXELS,
        });
    }
    let mut reader = open()?;
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    limits.max_alloc = Some(MAX_DECODE_BYTES);
    reader.limits(limits);
    let mut decoder = reader.into_decoder().map_err(|e| decode_error(path, e))?;
    // A broken EXIF block is no reason to refuse the picture: use it unrotated.
    let orientation = decoder.orientation().unwrap_or(image::metadata::Orientation::NoTransforms);
    let mut img = DynamicImage::from_decoder(decoder).map_err(|e| decode_error(path, e))?;
    img.apply_orientation(orientation);
    Ok(img)
}

/// Opens `path` and identifies PNG or JPEG by content (not by extension).
fn open_reader(path: &Path) -> Result<ImageReader<std::io::BufReader<std::fs::File>>, DataError> {
    let io = |source| DataError::Io { path: path.to_path_buf(), action: "reading", source };
    // By content only: `ImageReader::open` would trust the extension of a text file named `x.png`.
    let file = std::fs::File::open(path).map_err(io)?;
    let reader = ImageReader::new(std::io::BufReader::new(file)).with_guessed_format().map_err(io)?;
    check_format(reader, path, || {
        let mut start = [0u8; 8];
        let n = std::fs::File::open(path).and_then(|mut f| std::io::Read::read(&mut f, &mut start)).map_err(io)?;
        Ok(start[..n].to_vec())
    })
}

/// PNG and JPEG pass; anything else is refused, naming the format or the first bytes (`start`).
fn check_format<R: std::io::BufRead + std::io::Seek>(
    reader: ImageReader<R>,
    path: &Path,
    start: impl FnOnce() -> Result<Vec<u8>, DataError>,
) -> Result<ImageReader<R>, DataError> {
    match reader.format() {
        Some(image::ImageFormat::Png | image::ImageFormat::Jpeg) => Ok(reader),
        Some(other) => Err(DataError::ImageUnsupported { path: path.to_path_buf(), format: format!("{other:?}") }),
        None => {
            let start = start()?;
            let found = if start.is_empty() {
                "the file is empty".to_string()
            } else {
                format!(
                    "it starts with bytes {}",
                    start.iter().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(" ")
                )
            };
            Err(DataError::NotAnImage { path: path.to_path_buf(), found })
        }
    }
}

fn decode_error(path: &Path, e: image::ImageError) -> DataError {
    match e {
        image::ImageError::IoError(source) => DataError::Io { path: path.to_path_buf(), action: "reading", source },
        other => DataError::ImageDecode { path: path.to_path_buf(), message: other.to_string() },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decode_bytes_reads_what_decode_reads_and_refuses_what_it_refuses() {
        use image::ImageEncoder;
        let grey: Vec<u8> = (0..40 * 30).map(|i| (i % 251) as u8).collect();
        let mut png = Vec::new();
        image::codecs::png::PngEncoder::new(&mut png).write_image(&grey, 40, 30, image::ExtendedColorType::L8).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("x.png");
        std::fs::write(&file, &png).unwrap();
        let name = Path::new("upload");
        assert_eq!(decode_bytes(&png, name).unwrap(), decode(&file).unwrap());
        assert!(matches!(decode_bytes(b"hello, world", name), Err(DataError::NotAnImage { .. })));
        assert!(matches!(decode_bytes(b"", name), Err(DataError::NotAnImage { .. })));
        assert!(matches!(decode_bytes(&png[..40], name), Err(DataError::ImageDecode { .. } | DataError::Io { .. })));
    }
}
