//! Decompression bombs: small PNG files that decode huge, built in memory for the tests that check
//! `predict` and `serve` refuse them (or stay within their stated memory).

use std::io::Write;

/// A PNG of `width × height` pixels, every byte of every sample `value` (0xff: white), in `channels`
/// (1 grey, 2 grey + alpha, 3 RGB, 4 RGBA) of `bits` (8 or 16) each. Rows after the first use the
/// "Up" filter, so the compressed stream is runs of zeros: about 1,000 decoded bytes per file byte.
pub fn png_bomb(width: u32, height: u32, channels: u8, bits: u8, value: u8) -> Vec<u8> {
    let colour_type = match channels {
        1 => 0,
        2 => 4,
        3 => 2,
        4 => 6,
        _ => panic!("channels must be 1–4"),
    };
    let row_bytes = width as usize * usize::from(channels) * usize::from(bits / 8);
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
    let first: Vec<u8> = std::iter::once(0u8).chain(std::iter::repeat_n(value, row_bytes)).collect();
    z.write_all(&first).unwrap();
    let up: Vec<u8> = std::iter::once(2u8).chain(std::iter::repeat_n(0, row_bytes)).collect();
    for _ in 1..height {
        z.write_all(&up).unwrap();
    }
    let idat = z.finish().unwrap();

    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&width.to_be_bytes());
    ihdr.extend_from_slice(&height.to_be_bytes());
    ihdr.extend_from_slice(&[bits, colour_type, 0, 0, 0]);
    chunk(&mut png, b"IHDR", &ihdr);
    chunk(&mut png, b"IDAT", &idat);
    chunk(&mut png, b"IEND", &[]);
    png
}

/// Appends one PNG chunk: length, type, data, CRC-32 of type and data.
fn chunk(png: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    png.extend_from_slice(&(data.len() as u32).to_be_bytes());
    png.extend_from_slice(kind);
    png.extend_from_slice(data);
    let mut crc = flate2::Crc::new();
    crc.update(kind);
    crc.update(data);
    png.extend_from_slice(&crc.sum().to_be_bytes());
}
