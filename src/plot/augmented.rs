//! `plot augment`: training images beside the distortions `train --augment` makes of them.

use super::canvas::{Drawn, Figure, GREY, INK, invalid, mix, quantize, runs, save, text};
use super::notation::Lang;
use crate::data::augment::Augment;
use crate::error::Result;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, VPos};
use std::path::{Path, PathBuf};

/// Training images as `train --augment` distorts them (`augment`): one row per image, the original
/// first, then `variants` distortions (those of epochs 1, 2, …). `images` are rows × `side`² pixels
/// in 0–1, ink high.
pub fn augmented(
    images: &[f32],
    side: usize,
    augment: &Augment,
    variants: usize,
    dir: &Path,
    lang: Lang,
) -> Result<Vec<PathBuf>> {
    let px = side * side;
    if side < 2 || px != augment.pixels() || images.is_empty() || !images.len().is_multiple_of(px) {
        return Err(invalid("images", format!("{side}×{side} images expected, {} values given", images.len())));
    }
    if variants == 0 {
        return Err(invalid("--variants", "at least one distortion must be drawn"));
    }
    let count = images.len() / px;
    let aug = Augment { fill: 0.0, ..*augment };
    let mut scratch = aug.scratch(1);
    let mut cells = Vec::with_capacity(count * (variants + 1));
    for (i, img) in images.chunks_exact(px).enumerate() {
        cells.push(img.to_vec());
        for e in 0..variants {
            let mut x = img.to_vec();
            aug.apply(&mut x, &[i], 1, e, &mut scratch, 1);
            cells.push(x);
        }
    }
    save(&AugmentFigure { cells, side, count, variants, label: aug.to_string() }, dir, "augment", lang)
}

struct AugmentFigure {
    cells: Vec<Vec<f32>>,
    side: usize,
    count: usize,
    variants: usize,
    label: String,
}

impl AugmentFigure {
    const CELL: i32 = 112;
}

impl Figure for AugmentFigure {
    fn size(&self) -> (u32, u32) {
        let w = ((self.variants as i32 + 1) * (Self::CELL + 12) + 80).max(900);
        (w as u32, (self.count as i32 * (Self::CELL + 12) + 150) as u32)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>, lang: Lang) -> Drawn
    where
        DB::ErrorType: 'static,
    {
        root.fill(&WHITE)?;
        let (w, _) = root.dim_in_pixel();
        let title = lang.pick(
            "Data augmentation: each training image, distorted afresh every epoch",
            "数据增强：每个训练图像在每一轮都重新随机变形",
        );
        root.draw(&Text::new(title, (w as i32 / 2, 16), text(24.0, &INK, HPos::Center, VPos::Top)))?;
        root.draw(&Text::new(self.label.clone(), (w as i32 / 2, 50), text(17.0, &GREY, HPos::Center, VPos::Top)))?;
        let cell = Self::CELL;
        let cols = self.variants + 1;
        let left = (w as i32 - cols as i32 * (cell + 12)) / 2;
        let top = 112;
        for c in 0..cols {
            let label = if c == 0 {
                lang.pick("original", "原图").to_string()
            } else {
                format!("{} {c}", lang.pick("epoch", "第几轮"))
            };
            root.draw(&Text::new(
                label,
                (left + c as i32 * (cell + 12) + cell / 2, top - 26),
                text(15.0, &GREY, HPos::Center, VPos::Top),
            ))?;
        }
        let side = self.side;
        for (k, img) in self.cells.iter().enumerate() {
            let (r, c) = (k / cols, k % cols);
            let x0 = left + c as i32 * (cell + 12);
            let y0 = top + r as i32 * (cell + 12);
            let px = |i: usize| x0 + (i as i32 * cell) / side as i32;
            let py = |i: usize| y0 + (i as i32 * cell) / side as i32;
            for (row, c0, c1, colour) in runs(side, side, |rr, cc| {
                let v = quantize(img[rr * side + cc].clamp(0.0, 1.0) as f64, 32.0);
                mix(WHITE, INK, v)
            }) {
                root.draw(&Rectangle::new([(px(c0), py(row)), (px(c1), py(row + 1))], colour.filled()))?;
            }
            root.draw(&Rectangle::new([(x0, y0), (x0 + cell, y0 + cell)], GREY.mix(0.6).stroke_width(1)))?;
        }
        Ok(())
    }
}
