//! Pictures: the article's figures and a network's insides, each written as a PNG and an SVG.
//!
//! Every function here takes data (a network, a trace, metrics, a confusion matrix), draws one
//! figure with [plotters](https://docs.rs/plotters), writes `NAME.png` and `NAME.svg` into a
//! directory and returns their paths. Nothing here touches the terminal.
//!
//! Text is drawn with DejaVu Sans, embedded in the library (`assets/fonts/`), so no system font is
//! needed. That font has no Chinese glyphs: with [`Lang::Zh`] the SVG's text is Chinese (an SVG
//! viewer renders it with its own fonts) while the PNG keeps English text, which the embedded font
//! can draw.
//!
//! One file per figure; [`notation`] writes the numbers and subscripts (for the command line's
//! `explain` and `neuron` too), and a private `canvas` holds what the figures share.

mod activations;
mod augmented;
mod boundary;
mod canvas;
mod confusion;
mod network;
pub mod notation;
mod training;
mod weights;

pub use activations::activations;
pub use augmented::augmented;
pub use boundary::boundary;
pub use confusion::confusion;
pub use network::{MAX_DRAWN_WIDTH, network};
pub use notation::Lang;
pub use training::training;
pub use weights::{feature_maps, filters, weights};
