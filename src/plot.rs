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

use crate::activation::{Activation, softmax_row};
use crate::data::augment::Augment;
use crate::error::{Error, Result};
use crate::explain::Problem;
use crate::layer::Dense;
use crate::loss::Loss;
use crate::network::Network;
use crate::trace::Trace;
use crate::train::EpochReport;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// DejaVu Sans (Bitstream Vera license, `assets/fonts/LICENSE-DejaVu.txt`).
static FONT: &[u8] = include_bytes!("../assets/fonts/DejaVuSans.ttf");
/// The family every text of a figure uses; the SVG names it, so viewers substitute their own.
const FAMILY: &str = "sans-serif";

/// The language of a figure's titles, labels and legends.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Lang {
    /// English (PNG and SVG).
    #[default]
    En,
    /// Chinese in the SVG; English in the PNG, whose embedded font has no Chinese glyphs.
    Zh,
}

impl Lang {
    fn t<'a>(self, en: &'a str, zh: &'a str) -> &'a str {
        match self {
            Lang::En => en,
            Lang::Zh => zh,
        }
    }
}

type Drawn = std::result::Result<(), Box<dyn std::error::Error>>;

/// One picture, drawable on any plotters backend.
trait Figure {
    fn size(&self) -> (u32, u32);
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
fn save(fig: &impl Figure, dir: &Path, name: &str, lang: Lang) -> Result<Vec<PathBuf>> {
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

fn invalid(what: &str, message: impl Into<String>) -> Error {
    Error::InvalidValue { what: what.into(), message: message.into() }
}

// ─── Small drawing helpers ──────────────────────────────────────────────────────────────────────

fn font(size: f64) -> FontDesc<'static> {
    (FAMILY, size).into_font()
}

fn text<'a>(size: f64, colour: &'a RGBColor, h: HPos, v: VPos) -> TextStyle<'a> {
    TextStyle::from(font(size)).color(colour).pos(Pos::new(h, v))
}

const INK: RGBColor = RGBColor(30, 30, 30);
const GREY: RGBColor = RGBColor(110, 110, 110);
const NEG: RGBColor = RGBColor(33, 102, 172);
const POS: RGBColor = RGBColor(178, 24, 43);
const DARK: RGBColor = RGBColor(8, 48, 107);
/// Distinct line colours (Okabe–Ito, readable by colour-blind readers).
const LINES: [RGBColor; 7] = [
    RGBColor(0, 114, 178),
    RGBColor(0, 158, 115),
    RGBColor(230, 159, 0),
    RGBColor(204, 121, 167),
    RGBColor(213, 94, 0),
    RGBColor(86, 180, 233),
    RGBColor(120, 120, 120),
];

fn mix(a: RGBColor, b: RGBColor, t: f64) -> RGBColor {
    let t = t.clamp(0.0, 1.0);
    let m = |x: u8, y: u8| (x as f64 + (y as f64 - x as f64) * t).round() as u8;
    RGBColor(m(a.0, b.0), m(a.1, b.1), m(a.2, b.2))
}

/// Blue (−1) → white (0) → red (+1).
fn diverging(t: f64) -> RGBColor {
    if t < 0.0 { mix(WHITE, NEG, -t) } else { mix(WHITE, POS, t) }
}

/// White (0) → dark blue (1).
fn sequential(t: f64) -> RGBColor {
    mix(WHITE, DARK, t)
}

/// Rounds `t` to one of `levels` steps, so that neighbouring raster cells share colours and merge.
fn quantize(t: f64, levels: f64) -> f64 {
    (t * levels).round() / levels
}

