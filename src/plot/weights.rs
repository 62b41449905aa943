//! `plot weights`: each first-layer neuron's weights as an image; `plot filters`: the first
//! convolution's kernels, the same way; `plot feature-maps`: what each convolutional layer makes of
//! one image, each channel's map as an image.

use super::canvas::{Drawn, Figure, GREY, INK, LABEL, colour_bar, diverging, invalid, quantize, runs, save, text};
use super::notation::Lang;
use crate::conv::Conv2d;
use crate::error::Result;
use crate::layer::Dense;
use crate::network::{Feature, Network, Workspace};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, VPos};
use std::path::{Path, PathBuf};

/// Each of the first `count` neurons of `layer` (a first layer on images of `shape` = rows ×
/// columns) as an image of its weights, on one diverging colour scale centred at 0 (`weights`).
pub fn weights(
    layer: &Dense<f32>,
    shape: (usize, usize),
    count: usize,
    dir: &Path,
    lang: Lang,
) -> Result<Vec<PathBuf>> {
    let (rows, cols) = shape;
    if rows * cols != layer.inputs || rows == 0 {
        return Err(invalid(
            "image shape",
            format!("{rows}×{cols} = {} pixels, but the first layer has {} inputs", rows * cols, layer.inputs),
        ));
    }
    if count == 0 {
        return Err(invalid("--count", "at least one neuron must be drawn"));
    }
    let count = count.min(layer.outputs);
    save(&WeightsFigure { layer, rows, cols, count, kind: Kind::Weights }, dir, "weights", lang)
}

/// The first convolution's kernels, each as a k×k image (its first input channel: the image's own
/// for a grey picture) — the edge and stroke detectors the article speaks of: `filters.{png,svg}`.
pub fn filters(conv: &Conv2d<f32>, count: usize, dir: &Path, lang: Lang) -> Result<Vec<PathBuf>> {
    if count == 0 {
        return Err(invalid("--count", "at least one kernel must be drawn"));
    }
    let (k, c) = (conv.kernel, conv.input.channels);
    // Each kernel's first input channel, as the rows of a dense layer of k·k inputs.
    let weights = (0..conv.out_channels).flat_map(|o| conv.weights[o * c * k * k..][..k * k].iter().copied()).collect();
    let layer = Dense {
        inputs: k * k,
        outputs: conv.out_channels,
        weights,
        bias: conv.bias.clone(),
        activation: conv.activation,
    };
    let count = count.min(conv.out_channels);
    save(&WeightsFigure { layer: &layer, rows: k, cols: k, count, kind: Kind::Kernels }, dir, "filters", lang)
}

/// What each cell of the grid shows.
enum Kind {
    /// A dense first layer's neurons.
    Weights,
    /// A convolution's kernels.
    Kernels,
    /// Layer `layer` (from 1)'s feature maps for one image, described by `what`.
    Maps { layer: usize, what: String },
}

/// Every layer of `net`'s convolutional part on one input `x` (already normalised), the first
/// `count` channels of each as images: `feature-maps-{k}.{png,svg}` for layer `k` (from 1).
pub fn feature_maps(net: &Network<f32>, x: &[f32], count: usize, dir: &Path, lang: Lang) -> Result<Vec<PathBuf>> {
    if count == 0 {
        return Err(invalid("--count", "at least one map must be drawn"));
    }
    if net.features.is_empty() || x.len() != net.inputs() {
        return Err(invalid(
            "input",
            format!(
                "{} values for a network with {} inputs and {} convolutional layers",
                x.len(),
                net.inputs(),
                net.features.len()
            ),
        ));
    }
    let mut ws = Workspace::new(net, 1, 1);
    net.forward(x, 1, &mut ws);
    let mut written = Vec::new();
    for (k, f) in net.features.iter().enumerate() {
        let out = f.output();
        let what = match f {
            Feature::Conv(c) => format!("conv {}×{}, {}", c.kernel, c.kernel, c.activation),
            Feature::Pool(_) => "2×2 max pooling".to_string(),
        };
        let layer = Dense {
            inputs: out.area(),
            outputs: out.channels,
            weights: ws.feature_a(k)[..out.len()].to_vec(),
            bias: vec![0.0; out.channels],
            activation: crate::Activation::Identity,
        };
        let fig = WeightsFigure {
            layer: &layer,
            rows: out.height,
            cols: out.width,
            count: count.min(out.channels),
            kind: Kind::Maps { layer: k + 1, what },
        };
        written.extend(save(&fig, dir, &format!("feature-maps-{}", k + 1), lang)?);
    }
    Ok(written)
}

struct WeightsFigure<'a> {
    layer: &'a Dense<f32>,
    rows: usize,
    cols: usize,
    count: usize,
    kind: Kind,
}

