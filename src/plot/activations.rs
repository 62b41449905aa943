//! `plot activations`: the article's step against ever steeper sigmoids, and every activation
//! with its derivative.

use super::canvas::{Drawn, Figure, GREY, INK, LABEL, LINES, POS, font, save, text, wrap};
use super::notation::Lang;
use crate::activation::{Activation, softmax_row};
use crate::error::Result;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, VPos};
use std::path::{Path, PathBuf};

/// The article's figure: the step at 5 beside `1/(1+e^{−k(z−5)})` for k = 1, 2, 5, 10, 100
/// (`step-vs-sigmoid`), and every activation with its derivative (`activations`).
pub fn activations(dir: &Path, lang: Lang) -> Result<Vec<PathBuf>> {
    let mut files = save(&StepVsSigmoid, dir, "step-vs-sigmoid", lang)?;
    files.extend(save(&AllActivations, dir, "activations", lang)?);
    Ok(files)
}

struct StepVsSigmoid;

impl Figure for StepVsSigmoid {
    fn size(&self) -> (u32, u32) {
        (1100, 720)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>, lang: Lang) -> Drawn
    where
        DB::ErrorType: 'static,
    {
        root.fill(&WHITE)?;
        let root = root.titled(
            lang.pick(
                "From the step to the sigmoid: 1/(1+e^(−k(z−5))) becomes the step at 5 as k grows",
                "从阶跃函数到 sigmoid：k 越大，1/(1+e^(−k(z−5))) 越接近在 5 处的阶跃",
            ),
            font(24.0).color(&INK),
        )?;
        let mut chart = ChartBuilder::on(&root)
            .margin(20)
            .x_label_area_size(60)
            .y_label_area_size(80)
            .build_cartesian_2d(0f64..10f64, -0.05f64..1.05f64)?;
        chart
            .configure_mesh()
            .x_desc(lang.pick("z, the neuron's weighted input wᵀx + b", "z，神经元的加权输入 wᵀx + b"))
            .y_desc(lang.pick("output a = f(z)", "输出 a = f(z)"))
            .x_label_formatter(&|v| LABEL.num(*v))
            .y_label_formatter(&|v| LABEL.num(*v))
            .label_style(font(18.0).color(&INK))
            .axis_desc_style(font(20.0).color(&INK))
            .draw()?;
        let step = Activation::Step { threshold: 5.0 };
        let grey = RGBColor(150, 150, 150);
        chart
            .draw_series(LineSeries::new([(0.0, 0.0), (5.0, 0.0)], grey.stroke_width(8)))?
            .label(lang.pick("step at 5: 1 if z > 5, else 0", "阶跃：z > 5 时为 1，否则为 0"))
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], grey.stroke_width(8)));
        chart.draw_series(LineSeries::new([(5.0, 1.0), (10.0, 1.0)], grey.stroke_width(8)))?;
        chart.draw_series(DashedLineSeries::new([(5.0, 0.0), (5.0, 1.0)], 6, 6, grey.stroke_width(2)))?;
        debug_assert_eq!(step.value(4.0), 0.0);
        for (i, k) in [1.0, 2.0, 5.0, 10.0, 100.0].into_iter().enumerate() {
            let f = Activation::Sigmoid { k, c: 5.0 };
            let colour = [LINES[0], LINES[1], LINES[2], LINES[3], POS][i];
            let pts = (0..=400).map(|j| {
                let z = j as f64 / 40.0;
                (z, f.value(z))
            });
            chart
                .draw_series(LineSeries::new(pts, colour.stroke_width(3)))?
                .label(format!("k = {}", LABEL.num(k)))
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], colour.stroke_width(3)));
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .margin(20)
            .background_style(WHITE.mix(0.9))
            .border_style(GREY)
            .label_font(font(18.0).color(&INK))
            .draw()?;
        Ok(())
    }
}

struct AllActivations;

/// The activations drawn, with titles; softmax is drawn as the first entry of softmax(z, 0).
fn activation_panels(lang: Lang) -> Vec<(String, Option<Activation>)> {
    vec![
        (lang.pick("identity: f(z) = z", "恒等：f(z) = z").into(), Some(Activation::Identity)),
        (
            lang.pick("step: 1 if z > 0, else 0", "阶跃：z > 0 时为 1，否则为 0").into(),
            Some(Activation::Step { threshold: 0.0 }),
        ),
        ("sigmoid: σ(z) = 1/(1+e^(−z))".into(), Some(Activation::SIGMOID)),
        ("tanh(z)".into(), Some(Activation::Tanh)),
        ("ReLU: max(0, z)".into(), Some(Activation::Relu)),
        (
            lang.pick("leaky ReLU: z if z > 0, else 0.1·z", "leaky ReLU：z > 0 时为 z，否则为 0.1·z").into(),
            Some(Activation::LeakyRelu { alpha: 0.1 }),
        ),
        (lang.pick("softmax of (z, 0), first entry", "softmax(z, 0) 的第一个分量").into(), None),
    ]
}

/// `(f(z), f′(z))`; `None` is softmax of (z, 0), whose first entry has `∂a₁/∂z₁ = a₁(1 − a₁)`.
fn value_and_derivative(f: Option<Activation>, z: f64) -> (f64, f64) {
    match f {
        Some(f) => {
            let a = f.value(z);
            (a, f.derivative(z, a))
        }
        None => {
            let mut a = [0.0; 2];
            softmax_row(&[z, 0.0], &mut a);
            (a[0], a[0] * (1.0 - a[0]))
        }
    }
}