/// Runs of equal colour along each row of a `w × h` grid: (row, first column, end column, colour).
/// Drawing runs instead of cells keeps the SVGs small.
fn runs(w: usize, h: usize, colour: impl Fn(usize, usize) -> RGBColor) -> Vec<(usize, usize, usize, RGBColor)> {
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

/// Four significant digits, trailing zeros trimmed.
fn num(x: f64) -> String {
    if x == 0.0 || !x.is_finite() {
        return if x.is_finite() { "0".into() } else { format!("{x}") };
    }
    let digits = (4 - 1 - x.abs().log10().floor() as i32).clamp(0, 10) as usize;
    let s = format!("{x:.digits$}");
    let s = if s.contains('.') { s.trim_end_matches('0').trim_end_matches('.').to_string() } else { s };
    if s == "-0" { "0".into() } else { s }
}

fn vecs(v: &[f64], max: usize) -> String {
    let mut parts: Vec<String> = v.iter().take(max).map(|&x| num(x)).collect();
    if v.len() > max {
        parts.push(format!("… ({} values)", v.len()));
    }
    format!("[{}]", parts.join(", "))
}

fn sub(n: usize) -> String {
    const D: [char; 10] = ['₀', '₁', '₂', '₃', '₄', '₅', '₆', '₇', '₈', '₉'];
    n.to_string().chars().map(|c| D[c.to_digit(10).unwrap_or(0) as usize]).collect()
}

/// A vertical colour bar in pixel rectangle `(x0, y0)–(x1, y1)`, bottom = 0, top = 1, with ticks.
fn colour_bar<DB: DrawingBackend>(
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
fn wrap<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, s: &str, size: f64, width: u32) -> Vec<String> {
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

// ─── plot activations ───────────────────────────────────────────────────────────────────────────

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
            lang.t(
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
            .x_desc(lang.t("z, the neuron's weighted input wᵀx + b", "z，神经元的加权输入 wᵀx + b"))
            .y_desc(lang.t("output a = f(z)", "输出 a = f(z)"))
            .x_label_formatter(&|v| num(*v))
            .y_label_formatter(&|v| num(*v))
            .label_style(font(18.0).color(&INK))
            .axis_desc_style(font(20.0).color(&INK))
            .draw()?;
        let step = Activation::Step { threshold: 5.0 };
        let grey = RGBColor(150, 150, 150);
        chart
            .draw_series(LineSeries::new([(0.0, 0.0), (5.0, 0.0)], grey.stroke_width(8)))?
            .label(lang.t("step at 5: 1 if z > 5, else 0", "阶跃：z > 5 时为 1，否则为 0"))
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
                .label(format!("k = {}", num(k)))
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
        (lang.t("identity: f(z) = z", "恒等：f(z) = z").into(), Some(Activation::Identity)),
        (
            lang.t("step: 1 if z > 0, else 0", "阶跃：z > 0 时为 1，否则为 0").into(),
            Some(Activation::Step { threshold: 0.0 }),
        ),
        ("sigmoid: σ(z) = 1/(1+e^(−z))".into(), Some(Activation::SIGMOID)),
        ("tanh(z)".into(), Some(Activation::Tanh)),
        ("ReLU: max(0, z)".into(), Some(Activation::Relu)),
        (
            lang.t("leaky ReLU: z if z > 0, else 0.1·z", "leaky ReLU：z > 0 时为 z，否则为 0.1·z").into(),
            Some(Activation::LeakyRelu { alpha: 0.1 }),
        ),
        (lang.t("softmax of (z, 0), first entry", "softmax(z, 0) 的第一个分量").into(), None),
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
            lang.t(
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
                .x_label_formatter(&|v| num(*v))
                .y_label_formatter(&|v| num(*v))
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
            lang.t("f(z), the activation", "f(z)，激活函数"),
            (95, 60),
            text(18.0, &INK, HPos::Left, VPos::Center),
        ))?;
        for x in [30, 46, 62] {
            legend.draw(&PathElement::new(vec![(x, 95), (x + 10, 95)], dcol.stroke_width(3)))?;
        }
        legend.draw(&Text::new(
            lang.t("f′(z), its derivative", "f′(z)，导数"),
            (95, 95),
            text(18.0, &INK, HPos::Left, VPos::Center),
        ))?;
        let notes = [
            lang.t(
                "The step's derivative is 0 wherever it exists: no gradient flows through it, which is why the article replaces it by the sigmoid.",
                "阶跃函数的导数在有定义处都为 0：梯度无法通过它，所以文章用 sigmoid 代替它。",
            ),
            lang.t(
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

// ─── plot network ───────────────────────────────────────────────────────────────────────────────

/// The widest layer `network` draws.
pub const MAX_DRAWN_WIDTH: usize = 16;

/// The network drawn as the article draws its 2-2-1: neurons as circles holding their value `a`
/// after the forward pass of the first sample (with `z` and the bias `b` beneath), links labelled
/// with their weights (`network`). `article` says whether this is the article's own example.
pub fn network(problem: &Problem, trace: &Trace, article: bool, dir: &Path, lang: Lang) -> Result<Vec<PathBuf>> {
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
        Loss::HalfMse => lang.t("half squared error ½‖a − y‖²", "半平方误差 ½‖a − y‖²"),
        Loss::CrossEntropy => lang.t("cross-entropy", "交叉熵"),
        Loss::BinaryCrossEntropy => lang.t("binary cross-entropy", "二元交叉熵"),
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
            lang.t("The article's 2-2-1 network after the forward pass", "文章中的 2-2-1 网络：前向传播之后")
                .to_string()
        } else {
            format!(
                "{} {shape} {}",
                lang.t("A", "一个"),
                lang.t("network after the forward pass", "网络：前向传播之后")
            )
        };
        root.draw(&Text::new(title, (w / 2, 20), text(26.0, &INK, HPos::Center, VPos::Top)))?;
        let many = if self.trace.samples.len() > 1 {
            format!(" ({} {})", lang.t("first of", "共"), self.trace.samples.len())
        } else {
            String::new()
        };
        let sub_title = format!(
            "{}{many}: x = {}, {} y = {}, {} L = {} ({})",
            lang.t("sample", "样本"),
            vecs(&s.x, 6),
            lang.t("target", "目标"),
            vecs(&s.y, 6),
            lang.t("loss", "损失"),
            num(s.loss),
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
                lang.t("input x", "输入 x").to_string()
            } else {
                let act = net.layers[c - 1].activation;
                let kind = if c == cols - 1 {
                    lang.t("output layer", "输出层")
                } else {
                    lang.t("hidden layer", "隐藏层")
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
                        labels.push((num(wv), p, colour));
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
                    (RGBColor(235, 235, 235), s.x[j], format!("x{}", sub(j + 1)))
                } else {
                    let name =
                        if sizes[c] == 1 { format!("a{}", sub(c)) } else { format!("a{}{}", sub(c), sub(j + 1)) };
                    (RGBColor(222, 235, 247), s.a[c - 1][j], name)
                };
                root.draw(&Circle::new((x, y), r, fill.filled()))?;
                root.draw(&Circle::new((x, y), r, INK.stroke_width(2)))?;
                root.draw(&Text::new(num(value), (x, y), text(19.0, &INK, HPos::Center, VPos::Center)))?;
                root.draw(&Text::new(name, (x, y - r - 6), text(17.0, &GREY, HPos::Center, VPos::Bottom)))?;
                if c > 0 {
                    let under = format!("z = {}, b = {}", num(s.z[c - 1][j]), num(net.layers[c - 1].bias[j]));
                    root.draw(&Text::new(under, (x, y + r + 6), text(16.0, &GREY, HPos::Center, VPos::Top)))?;
                }
                if c == cols - 1 {
                    let target = format!("y = {}", num(s.y[j]));
                    root.draw(&Text::new(target, (x + r + 14, y), text(18.0, &INK, HPos::Left, VPos::Center)))?;
                }
            }
        }
        let legend = lang.t(
            "In each circle: a = f(z). Under it: z = Σᵢ wᵢaᵢ + b and the bias b. On the links: the weights (blue ≥ 0, red < 0; thicker = larger |w|).",
            "圆圈内：a = f(z)；圆圈下：z = Σᵢ wᵢaᵢ + b 与偏置 b；连线上：权重（蓝色 ≥ 0，红色 < 0；越粗 |w| 越大）。",
        );
        for (k, line) in wrap(root, legend, 17.0, (w - 80) as u32).into_iter().enumerate() {
            root.draw(&Text::new(line, (40, h - 70 + 24 * k as i32), text(17.0, &GREY, HPos::Left, VPos::Top)))?;
        }
        Ok(())
    }
}

// ─── plot training ──────────────────────────────────────────────────────────────────────────────

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
            lang.t("Training run:", "训练过程："),
            r.len(),
            lang.t("epochs (validation = data held out from training)", "轮（验证集 = 训练时留出的数据）")
        );
        let root = root.titled(&title, font(25.0).color(&INK))?;
        let (body, foot) = root.split_vertically(root.dim_in_pixel().1 - 50);
        let panels = body.split_evenly((1, 3));
        let epoch = lang.t("epoch", "轮次");
        let train_name = lang.t("training", "训练集").to_string();
        let val_name = lang.t("validation", "验证集").to_string();

        let tl = series(r, |e| Some(e.train_loss));
        let vl = series(r, |e| e.val_loss);
        let hi = tl.iter().chain(&vl).map(|p| p.1).fold(0.0f64, f64::max);
        training_panel(
            r,
            &panels[0],
            epoch,
            lang.t("Loss (lower is better)", "损失（越低越好）"),
            lang.t("mean loss", "平均损失"),
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
            lang.t("Accuracy (higher is better)", "准确率（越高越好）"),
            lang.t("accuracy (%)", "准确率（%）"),
            &[(train_name, ta, LINES[0]), (val_name, va, LINES[4])],
            lo..101.0,
            false,
            SeriesLabelPosition::LowerRight,
            lang.t("no accuracy: not a classification run", "无准确率：不是分类任务"),
        )?;

        let layers = r.iter().map(|e| e.grad_norms.len()).max().unwrap_or(0);
        let mut lines = Vec::new();
        for l in 0..layers {
            let pts = series(r, |e| e.grad_norms.get(l).copied().filter(|&g| g > 0.0));
            let which = if l == 0 {
                lang.t(" (nearest the input)", "（最靠近输入）")
            } else if l + 1 == layers {
                lang.t(" (output)", "（输出层）")
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
            lang.t("Gradient norm ‖∂L/∂θ‖ per layer (log scale)", "每层梯度范数 ‖∂L/∂θ‖（对数坐标）"),
            lang.t("gradient norm", "梯度范数"),
            &lines,
            range,
            true,
            SeriesLabelPosition::UpperRight,
            lang.t("no gradient norms in the metrics", "指标中没有梯度范数"),
        )?;
        let note = lang.t(
            "Right: when the layers nearest the input get much smaller gradients than the output layer, they learn slowly — the vanishing gradient that makes deep networks hard to train.",
            "右图：若靠近输入的层梯度远小于输出层，它们就学得很慢——这就是梯度消失，深层网络难以训练的原因。",
        );
        let (fw, _) = foot.dim_in_pixel();
        foot.draw(&Text::new(note, (fw as i32 / 2, 10), text(18.0, &GREY, HPos::Center, VPos::Top)))?;
        Ok(())
    }
}

