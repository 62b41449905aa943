//! `plot boundary`: the plane shaded by a two-input network's output, and its decision boundary.

use super::canvas::{
    Drawn, Figure, GREY, INK, LABEL, NEG, POS, colour_bar, diverging, font, invalid, quantize, runs, save, text,
};
use super::notation::Lang;
use crate::error::Result;
use crate::network::Network;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, VPos};
use std::path::{Path, PathBuf};

/// The plane shaded by a two-input network's output (its one output, or the second of two: the
/// probability of class 1), the boundary where it crosses 0.5, and the `points` with their
/// targets (`boundary`) — for XOR, the four corners of the unit square.
pub fn boundary(net: &Network<f64>, points: &[([f64; 2], f64)], dir: &Path, lang: Lang) -> Result<Vec<PathBuf>> {
    if net.inputs() != 2 || !(1..=2).contains(&net.outputs()) {
        return Err(invalid(
            "network for the boundary",
            format!(
                "needs 2 inputs and 1 or 2 outputs, got {}",
                net.sizes().iter().map(|s| s.to_string()).collect::<Vec<_>>().join("-")
            ),
        ));
    }
    const N: usize = 150;
    let (lo, hi) = (-0.5, 1.5);
    let coord = |i: usize| lo + (hi - lo) * (i as f64 + 0.5) / N as f64;
    let mut xs = Vec::with_capacity(2 * N * N);
    for r in 0..N {
        for c in 0..N {
            xs.push(coord(c));
            xs.push(coord(N - 1 - r));
        }
    }
    let pick = |out: Vec<f64>| -> Vec<f64> {
        let w = net.outputs();
        out.chunks(w).map(|o| o[w - 1]).collect()
    };
    let grid = pick(net.predict(&xs, N * N)?);
    let px: Vec<f64> = points.iter().flat_map(|(p, _)| p.iter().copied()).collect();
    let outputs = if points.is_empty() { Vec::new() } else { pick(net.predict(&px, points.len())?) };
    save(&BoundaryFigure { net, grid, n: N, range: (lo, hi), points, outputs }, dir, "boundary", lang)
}

struct BoundaryFigure<'a> {
    net: &'a Network<f64>,
    /// Row-major, top row first (largest x₂).
    grid: Vec<f64>,
    n: usize,
    range: (f64, f64),
    points: &'a [([f64; 2], f64)],
    outputs: Vec<f64>,
}

impl Figure for BoundaryFigure<'_> {
    fn size(&self) -> (u32, u32) {
        (1050, 900)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>, lang: Lang) -> Drawn
    where
        DB::ErrorType: 'static,
    {
        root.fill(&WHITE)?;
        let sizes = self.net.sizes().iter().map(|s| s.to_string()).collect::<Vec<_>>().join("-");
        let acts: Vec<String> = self.net.layers.iter().map(|l| l.activation.to_string()).collect();
        let right = self.points.iter().zip(&self.outputs).filter(|((_, t), o)| (**o > 0.5) == (*t > 0.5)).count();
        let title = format!(
            "{} {sizes} {} ({})",
            lang.pick("XOR learned by a", "由"),
            lang.pick("network", "网络学到的 XOR"),
            acts.join(", ")
        );
        let root = root.titled(&title, font(25.0).color(&INK))?;
        let (w, _) = root.dim_in_pixel();
        let sub_title = format!(
            "{} {right}/{} {}",
            lang.pick(
                "colour = the network's output a (probability of class 1); black line: a = 0.5, the decision boundary;",
                "颜色 = 网络输出 a（属于类别 1 的概率）；黑线：a = 0.5，即决策边界；",
            ),
            self.points.len(),
            lang.pick("points right", "个点分类正确"),
        );
        root.draw(&Text::new(sub_title, (w as i32 / 2, 0), text(16.0, &GREY, HPos::Center, VPos::Top)))?;
        let (plot, bar) = root.split_horizontally(w - 170);
        let plot = plot.margin(30, 10, 10, 10);
        let (lo, hi) = self.range;
        let mut chart = ChartBuilder::on(&plot)
            .margin(10)
            .x_label_area_size(60)
            .y_label_area_size(70)
            .build_cartesian_2d(lo..hi, lo..hi)?;
        chart
            .configure_mesh()
            .disable_mesh()
            .x_desc(lang.pick("input x₁", "输入 x₁"))
            .y_desc(lang.pick("input x₂", "输入 x₂"))
            .x_label_formatter(&|v| LABEL.num(*v))
            .y_label_formatter(&|v| LABEL.num(*v))
            .label_style(font(17.0).color(&INK))
            .axis_desc_style(font(19.0).color(&INK))
            .draw()?;
        let n = self.n;
        let g = |r: usize, c: usize| self.grid[r * n + c];
        let edge = |r: usize, c: usize| {
            let side = g(r, c) > 0.5;
            (c + 1 < n && (g(r, c + 1) > 0.5) != side) || (r + 1 < n && (g(r + 1, c) > 0.5) != side)
        };
        let step = (hi - lo) / n as f64;
        let cell_runs =
            runs(n, n, |r, c| if edge(r, c) { INK } else { diverging(quantize(2.0 * g(r, c) - 1.0, 24.0)) });
        chart.draw_series(cell_runs.into_iter().map(|(r, c0, c1, colour)| {
            let y1 = hi - r as f64 * step;
            Rectangle::new([(lo + c0 as f64 * step, y1), (lo + c1 as f64 * step, y1 - step)], colour.filled())
        }))?;
        for (([x1, x2], t), o) in self.points.iter().zip(&self.outputs) {
            let colour = if *t > 0.5 { POS } else { NEG };
            chart.draw_series([
                Circle::new((*x1, *x2), 16, WHITE.filled()),
                Circle::new((*x1, *x2), 11, colour.filled()),
                Circle::new((*x1, *x2), 16, INK.stroke_width(2)),
            ])?;
            let label =
                format!("({}, {}): y = {}, a = {}", LABEL.num(*x1), LABEL.num(*x2), LABEL.num(*t), LABEL.num(*o));
            // On a white box, below the lower points and above the upper ones.
            let (tw, th) = plot.estimate_text_size(&label, &TextStyle::from(font(17.0)))?;
            let (tw, th) = (tw as i32 / 2 + 5, th as i32 + 6);
            let dy = if *x2 > 0.5 { -24 - th } else { 24 };
            chart.plotting_area().draw(
                &(EmptyElement::at((*x1, *x2))
                    + Rectangle::new([(-tw, dy), (tw, dy + th)], WHITE.mix(0.85).filled())
                    + Text::new(label, (0, dy + 3), text(17.0, &INK, HPos::Center, VPos::Top))),
            )?;
        }
        let (_, bh) = bar.dim_in_pixel();
        colour_bar(
            &bar,
            (20, 110, 46, bh as i32 - 120),
            |t| diverging(2.0 * t - 1.0),
            &[
                (0.0, lang.pick("0 (class 0)", "0（类别 0）").into()),
                (0.5, "0.5".into()),
                (1.0, lang.pick("1 (class 1)", "1（类别 1）").into()),
            ],
            lang.pick("output a", "输出 a"),
        )?;
        Ok(())
    }
}
