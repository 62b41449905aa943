//! Decoding photos: PNG or JPEG told by content (not by extension), the EXIF orientation applied,
//! and limits checked before any pixel is decoded ([`MAX_SIDE`], [`MAX_PIXELS`],
//! [`MAX_DECODED_BYTES`]) and while decoding ([`MAX_DECODE_BYTES`]), so that a small hostile file (a
//! "decompression bomb") cannot take the memory.
//!
//! What one image may cost: its decoded pixels (at most [`MAX_DECODED_BYTES`], 128 MiB) and, for
//! [`decode_grey`], their 8-bit grey copy (1 or 2 bytes a pixel), made as soon as the decoder is
//! done, after which the decoded pixels are freed; about 200 MB at most, whatever the file.

use super::grey::{GreyImage, luma, to_grey};
use crate::data::error::DataError;
use image::metadata::Orientation;
use image::{ColorType, DynamicImage, ImageDecoder, ImageReader, Limits};
use std::path::Path;

/// Images wider or taller than this are refused before decoding (read from the header).
pub const MAX_SIDE: u32 = 16_384;
/// Images with more pixels than this (50 megapixels) are refused before decoding.
pub const MAX_PIXELS: u64 = 50_000_000;
/// Most bytes one image's decoded pixels may take (width × height × bytes per pixel of the file's
/// pixel format), checked from the header: 128 MiB, a 44-megapixel 8-bit RGB photo or a
/// 33-megapixel RGBA one. A 7,000 × 7,000 16-bit RGBA PNG (392 MB decoded, from a file of a few
/// hundred kB) is refused.
pub const MAX_DECODED_BYTES: u64 = 128 << 20;
/// Most bytes the decoder may allocate in all (its pixels and its own buffers).
pub const MAX_DECODE_BYTES: u64 = 2 * MAX_DECODED_BYTES;

/// Decodes a PNG or JPEG file with the EXIF orientation applied. The header is read first and
/// images over [`MAX_SIDE`] or [`MAX_PIXELS`] are refused before any pixel is decoded; the decoder
/// itself runs under [`MAX_DECODE_BYTES`].
pub fn decode(path: &Path) -> Result<DynamicImage, DataError> {
    let (mut img, orientation) = decode_with(path, || open_reader(path))?;
    img.apply_orientation(orientation);
    Ok(img)
}

/// [`decode`] straight to grey levels ([`super::grey::to_grey`]): the decoded pixels are made 8-bit
/// grey (with alpha, if any) and freed before anything else, and the orientation is applied to the
/// grey copy, so one image never holds more than [`MAX_DECODED_BYTES`] and that copy at once.
pub fn decode_grey(path: &Path) -> Result<GreyImage, DataError> {
    let (img, orientation) = decode_with(path, || open_reader(path))?;
    Ok(into_grey(img, orientation))
}

/// [`decode_grey`] for an image in memory; `name` only names it in error messages.
pub fn decode_grey_bytes(bytes: &[u8], name: &Path) -> Result<GreyImage, DataError> {
    let (img, orientation) = decode_with(name, || bytes_reader(bytes, name))?;
    Ok(into_grey(img, orientation))
}

/// The decoded image as grey levels, oriented. Unrotated (most photos), straight from the decoded
/// pixels; otherwise the 8-bit grey (and alpha) copy is made first, the original freed, and that
/// copy oriented. Orienting permutes pixels and the grey conversion works pixel by pixel, so the
/// order does not change the levels.
fn into_grey(img: DynamicImage, orientation: Orientation) -> GreyImage {
    if orientation == Orientation::NoTransforms {
        return to_grey(&img);
    }
    let img = match img {
        img @ (DynamicImage::ImageRgb8(_) | DynamicImage::ImageRgba8(_)) => img,
        img if img.color().has_alpha() => DynamicImage::ImageRgba8(img.into_rgba8()),
        img => DynamicImage::ImageRgb8(img.into_rgb8()),
    };
    let mut grey = match img {
        DynamicImage::ImageRgba8(rgba) => {
            let (w, h) = rgba.dimensions();
            let la = rgba.as_raw().chunks_exact(4).flat_map(|p| [luma(p[0], p[1], p[2]), p[3]]).collect();
            DynamicImage::ImageLumaA8(image::GrayAlphaImage::from_raw(w, h, la).expect("two bytes per pixel"))
        }
        other => {
            let rgb = other.into_rgb8();
            let (w, h) = rgb.dimensions();
            let l = rgb.as_raw().chunks_exact(3).map(|p| luma(p[0], p[1], p[2])).collect();
            DynamicImage::ImageLuma8(image::GrayImage::from_raw(w, h, l).expect("one level per pixel"))
        }
    };
    grey.apply_orientation(orientation);
    to_grey(&grey)
}

/// [`decode`] for an image already in memory (an upload, say), with the same checks and limits;
/// `name` only names it in error messages.
pub fn decode_bytes(bytes: &[u8], name: &Path) -> Result<DynamicImage, DataError> {
    let (mut img, orientation) = decode_with(name, || bytes_reader(bytes, name))?;
    img.apply_orientation(orientation);
    Ok(img)
}

/// A reader of an image in memory, PNG or JPEG told by content.
fn bytes_reader<'a>(bytes: &'a [u8], name: &Path) -> Result<ImageReader<std::io::Cursor<&'a [u8]>>, DataError> {
    let io = |source| DataError::Io { path: name.to_path_buf(), action: "reading", source };
    let reader = ImageReader::new(std::io::Cursor::new(bytes)).with_guessed_format().map_err(io)?;
    check_format(reader, name, || Ok(bytes[..bytes.len().min(8)].to_vec()))
}

/// A pixel format in words, for messages.
fn colour_words(c: ColorType) -> String {
    let bits = c.bits_per_pixel() / u16::from(c.channel_count());
    let kind = match c {
        ColorType::L8 | ColorType::L16 => "grey",
        ColorType::La8 | ColorType::La16 => "grey + alpha",
        ColorType::Rgb8 | ColorType::Rgb16 | ColorType::Rgb32F => "RGB",
        ColorType::Rgba8 | ColorType::Rgba16 | ColorType::Rgba32F => "RGBA",
        _ => "colour",
    };
    format!("{bits}-bit {kind}")
}

/// The shared body of the decoders: `open` gives a fresh reader each time (the header is read with
/// one, the pixels with another). Returns the pixels as stored and the EXIF orientation to apply.
fn decode_with<R: std::io::BufRead + std::io::Seek>(
    path: &Path,
    open: impl Fn() -> Result<ImageReader<R>, DataError>,
) -> Result<(DynamicImage, Orientation), DataError> {
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
    let bytes = decoder.total_bytes();
    if bytes > MAX_DECODED_BYTES {
        return Err(DataError::ImageTooCostly {
            path: path.to_path_buf(),
            width,
            height,
            colour: colour_words(decoder.color_type()),
            bytes,
            max_bytes: MAX_DECODED_BYTES,
        });
    }
    // A broken EXIF block is no reason to refuse the picture: use it unrotated.
    let orientation = decoder.orientation().unwrap_or(Orientation::NoTransforms);
    let img = DynamicImage::from_decoder(decoder).map_err(|e| decode_error(path, e))?;
    Ok((img, orientation))
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