// ─── plot weights ───────────────────────────────────────────────────────────────────────────────

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
    save(&WeightsFigure { layer, rows, cols, count }, dir, "weights", lang)
}

struct WeightsFigure<'a> {
    layer: &'a Dense<f32>,
    rows: usize,
    cols: usize,
    count: usize,
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
        let title = format!(
            "{} {} {} {} {} ({}×{})",
            lang.t("What the first layer learns: the weights of", "第一层学到了什么：前"),
            self.count,
            lang.t("of its", "个神经元（共"),
            self.layer.outputs,
            lang.t("neurons, each as an image", "个）的权重，各画成一幅图"),
            self.rows,
            self.cols
        );
        root.draw(&Text::new(title, (w as i32 / 2, 18), text(24.0, &INK, HPos::Center, VPos::Top)))?;
        let sub_title = lang.t(
            "red: positive weight (ink there raises the neuron's z), blue: negative, white: 0; one colour scale for all",
            "红：正权重（该处有笔画会增大神经元的 z），蓝：负权重，白：0；所有图共用一个色标",
        );
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
            &[(0.0, num(-m)), (0.5, "0".into()), (1.0, num(m))],
            lang.t("weight", "权重"),
        )?;
        Ok(())
    }
}

// ─── plot augment ────────────────────────────────────────────────────────────────────────────────

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
        let title = lang.t(
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
                lang.t("original", "原图").to_string()
            } else {
                format!("{} {c}", lang.t("epoch", "第几轮"))
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

// ─── plot confusion ─────────────────────────────────────────────────────────────────────────────

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
            lang.t("Confusion matrix on the test set", "测试集上的混淆矩阵"),
            total,
            lang.t("images", "张图像"),
            lang.t("accuracy", "准确率"),
            num(100.0 * correct as f64 / total.max(1) as f64)
        );
        root.draw(&Text::new(title, (w as i32 / 2, 16), text(24.0, &INK, HPos::Center, VPos::Top)))?;
        let sub_title = lang.t(
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
            lang.t("predicted class →", "预测类别 →"),
            (left + side / 2, top - 36),
            text(19.0, &INK, HPos::Center, VPos::Bottom),
        ))?;
        root.draw(&Text::new(
            lang.t("true class ↓", "真实类别 ↓"),
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
            lang.t("share of row", "占该行比例"),
        )?;
        Ok(())
    }
}

