//! The convolution and pooling layers of a traced step: their maps as grids, the sum over the
//! kernel for one output, δ routed through pooling and convolved back through the flipped kernel,
//! and the kernels' gradients and updates. Layer `k` (from 0) is written with number `k + 1`; the
//! dense layers after them continue the numbering.

use super::formula::{DIGITS, act_symbol, derivative_formula};
use super::renderer::Renderer;
use neuralnet::conv::{Conv2d, Maps};
use neuralnet::network::{Feature, Network};
use neuralnet::plot::notation::subscript;
use neuralnet::trace::{SampleTrace, Trace};
use std::fmt::Write as _;

/// Maps with more values than this are shown by their first channels only.
const SHOWN: usize = 2_000;

/// The name of layer `k`'s input: `x` for the first, else `aₖ`.
fn below(k: usize) -> String {
    if k == 0 { "x".into() } else { format!("a{}", subscript(k)) }
}

/// A plain-text name in LaTeX: subscript digits as `_{…}`, `∂` as `\partial`, `′` as `'`.
fn latex_label(s: &str) -> String {
    let mut out = String::new();
    let mut sub = String::new();
    for ch in s.chars() {
        if ('₀'..='₉').contains(&ch) {
            sub.push(char::from_digit(ch as u32 - '₀' as u32, 10).unwrap_or('0'));
            continue;
        }
        if !sub.is_empty() {
            out += &format!("_{{{sub}}}");
            sub.clear();
        }
        match ch {
            '∂' => out += "\\partial ",
            '′' => out.push('\''),
            'σ' => out += "\\sigma ",
            'δ' => out += "\\delta ",
            c => out.push(c),
        }
    }
    if !sub.is_empty() {
        out += &format!("_{{{sub}}}");
    }
    out
}

/// The kernels' maps: one `k × k` grid per (output, input) channel pair.
fn kernels(c: &Conv2d<f64>) -> Maps {
    Maps::new(c.out_channels * c.input.channels, c.kernel, c.kernel)
}

