//! `plot confusion`: a confusion matrix as a heatmap.

use super::canvas::{Drawn, Figure, GREY, INK, LABEL, colour_bar, font, invalid, save, sequential, text};
use super::notation::Lang;
use crate::error::Result;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use std::path::{Path, PathBuf};

/// A confusion matrix (rows = true class, columns = predicted) as a heatmap with the counts
/// written in (`confusion`). Colours are each row's fractions, so rare classes read as clearly.
pub fn confusion(matrix: &[Vec<usize>], classes: Option<&[String]>, dir: &Path, lang: Lang) -> Result<Vec<PathBuf>> {
    let k = matrix.len();
    if k == 0 || matrix.iter().any(|r| r.len() != k) {
        return Err(invalid("confusion matrix", "must be square with at least one class"));
    }
    let names: Vec<String> = match classes {
        Some(c) if c.len() == k => c.to_vec(),
        _ => (0..k).map(|c| c.to_string()).collect(),
    };
    save(&ConfusionFigure { matrix, names }, dir, "confusion", lang)
}

struct ConfusionFigure<'a> {
    matrix: &'a [Vec<usize>],
    names: Vec<String>,
}

impl Figure for ConfusionFigure<'_> {
    fn size(&self) -> (u32, u32) {
        let k = self.matrix.len() as u32;
        let cell = (700 / k).clamp(24, 80);
        ((cell * k + 420).max(760), cell * k + 200)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>, lang: Lang) -> Drawn
    where
        DB::ErrorType: 'static,
    {
        root.fill(&WHITE)?;
        let (w, _) = root.dim_in_pixel();
        let k = self.matrix.len();
        let cell = (700 / k as i32).clamp(24, 80);
        let total: usize = self.matrix.iter().flatten().sum();
        let correct: usize = (0..k).map(|c| self.matrix[c][c]).sum();
        let title = format!(
            "{}: {} {}, {} {}%",
            lang.pick("Confusion matrix on the test set", "测试集上的混淆矩阵"),
            total,
            lang.pick("images", "张图像"),
            lang.pick("accuracy", "准确率"),
            LABEL.num(100.0 * correct as f64 / total.max(1) as f64)
        );
        root.draw(&Text::new(title, (w as i32 / 2, 16), text(24.0, &INK, HPos::Center, VPos::Top)))?;
        let sub_title = lang.pick(
            "count in each cell; colour = share of the row (that true class), square-root scale so that small errors show; the diagonal is correct",
            "格内为数量；颜色 = 占该行（该真实类别）的比例，平方根刻度以便看清少量错误；对角线为正确分类",
        );
        root.draw(&Text::new(sub_title, (w as i32 / 2, 52), text(17.0, &GREY, HPos::Center, VPos::Top)))?;
        let left = 150;
        let top = 150;
        let size = (cell as f64 * 0.36).clamp(10.0, 20.0);
        for (t, row) in self.matrix.iter().enumerate() {
            let row_total: usize = row.iter().sum();
            for (p, &count) in row.iter().enumerate() {
                let share = count as f64 / row_total.max(1) as f64;
                let (x0, y0) = (left + p as i32 * cell, top + t as i32 * cell);
                root.draw(&Rectangle::new([(x0, y0), (x0 + cell, y0 + cell)], sequential(share.sqrt()).filled()))?;
                root.draw(&Rectangle::new([(x0, y0), (x0 + cell, y0 + cell)], GREY.mix(0.3).stroke_width(1)))?;
                let colour = if share.sqrt() > 0.6 { WHITE } else { INK };
                root.draw(&Text::new(
                    count.to_string(),
                    (x0 + cell / 2, y0 + cell / 2),
                    text(size, &colour, HPos::Center, VPos::Center),
                ))?;
            }
        }
        let label = (cell as f64 * 0.4).clamp(11.0, 18.0);
        for (c, name) in self.names.iter().enumerate() {
            let mid = c as i32 * cell + cell / 2;
            root.draw(&Text::new(name.clone(), (left + mid, top - 8), text(label, &INK, HPos::Center, VPos::Bottom)))?;
            root.draw(&Text::new(name.clone(), (left - 10, top + mid), text(label, &INK, HPos::Right, VPos::Center)))?;
        }
        let side = k as i32 * cell;
        root.draw(&Text::new(
            lang.pick("predicted class →", "预测类别 →"),
            (left + side / 2, top - 36),
            text(19.0, &INK, HPos::Center, VPos::Bottom),
        ))?;
        root.draw(&Text::new(
            lang.pick("true class ↓", "真实类别 ↓"),
            (left - 55, top + side / 2),
            TextStyle::from(font(19.0).transform(FontTransform::Rotate270))
                .color(&INK)
                .pos(Pos::new(HPos::Center, VPos::Center)),
        ))?;
        let bx = left + side + 60;
        colour_bar(
            root,
            (bx, top + 20, bx + 24, top + side),
            sequential,
            &[
                (0.0, "0%".into()),
                (0.05f64.sqrt(), "5%".into()),
                (0.5, "25%".into()),
                (0.5f64.sqrt(), "50%".into()),
                (1.0, "100%".into()),
            ],
            lang.pick("share of row", "占该行比例"),
        )?;
        Ok(())
    }
}