impl WeightsFigure<'_> {
    fn grid(&self) -> (usize, usize, i32) {
        let gc = (self.count as f64).sqrt().ceil() as usize;
        let gr = self.count.div_ceil(gc);
        let cell = (900 / gc.max(1)).clamp(70, 200) as i32;
        (gr, gc, cell)
    }
}

impl Figure for WeightsFigure<'_> {
    fn size(&self) -> (u32, u32) {
        let (gr, gc, cell) = self.grid();
        let w = (gc as i32 * (cell + 10) + 260).max(1100);
        (w as u32, (gr as i32 * (cell + 26) + 190) as u32)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>, lang: Lang) -> Drawn
    where
        DB::ErrorType: 'static,
    {
        root.fill(&WHITE)?;
        let (w, h) = root.dim_in_pixel();
        let (gr, gc, cell) = self.grid();
        let n = self.rows * self.cols;
        let shown = &self.layer.weights[..self.count * n];
        let m = shown.iter().fold(1e-12f64, |m, &v| m.max((v as f64).abs()));
        let title = match &self.kind {
            Kind::Maps { layer, what } => format!(
                "{} {layer} ({what}) {} {} {} {} {} ({}×{})",
                lang.pick("What layer", "第"),
                lang.pick("makes of the image: the first", "层对这幅图像的输出：前"),
                self.count,
                lang.pick("of its", "张特征图（共"),
                self.layer.outputs,
                lang.pick("maps", "张）"),
                self.rows,
                self.cols
            ),
            Kind::Kernels => format!(
                "{} {} {} {} {} ({}×{})",
                lang.pick("What the first convolution learns: the first", "第一个卷积层学到了什么：前"),
                self.count,
                lang.pick("of its", "个卷积核（共"),
                self.layer.outputs,
                lang.pick("kernels, edge and stroke detectors", "个），边缘与笔画检测器"),
                self.rows,
                self.cols
            ),
            Kind::Weights => format!(
                "{} {} {} {} {} ({}×{})",
                lang.pick("What the first layer learns: the weights of", "第一层学到了什么：前"),
                self.count,
                lang.pick("of its", "个神经元（共"),
                self.layer.outputs,
                lang.pick("neurons, each as an image", "个）的权重，各画成一幅图"),
                self.rows,
                self.cols
            ),
        };
        root.draw(&Text::new(title, (w as i32 / 2, 18), text(24.0, &INK, HPos::Center, VPos::Top)))?;
        let sub_title = match self.kind {
            Kind::Maps { .. } => lang.pick(
                "each channel's activations a over the image: red positive, blue negative, white 0; one colour scale for all",
                "每个通道在图像各处的激活值 a：红为正，蓝为负，白为 0；所有图共用一个色标",
            ),
            _ => lang.pick(
                "red: positive weight (ink there raises the neuron's z), blue: negative, white: 0; one colour scale for all",
                "红：正权重（该处有笔画会增大神经元的 z），蓝：负权重，白：0；所有图共用一个色标",
            ),
        };
        root.draw(&Text::new(sub_title, (w as i32 / 2, 54), text(18.0, &GREY, HPos::Center, VPos::Top)))?;
        let grid_w = gc as i32 * (cell + 10);
        let left = ((w as i32 - 150) - grid_w).max(0) / 2;
        let top = 110;
        for k in 0..self.count {
            let (r, c) = (k / gc, k % gc);
            let x0 = left + c as i32 * (cell + 10);
            let y0 = top + r as i32 * (cell + 26);
            root.draw(&Text::new(
                format!("{}", k + 1),
                (x0 + cell / 2, y0 + 2),
                text(14.0, &GREY, HPos::Center, VPos::Top),
            ))?;
            let y0 = y0 + 20;
            let wk = &self.layer.weights[k * n..(k + 1) * n];
            let px = |i: usize| x0 + (i as i32 * cell) / self.cols as i32;
            let py = |i: usize| y0 + (i as i32 * cell) / self.rows as i32;
            for (r, c0, c1, colour) in
                runs(self.cols, self.rows, |r, c| diverging(quantize(wk[r * self.cols + c] as f64 / m, 24.0)))
            {
                root.draw(&Rectangle::new([(px(c0), py(r)), (px(c1), py(r + 1))], colour.filled()))?;
            }
            root.draw(&Rectangle::new([(x0, y0), (x0 + cell, y0 + cell)], GREY.mix(0.6).stroke_width(1)))?;
        }
        let _ = gr;
        let bx = left + grid_w + 50;
        let by0 = top + 40;
        let by1 = (h as i32 - 60).min(by0 + 420).max(by0 + 100);
        colour_bar(
            root,
            (bx, by0, bx + 26, by1),
            |t| diverging(2.0 * t - 1.0),
            &[(0.0, LABEL.num(-m)), (0.5, "0".into()), (1.0, LABEL.num(m))],
            if matches!(self.kind, Kind::Maps { .. }) { lang.pick("a", "a") } else { lang.pick("weight", "权重") },
        )?;
        Ok(())
    }
}
