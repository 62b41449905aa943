//! `plot network`: a small network drawn as the article draws its 2-2-1, with every value after
//! the forward pass.

use super::canvas::{Drawn, Figure, GREY, INK, LABEL, NEG, POS, font, invalid, save, text, wrap};
use super::notation::{Lang, component, subscript};
use crate::error::Result;
use crate::explain::Problem;
use crate::loss::Loss;
use crate::trace::Trace;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, VPos};
use std::path::{Path, PathBuf};

/// The widest layer `network` draws.
pub const MAX_DRAWN_WIDTH: usize = 16;

/// The network drawn as the article draws its 2-2-1: neurons as circles holding their value `a`
/// after the forward pass of the first sample (with `z` and the bias `b` beneath), links labelled
/// with their weights (`network`). `article` says whether this is the article's own example.
pub fn network(problem: &Problem, trace: &Trace, article: bool, dir: &Path, lang: Lang) -> Result<Vec<PathBuf>> {
    if !problem.network.features.is_empty() {
        return Err(invalid(
            "network to draw",
            "plot network draws neurons and links, and this network starts with convolution and pooling layers; \
             `explain --net` prints every number of it",
        ));
    }
    let sizes = problem.network.sizes();
    if let Some(&w) = sizes.iter().find(|&&w| w > MAX_DRAWN_WIDTH) {
        return Err(invalid(
            "network to draw",
            format!("a layer has {w} neurons; plot network draws at most {MAX_DRAWN_WIDTH} per layer"),
        ));
    }
    if trace.samples.is_empty() || trace.samples[0].a.len() != problem.network.layers.len() {
        return Err(invalid("network to draw", "the trace does not belong to this network"));
    }
    save(&NetworkFigure { problem, trace, article }, dir, "network", lang)
}

struct NetworkFigure<'a> {
    problem: &'a Problem,
    trace: &'a Trace,
    article: bool,
}

fn loss_name(l: Loss, lang: Lang) -> &'static str {
    match l {
        Loss::HalfMse => lang.pick("half squared error ½‖a − y‖²", "半平方误差 ½‖a − y‖²"),
        Loss::CrossEntropy => lang.pick("cross-entropy", "交叉熵"),
        Loss::BinaryCrossEntropy => lang.pick("binary cross-entropy", "二元交叉熵"),
    }
}