/// Consecutive points, split where the curve jumps (the step), so no false vertical is drawn.
fn pieces(pts: &[(f64, f64)]) -> Vec<Vec<(f64, f64)>> {
    let mut out: Vec<Vec<(f64, f64)>> = vec![Vec::new()];
    for (i, &p) in pts.iter().enumerate() {
        if i > 0 && (p.1 - pts[i - 1].1).abs() > 0.5 {
            out.push(Vec::new());
        }
        if let Some(last) = out.last_mut() {
            last.push(p);
        }
    }
    out
}

impl Figure for AllActivations {
    fn size(&self) -> (u32, u32) {
        (1500, 820)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>, lang: Lang) -> Drawn
    where
        DB::ErrorType: 'static,
    {
        root.fill(&WHITE)?;
        let root = root.titled(
            lang.pick(
                "Every activation f(z) (solid) and its derivative f′(z) (dashed), the factor backpropagation multiplies by",
                "各激活函数 f(z)（实线）及其导数 f′(z)（虚线）：反向传播中乘上的因子",
            ),
            font(24.0).color(&INK),
        )?;
        let cells = root.split_evenly((2, 4));
        let fcol = LINES[0];
        let dcol = LINES[4];
        for (cell, (title, f)) in cells.iter().zip(activation_panels(lang)) {
            let zs: Vec<f64> = (0..=320).map(|i| -4.0 + i as f64 / 40.0).collect();
            let fv: Vec<(f64, f64)> = zs.iter().map(|&z| (z, value_and_derivative(f, z).0)).collect();
            let dv: Vec<(f64, f64)> = zs.iter().map(|&z| (z, value_and_derivative(f, z).1)).collect();
            let lo = fv.iter().chain(&dv).map(|p| p.1).fold(0.0f64, f64::min);
            let hi = fv.iter().chain(&dv).map(|p| p.1).fold(1.0f64, f64::max);
            let pad = 0.08 * (hi - lo);
            let mut chart = ChartBuilder::on(cell)
                .caption(title, font(19.0).color(&INK))
                .margin(12)
                .x_label_area_size(40)
                .y_label_area_size(45)
                .build_cartesian_2d(-4f64..4f64, (lo - pad)..(hi + pad))?;
            chart
                .configure_mesh()
                .x_desc("z")
                .label_style(font(15.0).color(&INK))
                .axis_desc_style(font(16.0).color(&INK))
                .x_labels(5)
                .y_labels(5)
                .x_label_formatter(&|v| LABEL.num(*v))
                .y_label_formatter(&|v| LABEL.num(*v))
                .draw()?;
            chart.draw_series(LineSeries::new([(-4.0, 0.0), (4.0, 0.0)], GREY.mix(0.5).stroke_width(1)))?;
            for piece in pieces(&fv) {
                chart.draw_series(LineSeries::new(piece, fcol.stroke_width(3)))?;
            }
            for piece in pieces(&dv) {
                chart.draw_series(DashedLineSeries::new(piece, 8, 5, dcol.stroke_width(3)))?;
            }
        }
        // The eighth cell: the legend and what to notice.
        let legend = &cells[7];
        let (w, _) = legend.dim_in_pixel();
        legend.draw(&PathElement::new(vec![(30, 60), (80, 60)], fcol.stroke_width(3)))?;
        legend.draw(&Text::new(
            lang.pick("f(z), the activation", "f(z)，激活函数"),
            (95, 60),
            text(18.0, &INK, HPos::Left, VPos::Center),
        ))?;
        for x in [30, 46, 62] {
            legend.draw(&PathElement::new(vec![(x, 95), (x + 10, 95)], dcol.stroke_width(3)))?;
        }
        legend.draw(&Text::new(
            lang.pick("f′(z), its derivative", "f′(z)，导数"),
            (95, 95),
            text(18.0, &INK, HPos::Left, VPos::Center),
        ))?;
        let notes = [
            lang.pick(
                "The step's derivative is 0 wherever it exists: no gradient flows through it, which is why the article replaces it by the sigmoid.",
                "阶跃函数的导数在有定义处都为 0：梯度无法通过它，所以文章用 sigmoid 代替它。",
            ),
            lang.pick(
                "softmax(z, 0)₁ = eᶻ/(eᶻ + 1) is the sigmoid: two-class softmax and sigmoid agree.",
                "softmax(z, 0)₁ = eᶻ/(eᶻ + 1) 正是 sigmoid：两类的 softmax 与 sigmoid 相同。",
            ),
        ];
        let mut y = 140;
        for note in notes {
            for line in wrap(legend, note, 16.0, w.saturating_sub(50)) {
                legend.draw(&Text::new(line, (30, y), text(16.0, &GREY, HPos::Left, VPos::Top)))?;
                y += 22;
            }
            y += 12;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn softmax_of_z_and_zero_is_the_sigmoid() {
        for z in [-3.0, -0.5, 0.0, 2.0] {
            let (a, d) = value_and_derivative(None, z);
            let s = Activation::SIGMOID.value(z);
            assert!((a - s).abs() < 1e-12 && (d - s * (1.0 - s)).abs() < 1e-12);
        }
    }
}
