//! What every figure shares: the embedded font, text styles, colours and colour scales, the
//! colour bar, line wrapping, and [`save`], which draws a [`Figure`] as a PNG and an SVG.

use super::notation::{Digits, Lang};
use crate::error::{Error, Result};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// How numbers are written on figures: four significant digits, short enough for a label.
pub(super) const LABEL: Digits = Digits::Significant(4);

/// DejaVu Sans (Bitstream Vera license, `assets/fonts/LICENSE-DejaVu.txt`).
static FONT: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");
/// The family every text of a figure uses; the SVG names it, so viewers substitute their own.
const FAMILY: &str = "sans-serif";

/// What drawing a figure returns.
pub(super) type Drawn = std::result::Result<(), Box<dyn std::error::Error>>;

/// One picture, drawable on any plotters backend.
pub(super) trait Figure {
    /// Width and height in pixels.
    fn size(&self) -> (u32, u32);
    /// Draws the figure on `root` with its text in `lang`.
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>, lang: Lang) -> Drawn
    where
        DB::ErrorType: 'static;
}

fn ensure_font() -> Result<()> {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    if *REGISTERED.get_or_init(|| plotters::style::register_font(FAMILY, FontStyle::Normal, FONT).is_ok()) {
        Ok(())
    } else {
        Err(Error::InvalidValue { what: "embedded font".into(), message: "DejaVuSans.ttf could not be parsed".into() })
    }
}

fn drawing_error(path: &Path, e: Box<dyn std::error::Error>) -> Error {
    Error::Io { path: path.to_path_buf(), source: std::io::Error::other(format!("cannot draw the figure: {e}")) }
}

/// Draws `fig` into `dir/NAME.png` (English text) and `dir/NAME.svg` (text in `lang`).
pub(super) fn save(fig: &impl Figure, dir: &Path, name: &str, lang: Lang) -> Result<Vec<PathBuf>> {
    ensure_font()?;
    std::fs::create_dir_all(dir).map_err(|source| Error::Io { path: dir.to_path_buf(), source })?;
    let png = dir.join(format!("{name}.png"));
    {
        let root = BitMapBackend::new(&png, fig.size()).into_drawing_area();
        fig.draw(&root, Lang::En)
            .and_then(|()| root.present().map_err(Into::into))
            .map_err(|e| drawing_error(&png, e))?;
    }
    let svg_path = dir.join(format!("{name}.svg"));
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, fig.size()).into_drawing_area();
        fig.draw(&root, lang)
            .and_then(|()| root.present().map_err(Into::into))
            .map_err(|e| drawing_error(&svg_path, e))?;
    }
    std::fs::write(&svg_path, svg).map_err(|source| Error::Io { path: svg_path.clone(), source })?;
    Ok(vec![png, svg_path])
}

/// The error for a figure's input that cannot be drawn.
pub(super) fn invalid(what: &str, message: impl Into<String>) -> Error {
    Error::InvalidValue { what: what.into(), message: message.into() }
}

/// The embedded font at `size` pixels.
pub(super) fn font(size: f64) -> FontDesc<'static> {
    (FAMILY, size).into_font()
}

/// Text in `colour` at `size`, anchored at `(h, v)`.
pub(super) fn text<'a>(size: f64, colour: &'a RGBColor, h: HPos, v: VPos) -> TextStyle<'a> {
    TextStyle::from(font(size)).color(colour).pos(Pos::new(h, v))
}

/// Text and outlines.
pub(super) const INK: RGBColor = RGBColor(30, 30, 30);
/// Secondary text.
pub(super) const GREY: RGBColor = RGBColor(110, 110, 110);
/// Negative end of the diverging scale (and positive weights' links).
pub(super) const NEG: RGBColor = RGBColor(33, 102, 172);
/// Positive end of the diverging scale.
pub(super) const POS: RGBColor = RGBColor(178, 24, 43);
/// Full end of the sequential scale.
const DARK: RGBColor = RGBColor(8, 48, 107);
/// Distinct line colours (Okabe–Ito, readable by colour-blind readers).
pub(super) const LINES: [RGBColor; 7] = [
    RGBColor(0, 114, 178),
    RGBColor(0, 158, 115),
    RGBColor(230, 159, 0),
    RGBColor(204, 121, 167),
    RGBColor(213, 94, 0),
    RGBColor(86, 180, 233),
    RGBColor(120, 120, 120),
];

