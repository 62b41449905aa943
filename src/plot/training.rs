//! `plot training`: loss, accuracy and per-layer gradient norms over a training run's epochs.

use super::canvas::{Drawn, Figure, GREY, INK, LINES, font, invalid, save, text};
use super::notation::Lang;
use crate::error::Result;
use crate::train::report::EpochReport;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, VPos};
use std::path::{Path, PathBuf};

/// Loss and accuracy curves (training and validation) and the per-layer gradient norms of a
/// training run's metrics (`training`).
pub fn training(reports: &[EpochReport], dir: &Path, lang: Lang) -> Result<Vec<PathBuf>> {
    if reports.is_empty() {
        return Err(invalid("metrics", "no epochs to plot"));
    }
    save(&TrainingFigure { reports }, dir, "training", lang)
}

struct TrainingFigure<'a> {
    reports: &'a [EpochReport],
}

/// `(epoch, value)` for the epochs that have a finite value.
fn series(reports: &[EpochReport], f: impl Fn(&EpochReport) -> Option<f64>) -> Vec<(i32, f64)> {
    reports.iter().filter_map(|r| f(r).filter(|v| v.is_finite()).map(|v| (r.epoch as i32, v))).collect()
}

/// A named curve over epochs, in a colour.
type Curve = (String, Vec<(i32, f64)>, RGBColor);

/// One panel of the training figure: `lines` (name, points, colour) against the epoch.
#[allow(clippy::too_many_arguments)]
fn training_panel<DB: DrawingBackend>(
    reports: &[EpochReport],
    area: &DrawingArea<DB, Shift>,
    epoch: &str,
    title: &str,
    y_desc: &str,
    lines: &[Curve],
    y_range: std::ops::Range<f64>,
    log: bool,
    legend_at: SeriesLabelPosition,
    empty_note: &str,
) -> Drawn
where
    DB::ErrorType: 'static,
{
    let first = reports.first().map_or(1, |r| r.epoch) as i32;
    let last = reports.last().map_or(1, |r| r.epoch) as i32;
    let x_range = first..last.max(first + 1);
    let mut builder = ChartBuilder::on(area);
    builder.caption(title, font(21.0).color(&INK)).margin(16).x_label_area_size(50).y_label_area_size(75);
    let markers = reports.len() <= 40;
    macro_rules! body {
        ($chart:ident) => {{
            $chart
                .configure_mesh()
                .x_desc(epoch)
                .y_desc(y_desc)
                .x_labels((last - first + 1).clamp(2, 10) as usize)
                .label_style(font(16.0).color(&INK))
                .axis_desc_style(font(18.0).color(&INK))
                .draw()?;
            let mut any = false;
            for (name, pts, colour) in lines {
                if pts.is_empty() {
                    continue;
                }
                any = true;
                let colour = *colour;
                $chart
                    .draw_series(LineSeries::new(pts.iter().copied(), colour.stroke_width(3)))?
                    .label(name.clone())
                    .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], colour.stroke_width(3)));
                if markers {
                    $chart.draw_series(pts.iter().map(|&p| Circle::new(p, 4, colour.filled())))?;
                }
            }
            if any {
                $chart
                    .configure_series_labels()
                    .position(legend_at.clone())
                    .margin(12)
                    .background_style(WHITE.mix(0.85))
                    .border_style(GREY)
                    .label_font(font(16.0).color(&INK))
                    .draw()?;
            } else {
                let (w, h) = area.dim_in_pixel();
                area.draw(&Text::new(
                    empty_note.to_string(),
                    (w as i32 / 2, h as i32 / 2),
                    text(17.0, &GREY, HPos::Center, VPos::Center),
                ))?;
            }
        }};
    }
    if log {
        let mut chart = builder.build_cartesian_2d(x_range, y_range.log_scale())?;
        body!(chart);
    } else {
        let mut chart = builder.build_cartesian_2d(x_range, y_range)?;
        body!(chart);
    }
    Ok(())
}

