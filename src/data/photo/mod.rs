//! Digit photos → MNIST-style 28×28 images, the way MNIST itself was made, made robust to photos.
//!
//! [`read`] decodes a PNG or JPEG file within limits; [`grey`] turns it into grey levels;
//! [`preprocess`] is the pipeline from grey levels to the 28×28 input (polarity, paper level,
//! threshold, crop, stroke thickening, resizing into 20×20, centre of mass), built from the pixel
//! operations in [`ops`].

pub mod grey;
pub mod ops;
pub mod preprocess;
pub mod read;

pub use grey::{GreyImage, WORK_SIDE, to_grey};
pub use ops::resample_area;
pub use preprocess::{BOX, CENTRE, Preprocessed, SIDE, load_and_preprocess, preprocess_grey};
pub use read::{
    MAX_DECODE_BYTES, MAX_DECODED_BYTES, MAX_PIXELS, MAX_SIDE, decode, decode_bytes, decode_grey, decode_grey_bytes,
};