impl Renderer<'_> {
    /// Maps (flat, channels × rows × columns) as grids: in text one aligned row per line under each
    /// channel's `label`, in Markdown one LaTeX matrix per channel.
    pub fn grids(&mut self, lhs: &str, symbolic: &str, v: &[f64], m: Maps, label: &dyn Fn(usize) -> String) {
        let cells: Vec<String> = v.iter().map(|&x| DIGITS.num(x)).collect();
        let shown = if v.len() > SHOWN { (SHOWN / m.area().max(1)).max(1) } else { m.channels };
        let width = cells.iter().map(|c| c.chars().count()).max().unwrap_or(1);
        let shape = format!("{}×{}×{}", m.channels, m.height, m.width);
        if self.md {
            let _ = writeln!(self.out, "- {lhs} = {symbolic} ({shape})\n");
        } else {
            let _ = writeln!(self.out, "  {lhs} = {symbolic}   ({shape})");
        }
        for (c, channel) in cells.chunks(m.area().max(1)).take(shown).enumerate() {
            let rows = channel.chunks(m.width.max(1));
            if self.md {
                let body: Vec<String> = rows.map(|r| r.join(" & ")).collect();
                let _ = writeln!(
                    self.out,
                    "$$ {} = \\begin{{bmatrix}} {} \\end{{bmatrix}} $$",
                    latex_label(&label(c)),
                    body.join(" \\\\ ")
                );
            } else {
                let _ = writeln!(self.out, "      {}:", label(c));
                for r in rows {
                    let line: Vec<String> = r.iter().map(|s| format!("{s:>width$}")).collect();
                    let _ = writeln!(self.out, "        {}", line.join("  "));
                }
            }
        }
        if shown < m.channels {
            let rest = format!("… {} {}", m.channels - shown, self.lang.pick("more channels", "个通道未显示"));
            self.line(&rest);
        }
    }

    /// One channel's label: `name[c]` (channels counted from 1), or just `name` for one channel.
    fn channel(name: &str, m: Maps) -> impl Fn(usize) -> String + '_ {
        move |c| if m.channels == 1 { name.to_string() } else { format!("{name}[{}]", c + 1) }
    }

    /// The convolution and pooling layers' parameters, for the network's description.
    pub fn describe_features(&mut self, net: &Network<f64>) {
        let lang = self.lang;
        for (k, f) in net.features.iter().enumerate() {
            let n = subscript(k + 1);
            match f {
                Feature::Conv(c) => {
                    self.line(&format!(
                        "{}{}{}: {} {} → {}, {} {}×{}, {} {}, f = {}",
                        lang.pick("layer ", "第 "),
                        k + 1,
                        lang.pick("", " 层"),
                        lang.pick("convolution", "卷积"),
                        c.input,
                        c.output(),
                        lang.pick("kernel", "卷积核"),
                        c.kernel,
                        c.kernel,
                        lang.pick("padding", "填充"),
                        match c.padding {
                            neuralnet::conv::Padding::Valid => "valid",
                            neuralnet::conv::Padding::Same => "same",
                        },
                        c.activation
                    ));
                    let ki = c.input.channels;
                    self.grids(&format!("W{n}"), "out × in × k × k", &c.weights, kernels(c), &|i| {
                        format!("W{n}[{},{}]", i / ki + 1, i % ki + 1)
                    });
                    self.line(&format!("b{n} = {}", DIGITS.vector(&c.bias)));
                }
                Feature::Pool(p) => self.line(&format!(
                    "{}{}{}: {} {} → {}",
                    lang.pick("layer ", "第 "),
                    k + 1,
                    lang.pick("", " 层"),
                    lang.pick("2×2 max pooling", "2×2 最大池化"),
                    p.input,
                    p.output()
                )),
            }
        }
    }

    /// Forward through the convolution and pooling layers for one sample.
    pub fn features_forward(&mut self, net: &Network<f64>, s: &SampleTrace) {
        let Some(input) = net.input_maps() else { return };
        let lang = self.lang;
        self.heading(lang.pick(
            "Convolution: z[o,i,j] = b[o] + Σ_c Σ_p Σ_q W[o,c,p,q]·a[c, i+p−P, j+q−P], a = f(z); pooling: the maximum of each 2×2 window",
            "卷积：z[o,i,j] = b[o] + Σ_c Σ_p Σ_q W[o,c,p,q]·a[c, i+p−P, j+q−P]，a = f(z)；池化：每个 2×2 窗口取最大值",
        ));
        self.grids("x", lang.pick("the input", "输入"), &s.x, input, &Self::channel("x", input));
        for (k, f) in net.features.iter().enumerate() {
            let (n, t, out) = (subscript(k + 1), &s.features[k], f.output());
            let x = if k == 0 { &s.x } else { &s.features[k - 1].a };
            match f {
                Feature::Conv(c) => {
                    // The first output written out as its sum, as the dense layers show theirs.
                    if c.patch_len() <= 27 {
                        let mut terms = Vec::new();
                        for ch in 0..c.input.channels {
                            for p in 0..c.kernel {
                                for q in 0..c.kernel {
                                    let (y, xx) = (p as isize - c.pad() as isize, q as isize - c.pad() as isize);
                                    let inside = y >= 0
                                        && xx >= 0
                                        && (y as usize) < c.input.height
                                        && (xx as usize) < c.input.width;
                                    if inside {
                                        // W[0,c,p,q]: the first output channel's kernel.
                                        let w = c.weights[(ch * c.kernel + p) * c.kernel + q];
                                        let v = x[(ch * c.input.height + y as usize) * c.input.width + xx as usize];
                                        terms.push(format!("{}·{}", DIGITS.num(w), DIGITS.num(v)));
                                    }
                                }
                            }
                        }
                        self.line(&format!(
                            "z{n}[1,1,1] = {} + {} = {}",
                            DIGITS.num(c.bias[0]),
                            terms.join(" + "),
                            DIGITS.num(t.z[0])
                        ));
                    }
                    let b = below(k);
                    self.grids(
                        &format!("z{n}"),
                        &format!("W{n} ⊛ {b} + b{n}"),
                        &t.z,
                        out,
                        &Self::channel(&format!("z{n}"), out),
                    );
                    let f = act_symbol(c.activation);
                    self.grids(
                        &format!("a{n}"),
                        &format!("{f}(z{n})"),
                        &t.a,
                        out,
                        &Self::channel(&format!("a{n}"), out),
                    );
                }
                Feature::Pool(_) => {
                    let b = below(k);
                    self.grids(
                        &format!("a{n}"),
                        &format!("maxpool₂ₓ₂({b})"),
                        &t.a,
                        out,
                        &Self::channel(&format!("a{n}"), out),
                    );
                }
            }
        }
    }

    /// Backward through the convolution and pooling layers for one sample, from the first dense
    /// layer's `(W)ᵀδ` down.
    pub fn features_backward(&mut self, net: &Network<f64>, s: &SampleTrace) {
        let lang = self.lang;
        let top = net.features.len();
        if top == 0 {
            return;
        }
        self.heading(lang.pick(
            "Back through pooling and convolution: pooling routes δ to the position that won; δ = ∂L/∂a ⊙ f′(z); \
             the layer below gets the full convolution of δ with the flipped kernel",
            "反向穿过池化与卷积：池化把 δ 传给胜出的位置；δ = ∂L/∂a ⊙ f′(z)；下一层得到 δ 与翻转卷积核的完全卷积",
        ));
        for k in (0..top).rev() {
            let (n, t, out) = (subscript(k + 1), &s.features[k], net.features[k].output());
            let n1 = subscript(k + 2);
            let from_above = match net.features.get(k + 1) {
                None => format!("(W{n1})ᵀδ{n1}, {}", lang.pick("as maps", "排成特征图")),
                Some(Feature::Pool(_)) => {
                    format!(
                        "{} ∂L/∂a{n1} {}",
                        lang.pick("each", "每个"),
                        lang.pick("to its window's winner, 0 elsewhere", "传给其窗口的最大值位置，其余为 0")
                    )
                }
                Some(Feature::Conv(_)) => {
                    format!("δ{n1} ⊛ rot180(W{n1})  ({})", lang.pick("full convolution", "完全卷积"))
                }
            };
            self.grids(&format!("∂L/∂a{n}"), &from_above, &t.back, out, &Self::channel(&format!("∂L/∂a{n}"), out));
            if let Feature::Conv(c) = &net.features[k] {
                let f = act_symbol(c.activation);
                self.grids(
                    &format!("{f}′(z{n})"),
                    &derivative_formula(c.activation, &format!("a{n}")),
                    &t.fprime,
                    out,
                    &Self::channel(&format!("{f}′(z{n})"), out),
                );
                self.grids(
                    &format!("δ{n}"),
                    &format!("∂L/∂a{n} ⊙ {f}′(z{n})"),
                    &t.delta,
                    out,
                    &Self::channel(&format!("δ{n}"), out),
                );
            }
        }
    }

    /// The convolutions' gradients (summed over the samples), top layer first.
    pub fn features_gradients(&mut self, net: &Network<f64>, t: &Trace) {
        for (k, f) in net.features.iter().enumerate().rev() {
            let Feature::Conv(c) = f else { continue };
            let (n, b, ki) = (subscript(k + 1), below(k), c.input.channels);
            self.grids(
                &format!("∂L/∂W{n}"),
                &format!("Σᵢⱼ δ{n}[o,i,j]·{b}[c, i+p−P, j+q−P]"),
                &t.feature_grad_w[k],
                kernels(c),
                &|i| format!("∂L/∂W{n}[{},{}]", i / ki + 1, i % ki + 1),
            );
            self.line(&format!("∂L/∂b{n} = Σᵢⱼ δ{n}[o,i,j] = {}", DIGITS.vector(&t.feature_grad_b[k])));
        }
    }

    /// The convolutions after the step.
    pub fn features_updates(&mut self, net: &Network<f64>, t: &Trace) {
        for (k, f) in net.features.iter().enumerate().rev() {
            let Feature::Conv(c) = f else { continue };
            let (n, ki) = (subscript(k + 1), c.input.channels);
            self.grids(
                &format!("W{n}"),
                &format!("W{n} − η·∂L/∂W{n}"),
                &t.feature_updated_w[k],
                kernels(c),
                &|i| format!("W{n}[{},{}]", i / ki + 1, i % ki + 1),
            );
            self.line(&format!("b{n} = b{n} − η·∂L/∂b{n} = {}", DIGITS.vector(&t.feature_updated_b[k])));
        }
    }
}