impl Figure for TrainingFigure<'_> {
    fn size(&self) -> (u32, u32) {
        (1800, 640)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>, lang: Lang) -> Drawn
    where
        DB::ErrorType: 'static,
    {
        root.fill(&WHITE)?;
        let r = self.reports;
        let title = format!(
            "{} {} {}",
            lang.pick("Training run:", "训练过程："),
            r.len(),
            lang.pick("epochs (validation = data held out from training)", "轮（验证集 = 训练时留出的数据）")
        );
        let root = root.titled(&title, font(25.0).color(&INK))?;
        let (body, foot) = root.split_vertically(root.dim_in_pixel().1 - 50);
        let panels = body.split_evenly((1, 3));
        let epoch = lang.pick("epoch", "轮次");
        let train_name = lang.pick("training", "训练集").to_string();
        let val_name = lang.pick("validation", "验证集").to_string();

        let tl = series(r, |e| Some(e.train_loss));
        let vl = series(r, |e| e.val_loss);
        let hi = tl.iter().chain(&vl).map(|p| p.1).fold(0.0f64, f64::max);
        training_panel(
            r,
            &panels[0],
            epoch,
            lang.pick("Loss (lower is better)", "损失（越低越好）"),
            lang.pick("mean loss", "平均损失"),
            &[(train_name.clone(), tl, LINES[0]), (val_name.clone(), vl, LINES[4])],
            0.0..(hi * 1.08).max(1e-9),
            false,
            SeriesLabelPosition::UpperRight,
            "",
        )?;

        let ta = series(r, |e| e.train_accuracy.map(|a| 100.0 * a));
        let va = series(r, |e| e.val_accuracy.map(|a| 100.0 * a));
        let lo = ta.iter().chain(&va).map(|p| p.1).fold(100.0f64, f64::min);
        let lo = ((lo - 2.0) / 5.0).floor().max(0.0) * 5.0;
        training_panel(
            r,
            &panels[1],
            epoch,
            lang.pick("Accuracy (higher is better)", "准确率（越高越好）"),
            lang.pick("accuracy (%)", "准确率（%）"),
            &[(train_name, ta, LINES[0]), (val_name, va, LINES[4])],
            lo..101.0,
            false,
            SeriesLabelPosition::LowerRight,
            lang.pick("no accuracy: not a classification run", "无准确率：不是分类任务"),
        )?;

        let layers = r.iter().map(|e| e.grad_norms.len()).max().unwrap_or(0);
        let mut lines = Vec::new();
        for l in 0..layers {
            let pts = series(r, |e| e.grad_norms.get(l).copied().filter(|&g| g > 0.0));
            let which = if l == 0 {
                lang.pick(" (nearest the input)", "（最靠近输入）")
            } else if l + 1 == layers {
                lang.pick(" (output)", "（输出层）")
            } else {
                ""
            };
            let name = match lang {
                Lang::En => format!("layer {}{which}", l + 1),
                Lang::Zh => format!("第 {} 层{which}", l + 1),
            };
            lines.push((name, pts, LINES[l % LINES.len()]));
        }
        let all: Vec<f64> = lines.iter().flat_map(|(_, p, _)| p.iter().map(|q| q.1)).collect();
        let glo = all.iter().copied().fold(f64::INFINITY, f64::min);
        let ghi = all.iter().copied().fold(0.0f64, f64::max);
        // Head-room above the curves for the legend.
        let range = if all.is_empty() { 1e-3..1.0 } else { glo / 2.0..ghi * 8.0 };
        training_panel(
            r,
            &panels[2],
            epoch,
            lang.pick("Gradient norm ‖∂L/∂θ‖ per layer (log scale)", "每层梯度范数 ‖∂L/∂θ‖（对数坐标）"),
            lang.pick("gradient norm", "梯度范数"),
            &lines,
            range,
            true,
            SeriesLabelPosition::UpperRight,
            lang.pick("no gradient norms in the metrics", "指标中没有梯度范数"),
        )?;
        let note = lang.pick(
            "Right: when the layers nearest the input get much smaller gradients than the output layer, they learn slowly — the vanishing gradient that makes deep networks hard to train.",
            "右图：若靠近输入的层梯度远小于输出层，它们就学得很慢——这就是梯度消失，深层网络难以训练的原因。",
        );
        let (fw, _) = foot.dim_in_pixel();
        foot.draw(&Text::new(note, (fw as i32 / 2, 10), text(18.0, &GREY, HPos::Center, VPos::Top)))?;
        Ok(())
    }
}