/// `a` blended towards `b` by `t` in 0–1.
pub(super) fn mix(a: RGBColor, b: RGBColor, t: f64) -> RGBColor {
    let t = t.clamp(0.0, 1.0);
    let m = |x: u8, y: u8| (x as f64 + (y as f64 - x as f64) * t).round() as u8;
    RGBColor(m(a.0, b.0), m(a.1, b.1), m(a.2, b.2))
}

/// Blue (−1) → white (0) → red (+1).
pub(super) fn diverging(t: f64) -> RGBColor {
    if t < 0.0 { mix(WHITE, NEG, -t) } else { mix(WHITE, POS, t) }
}

/// White (0) → dark blue (1).
pub(super) fn sequential(t: f64) -> RGBColor {
    mix(WHITE, DARK, t)
}

/// Rounds `t` to one of `levels` steps, so that neighbouring raster cells share colours and merge.
pub(super) fn quantize(t: f64, levels: f64) -> f64 {
    (t * levels).round() / levels
}

/// Runs of equal colour along each row of a `w × h` grid: (row, first column, end column, colour).
/// Drawing runs instead of cells keeps the SVGs small.
pub(super) fn runs(
    w: usize,
    h: usize,
    colour: impl Fn(usize, usize) -> RGBColor,
) -> Vec<(usize, usize, usize, RGBColor)> {
    let mut out = Vec::new();
    for r in 0..h {
        let mut start = 0;
        let mut c0 = colour(r, 0);
        for c in 1..=w {
            let next = if c < w { Some(colour(r, c)) } else { None };
            if next != Some(c0) {
                out.push((r, start, c, c0));
                if let Some(n) = next {
                    start = c;
                    c0 = n;
                }
            }
        }
    }
    out
}

/// A vertical colour bar in pixel rectangle `(x0, y0)–(x1, y1)`, bottom = 0, top = 1, with ticks.
pub(super) fn colour_bar<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    (x0, y0, x1, y1): (i32, i32, i32, i32),
    colour: impl Fn(f64) -> RGBColor,
    ticks: &[(f64, String)],
    title: &str,
) -> Drawn
where
    DB::ErrorType: 'static,
{
    let h = (y1 - y0).max(1);
    for p in 0..h {
        let t = 1.0 - (p as f64 + 0.5) / h as f64;
        root.draw(&Rectangle::new([(x0, y0 + p), (x1, y0 + p + 1)], colour(t).filled()))?;
    }
    root.draw(&Rectangle::new([(x0, y0), (x1, y1)], INK.stroke_width(1)))?;
    for (t, label) in ticks {
        let y = y1 - (t * h as f64).round() as i32;
        root.draw(&PathElement::new(vec![(x1, y), (x1 + 6, y)], INK.stroke_width(1)))?;
        root.draw(&Text::new(label.clone(), (x1 + 10, y), text(16.0, &INK, HPos::Left, VPos::Center)))?;
    }
    root.draw(&Text::new(title.to_string(), ((x0 + x1) / 2, y0 - 12), text(16.0, &INK, HPos::Center, VPos::Bottom)))?;
    Ok(())
}

/// Splits `s` into lines of at most about `width` pixels at `size`.
pub(super) fn wrap<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, s: &str, size: f64, width: u32) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in s.split(' ') {
        let candidate = if line.is_empty() { word.to_string() } else { format!("{line} {word}") };
        let w = root.estimate_text_size(&candidate, &TextStyle::from(font(size))).map(|(w, _)| w).unwrap_or(0);
        if w > width && !line.is_empty() {
            lines.push(std::mem::replace(&mut line, word.to_string()));
        } else {
            line = candidate;
        }
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_merge_equal_neighbours() {
        let r = runs(4, 2, |r, c| if r == 0 && c < 3 { WHITE } else { BLACK });
        assert_eq!(r, vec![(0, 0, 3, WHITE), (0, 3, 4, BLACK), (1, 0, 4, BLACK)]);
    }
}