// ─── plot boundary ──────────────────────────────────────────────────────────────────────────────

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
            lang.t("XOR learned by a", "由"),
            lang.t("network", "网络学到的 XOR"),
            acts.join(", ")
        );
        let root = root.titled(&title, font(25.0).color(&INK))?;
        let (w, _) = root.dim_in_pixel();
        let sub_title = format!(
            "{} {right}/{} {}",
            lang.t(
                "colour = the network's output a (probability of class 1); black line: a = 0.5, the decision boundary;",
                "颜色 = 网络输出 a（属于类别 1 的概率）；黑线：a = 0.5，即决策边界；",
            ),
            self.points.len(),
            lang.t("points right", "个点分类正确"),
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
            .x_desc(lang.t("input x₁", "输入 x₁"))
            .y_desc(lang.t("input x₂", "输入 x₂"))
            .x_label_formatter(&|v| num(*v))
            .y_label_formatter(&|v| num(*v))
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
            let label = format!("({}, {}): y = {}, a = {}", num(*x1), num(*x2), num(*t), num(*o));
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
                (0.0, lang.t("0 (class 0)", "0（类别 0）").into()),
                (0.5, "0.5".into()),
                (1.0, lang.t("1 (class 1)", "1（类别 1）").into()),
            ],
            lang.t("output a", "输出 a"),
        )?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_merge_equal_neighbours() {
        let r = runs(4, 2, |r, c| if r == 0 && c < 3 { WHITE } else { BLACK });
        assert_eq!(r, vec![(0, 0, 3, WHITE), (0, 3, 4, BLACK), (1, 0, 4, BLACK)]);
    }

    #[test]
    fn numbers_are_short() {
        assert_eq!(num(0.571_682_5), "0.5717");
        assert_eq!(num(0.29), "0.29");
        assert_eq!(num(-1234.6), "-1235");
        assert_eq!(num(0.0), "0");
    }

    #[test]
    fn softmax_of_z_and_zero_is_the_sigmoid() {
        for z in [-3.0, -0.5, 0.0, 2.0] {
            let (a, d) = value_and_derivative(None, z);
            let s = Activation::SIGMOID.value(z);
            assert!((a - s).abs() < 1e-12 && (d - s * (1.0 - s)).abs() < 1e-12);
        }
    }
}