impl Figure for NetworkFigure<'_> {
    fn size(&self) -> (u32, u32) {
        let widest = self.problem.network.sizes().into_iter().max().unwrap_or(1) as u32;
        let cols = self.problem.network.layers.len() as u32 + 1;
        (300 + 330 * cols, 330 + 150 * widest.max(2))
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>, lang: Lang) -> Drawn
    where
        DB::ErrorType: 'static,
    {
        root.fill(&WHITE)?;
        let net = &self.problem.network;
        let s = &self.trace.samples[0];
        let sizes = net.sizes();
        let (w, h) = root.dim_in_pixel();
        let (w, h) = (w as i32, h as i32);
        let shape = sizes.iter().map(|s| s.to_string()).collect::<Vec<_>>().join("-");
        let title = if self.article {
            lang.pick("The article's 2-2-1 network after the forward pass", "文章中的 2-2-1 网络：前向传播之后")
                .to_string()
        } else {
            format!(
                "{} {shape} {}",
                lang.pick("A", "一个"),
                lang.pick("network after the forward pass", "网络：前向传播之后")
            )
        };
        root.draw(&Text::new(title, (w / 2, 20), text(26.0, &INK, HPos::Center, VPos::Top)))?;
        let many = if self.trace.samples.len() > 1 {
            format!(" ({} {})", lang.pick("first of", "共"), self.trace.samples.len())
        } else {
            String::new()
        };
        let sub_title = format!(
            "{}{many}: x = {}, {} y = {}, {} L = {} ({})",
            lang.pick("sample", "样本"),
            LABEL.vector_upto(&s.x, 6),
            lang.pick("target", "目标"),
            LABEL.vector_upto(&s.y, 6),
            lang.pick("loss", "损失"),
            LABEL.num(s.loss),
            loss_name(net.loss, lang)
        );
        root.draw(&Text::new(sub_title, (w / 2, 58), text(19.0, &GREY, HPos::Center, VPos::Top)))?;

        let top = 150;
        let bottom = h - 110;
        let cols = sizes.len();
        let x_of = |c: usize| 150 + (c as i32) * (w - 300) / (cols as i32 - 1).max(1);
        let pitch = ((bottom - top) / sizes.iter().copied().max().unwrap_or(1).max(1) as i32).min(190);
        let y_of = |c: usize, j: usize| {
            let n = sizes[c] as i32;
            (top + bottom) / 2 + (2 * j as i32 - (n - 1)) * pitch / 2
        };
        let r = (pitch as f64 * 0.28).clamp(22.0, 44.0) as i32;
        // Column headings.
        for c in 0..cols {
            let heading = if c == 0 {
                lang.pick("input x", "输入 x").to_string()
            } else {
                let act = net.layers[c - 1].activation;
                let kind = if c == cols - 1 {
                    lang.pick("output layer", "输出层")
                } else {
                    lang.pick("hidden layer", "隐藏层")
                };
                format!("{kind} {c}: f = {act}")
            };
            root.draw(&Text::new(heading, (x_of(c), top - 55), text(19.0, &INK, HPos::Center, VPos::Bottom)))?;
        }
        // Links, with the largest |w| drawn thickest; blue positive, red negative.
        let wmax = net.layers.iter().flat_map(|l| l.weights.iter()).fold(1e-12f64, |m, &v| m.max(v.abs()));
        let mut labels = Vec::new();
        for (l, layer) in net.layers.iter().enumerate() {
            let show = layer.inputs * layer.outputs <= 36;
            for j in 0..layer.outputs {
                for i in 0..layer.inputs {
                    let wv = layer.weights[j * layer.inputs + i];
                    let (x0, y0) = (x_of(l) + r, y_of(l, i));
                    let (x1, y1) = (x_of(l + 1) - r, y_of(l + 1, j));
                    let colour = if wv >= 0.0 { NEG } else { POS };
                    let width = 1 + (4.0 * wv.abs() / wmax).round() as u32;
                    root.draw(&PathElement::new(vec![(x0, y0), (x1, y1)], colour.mix(0.75).stroke_width(width)))?;
                    if show {
                        // Each target neuron's links labelled at their own distance along the
                        // link, so that labels of crossing links do not meet.
                        let t =
                            if layer.outputs > 1 { 0.2 + 0.55 * j as f64 / (layer.outputs - 1) as f64 } else { 0.35 };
                        let p = (x0 + ((x1 - x0) as f64 * t) as i32, y0 + ((y1 - y0) as f64 * t) as i32);
                        labels.push((LABEL.num(wv), p, colour));
                    }
                }
            }
        }
        for (label, (x, y), colour) in labels {
            let (tw, th) = root.estimate_text_size(&label, &TextStyle::from(font(17.0)))?;
            let (tw, th) = (tw as i32 / 2 + 4, th as i32 / 2 + 3);
            root.draw(&Rectangle::new([(x - tw, y - th), (x + tw, y + th)], WHITE.mix(0.9).filled()))?;
            root.draw(&Text::new(label, (x, y), text(17.0, &colour, HPos::Center, VPos::Center)))?;
        }
        // Neurons.
        for c in 0..cols {
            for j in 0..sizes[c] {
                let (x, y) = (x_of(c), y_of(c, j));
                let (fill, value, name) = if c == 0 {
                    (RGBColor(235, 235, 235), s.x[j], format!("x{}", subscript(j + 1)))
                } else {
                    let name = component("a", c, j, sizes[c]);
                    (RGBColor(222, 235, 247), s.a[c - 1][j], name)
                };
                root.draw(&Circle::new((x, y), r, fill.filled()))?;
                root.draw(&Circle::new((x, y), r, INK.stroke_width(2)))?;
                root.draw(&Text::new(LABEL.num(value), (x, y), text(19.0, &INK, HPos::Center, VPos::Center)))?;
                root.draw(&Text::new(name, (x, y - r - 6), text(17.0, &GREY, HPos::Center, VPos::Bottom)))?;
                if c > 0 {
                    let under =
                        format!("z = {}, b = {}", LABEL.num(s.z[c - 1][j]), LABEL.num(net.layers[c - 1].bias[j]));
                    root.draw(&Text::new(under, (x, y + r + 6), text(16.0, &GREY, HPos::Center, VPos::Top)))?;
                }
                if c == cols - 1 {
                    let target = format!("y = {}", LABEL.num(s.y[j]));
                    root.draw(&Text::new(target, (x + r + 14, y), text(18.0, &INK, HPos::Left, VPos::Center)))?;
                }
            }
        }
        let legend = lang.pick(
            "In each circle: a = f(z). Under it: z = Σᵢ wᵢaᵢ + b and the bias b. On the links: the weights (blue ≥ 0, red < 0; thicker = larger |w|).",
            "圆圈内：a = f(z)；圆圈下：z = Σᵢ wᵢaᵢ + b 与偏置 b；连线上：权重（蓝色 ≥ 0，红色 < 0；越粗 |w| 越大）。",
        );
        for (k, line) in wrap(root, legend, 17.0, (w - 80) as u32).into_iter().enumerate() {
            root.draw(&Text::new(line, (40, h - 70 + 24 * k as i32), text(17.0, &GREY, HPos::Left, VPos::Top)))?;
        }
        Ok(())
    }
}
