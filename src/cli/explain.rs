//! `neuralnet explain`: every number of one forward and backward pass, in the article's notation,
//! with the article's own printed values checked beside the true ones.

use super::lang::{Lang, tr};
use anyhow::{Context, Result};
use clap::{Args, ValueEnum};
use neuralnet::activation::Activation;
use neuralnet::article::{self, Check};
use neuralnet::explain::{self, Problem};
use neuralnet::loss::Loss;
use neuralnet::trace::Trace;
use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::PathBuf;

/// Output format of `explain`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum ExplainFormat {
    /// Plain text, step by step.
    #[default]
    Text,
    /// Markdown with LaTeX formulas, ready to paste into notes.
    Markdown,
    /// One JSON object: "loss", "layers" (and "article" for the article's example).
    Json,
}

/// Arguments of `explain`.
#[derive(Args, Debug)]
pub struct ExplainArgs {
    /// A small network as JSON (default: the article's 2-2-1 example).
    #[arg(long)]
    net: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    format: ExplainFormat,
    /// Repeat the gradient-descent step this many times and show the loss falling.
    #[arg(long, default_value_t = 1)]
    steps: usize,
    /// Language of the explanations (default: from the locale).
    #[arg(long, value_enum)]
    lang: Option<Lang>,
    /// A trained model to explain on one image (with --image or --mnist-index).
    #[arg(long, conflicts_with = "net")]
    model: Option<PathBuf>,
    /// A photo or scan of one digit (PNG/JPEG), preprocessed as `predict` does.
    #[arg(long, requires = "model", conflicts_with = "mnist_index")]
    image: Option<PathBuf>,
    /// Explain the model on test image N of the IDX data (MNIST from the cache, or --data-dir).
    #[arg(long, requires = "model")]
    mnist_index: Option<usize>,
    /// Directory with the IDX files for --mnist-index.
    #[arg(long, requires = "mnist_index")]
    data_dir: Option<PathBuf>,
    /// The true label, for the gradients (default: the predicted class, or the data's label).
    #[arg(long, requires = "model")]
    label: Option<usize>,
}

pub fn run(args: ExplainArgs) -> Result<()> {
    let lang = args.lang.unwrap_or_else(Lang::from_env);
    if let Some(path) = &args.model {
        let model = neuralnet::model_file::load(path)?;
        if let Some(image) = &args.image {
            let p = neuralnet::data::photo::load_and_preprocess(image)?;
            if !p.ink {
                anyhow::bail!("{}: no ink found; is there a digit in the image?", image.display());
            }
            return super::explain_model::explain(&model, &p.pixels, args.label, lang);
        }
        let Some(index) = args.mnist_index else {
            anyhow::bail!("--model needs an input: --image FILE or --mnist-index N");
        };
        let (idx, dir) = super::data::load(args.data_dir.as_deref())?;
        let images = &idx.test_images;
        if index >= images.count {
            anyhow::bail!("--mnist-index {index} is out of range: {} has {} test images", dir.display(), images.count);
        }
        let n = images.rows * images.cols;
        let label = args.label.or(Some(idx.test_labels[index] as usize));
        return super::explain_model::explain(&model, &images.pixels[index * n..(index + 1) * n], label, lang);
    }
    let (problem, is_article) = match &args.net {
        Some(p) => {
            let text = std::fs::read_to_string(p).with_context(|| format!("cannot read {}", p.display()))?;
            (Problem::from_json(&text).with_context(|| format!("{}", p.display()))?, false)
        }
        None => (Problem::article(), true),
    };
    let trace = problem.trace()?;
    let checks = if is_article { article::check(&article::printed_values())? } else { Vec::new() };
    let mut losses = vec![trace.loss];
    let mut later = problem.clone();
    later.apply(&trace);
    for _ in 1..args.steps.max(1) {
        let t = later.trace()?;
        losses.push(t.loss);
        later.apply(&t);
    }
    match args.format {
        ExplainFormat::Json => {
            let mut v = explain::to_json(&trace);
            if args.steps > 1 {
                v["loss_per_step"] = serde_json::json!(losses);
            }
            if is_article {
                v["article"] = serde_json::to_value(&checks)?;
            }
            println!("{v}");
        }
        format => {
            let md = format == ExplainFormat::Markdown;
            let mut r =
                Renderer { out: String::new(), lang, md, checks: checks.iter().map(|c| (c.id.clone(), c)).collect() };
            r.render(&problem, &trace, is_article);
            if losses.len() > 1 {
                r.heading(tr(lang, "The loss over repeated steps", "重复梯度下降，损失逐步下降"));
                for (i, l) in losses.iter().enumerate() {
                    r.line(&format!("{} {}: L = {}", tr(lang, "step", "第"), i + 1, num(*l)));
                }
            }
            if is_article {
                r.article_notes();
            }
            print!("{}", r.out);
        }
    }
    Ok(())
}

/// Six significant digits, trailing zeros trimmed.
fn num(x: f64) -> String {
    if x == 0.0 {
        return "0".into();
    }
    let digits = (6 - 1 - x.abs().log10().floor() as i32).clamp(0, 12) as usize;
    let s = format!("{x:.digits$}");
    let s = if s.contains('.') { s.trim_end_matches('0').trim_end_matches('.').to_string() } else { s };
    if s == "-0" { "0".into() } else { s }
}

fn vecs(v: &[f64]) -> String {
    format!("[{}]", v.iter().map(|&x| num(x)).collect::<Vec<_>>().join(", "))
}

fn sub(n: usize) -> String {
    const D: [char; 10] = ['₀', '₁', '₂', '₃', '₄', '₅', '₆', '₇', '₈', '₉'];
    n.to_string().chars().map(|c| D[c.to_digit(10).unwrap_or(0) as usize]).collect()
}

struct Renderer<'a> {
    out: String,
    lang: Lang,
    md: bool,
    checks: HashMap<String, &'a Check>,
}

impl Renderer<'_> {
    fn heading(&mut self, h: &str) {
        if self.md {
            let _ = writeln!(self.out, "\n### {h}\n");
        } else {
            let _ = writeln!(self.out, "\n{h}\n{}", "─".repeat(h.chars().count().min(60)));
        }
    }

    fn line(&mut self, s: &str) {
        if self.md {
            let _ = writeln!(self.out, "- {s}");
        } else {
            let _ = writeln!(self.out, "  {s}");
        }
    }

    /// A formula, with numbers substituted, and its value; in Markdown as LaTeX.
    fn formula(&mut self, lhs: &str, symbolic: &str, substituted: Option<&str>, value: &str, latex: &str) {
        if self.md {
            let _ = writeln!(self.out, "$$ {latex} = {} $$", latex_value(value));
            if let Some(s) = substituted {
                let _ = writeln!(self.out, "\n({s})\n");
            }
            return;
        }
        let mut s = format!("  {lhs} = {symbolic}");
        if let Some(sub) = substituted {
            s += &format!("\n  {} = {sub}", " ".repeat(lhs.chars().count()));
        }
        s += &format!("\n  {} = {value}", " ".repeat(lhs.chars().count()));
        let _ = writeln!(self.out, "{s}");
    }

    /// The article's printed value beside the true one, flagged when it is wrong.
    fn article(&mut self, id: &str) {
        let Some(c) = self.checks.get(id).copied() else { return };
        // Each printed entry as printed, marked ✗ where it is off by more than its precision.
        let art = format!(
            "[{}]",
            c.article
                .iter()
                .zip(&c.decimals)
                .zip(&c.wrong)
                .map(|((v, &d), &w)| format!("{v:.*}{}", d as usize, if w { " ✗" } else { "" }))
                .collect::<Vec<_>>()
                .join(", ")
        );
        let mut s = format!("{} ({}): {art}", tr(self.lang, "article", "原文"), c.section);
        if c.truncated.iter().any(|&x| x) {
            s += &format!(" ({})", tr(self.lang, "cut off, not rounded", "截断而非四舍五入"));
        }
        if c.is_wrong() {
            s += &format!("; {} {}", tr(self.lang, "true value", "真实值"), vecs(&c.true_value));
            if c.new_slip.iter().any(|&x| x) {
                s += &format!(
                    "; {} {} — {}",
                    tr(self.lang, "its own earlier numbers give", "由原文前面的数字算得"),
                    vecs(&c.from_article_inputs),
                    tr(self.lang, "a new slip here", "此处出现新的错误")
                );
            } else {
                s += &format!(" — {}", tr(self.lang, "carried forward from an earlier slip", "沿用了前面的错误"));
            }
        } else {
            s += &format!("  ✓ {}", tr(self.lang, "within its printed precision", "在其印刷精度内正确"));
        }
        if self.md {
            let _ = writeln!(self.out, "> {s}\n");
        } else {
            let _ = writeln!(self.out, "    ↳ {s}");
        }
    }

    fn render(&mut self, p: &Problem, t: &Trace, is_article: bool) {
        let lang = self.lang;
        let net = &p.network;
        let last = net.layers.len();
        let title = if is_article {
            tr(
                lang,
                "The article's 2-2-1 example (§4), one step of gradient descent",
                "文章第 4 节的 2-2-1 例子：一步梯度下降",
            )
        } else {
            tr(lang, "One step of gradient descent", "一步梯度下降")
        };
        if self.md {
            let _ = writeln!(self.out, "## {title}");
        } else {
            let _ = writeln!(self.out, "{title}");
        }
        let sizes = net.sizes().iter().map(|s| s.to_string()).collect::<Vec<_>>().join("-");
        self.line(&format!(
            "{} {sizes}, {} {}, η = {}, {} {}",
            tr(lang, "network", "网络"),
            tr(lang, "loss", "损失"),
            loss_formula(net.loss),
            num(p.lr),
            t.samples.len(),
            tr(lang, "sample(s); L is the mean over samples", "个样本；L 为各样本损失的平均"),
        ));
        for (l, layer) in net.layers.iter().enumerate() {
            let w: Vec<String> = layer.weights.chunks(layer.inputs).map(vecs).collect();
            self.line(&format!(
                "W{} = [{}], b{} = {}, f = {}",
                sub(l + 1),
                w.join(", "),
                sub(l + 1),
                vecs(&layer.bias),
                layer.activation
            ));
        }
        for (s, sample) in t.samples.iter().enumerate() {
            if t.samples.len() > 1 {
                self.heading(&format!("{} {}", tr(lang, "Sample", "样本"), s + 1));
            }
            self.line(&format!("x = {}, y = {}", vecs(&sample.x), vecs(&sample.y)));
            self.heading(tr(
                lang,
                "Forward propagation: z⁽ˡ⁾ = W⁽ˡ⁾a⁽ˡ⁻¹⁾ + b⁽ˡ⁾, a⁽ˡ⁾ = f(z⁽ˡ⁾)",
                "前向传播：z⁽ˡ⁾ = W⁽ˡ⁾a⁽ˡ⁻¹⁾ + b⁽ˡ⁾，a⁽ˡ⁾ = f(z⁽ˡ⁾)",
            ));
            for (l, layer) in net.layers.iter().enumerate() {
                let n = sub(l + 1);
                let input = if l == 0 { &sample.x } else { &sample.a[l - 1] };
                let in_name = if l == 0 { "x".to_string() } else { format!("a{}", sub(l)) };
                let parts: Vec<String> = (0..layer.outputs)
                    .map(|j| {
                        let terms: Vec<String> = (0..layer.inputs)
                            .map(|i| format!("{}·{}", num(layer.weights[j * layer.inputs + i]), num(input[i])))
                            .collect();
                        format!("{} + {}", terms.join(" + "), num(layer.bias[j]))
                    })
                    .collect();
                let small = layer.inputs * layer.outputs <= 16;
                self.formula(
                    &format!("z{n}"),
                    &format!("W{n}{in_name} + b{n}"),
                    small.then(|| format!("[{}]", parts.join(", "))).as_deref(),
                    &vecs(&sample.z[l]),
                    &format!("z_{{{}}} = W_{{{}}}{} + b_{{{}}}", l + 1, l + 1, latex_name(&in_name), l + 1),
                );
                if is_article {
                    self.article(&format!("z{}", l + 1));
                }
                let f = act_symbol(layer.activation);
                let applied: Vec<String> = sample.z[l].iter().map(|&z| format!("{f}({})", num(z))).collect();
                self.formula(
                    &format!("a{n}"),
                    &format!("{f}(z{n})"),
                    Some(&format!("[{}]", applied.join(", "))),
                    &vecs(&sample.a[l]),
                    &format!("a_{{{}}} = {}(z_{{{}}})", l + 1, latex_act(layer.activation), l + 1),
                );
                if is_article {
                    self.article(&format!("a{}", l + 1));
                }
            }
            let nl = sub(last);
            self.formula("L", &loss_formula(net.loss).replace("aᴸ", &format!("a{nl}")), None, &num(sample.loss), "L");
            if is_article {
                self.article("L");
            }

            self.heading(tr(
                lang,
                "Backpropagation: δ⁽ᴸ⁾ = ∂L/∂z⁽ᴸ⁾, δ⁽ˡ⁾ = (W⁽ˡ⁺¹⁾)ᵀδ⁽ˡ⁺¹⁾ ⊙ f′(z⁽ˡ⁾)",
                "反向传播：δ⁽ᴸ⁾ = ∂L/∂z⁽ᴸ⁾，δ⁽ˡ⁾ = (W⁽ˡ⁺¹⁾)ᵀδ⁽ˡ⁺¹⁾ ⊙ f′(z⁽ˡ⁾)",
            ));
            let batch_note = if t.samples.len() > 1 {
                format!(" ({} 1/{})", tr(lang, "including the mean's factor", "含平均值的系数"), t.samples.len())
            } else {
                String::new()
            };
            let out_layer = &net.layers[last - 1];
            match (net.loss, out_layer.activation) {
                (Loss::HalfMse, act) => {
                    self.formula(
                        &format!("∂L/∂a{nl}"),
                        &format!("a{nl} − y{batch_note}"),
                        None,
                        &vecs(&sample.dl_da),
                        &format!("\\frac{{\\partial L}}{{\\partial a_{{{last}}}}}"),
                    );
                    if is_article {
                        self.article("dL_da2");
                    }
                    if let Some(fp) = &sample.fprime[last - 1] {
                        self.formula(
                            &format!("{}′(z{nl})", act_symbol(act)),
                            &derivative_formula(act, &format!("a{nl}")),
                            None,
                            &vecs(fp),
                            &format!("{}'(z_{{{last}}})", latex_act(act)),
                        );
                        if is_article {
                            self.article("sigma_prime_z2");
                        }
                        self.formula(
                            &format!("δ{nl}"),
                            &format!("∂L/∂a{nl} ⊙ {}′(z{nl})", act_symbol(act)),
                            None,
                            &vecs(&sample.delta[last - 1]),
                            &format!("\\delta_{{{last}}} = \\frac{{\\partial L}}{{\\partial a_{{{last}}}}} \\odot {}'(z_{{{last}}})", latex_act(act)),
                        );
                    } else {
                        self.formula(
                            &format!("δ{nl}"),
                            &format!("J_softmaxᵀ · ∂L/∂a{nl} = a{nl} ⊙ (∂L/∂a{nl} − (∂L/∂a{nl}·a{nl}))"),
                            None,
                            &vecs(&sample.delta[last - 1]),
                            &format!("\\delta_{{{last}}} = J^\\top \\frac{{\\partial L}}{{\\partial a_{{{last}}}}}"),
                        );
                    }
                }
                (loss, _) => {
                    let which = if loss == Loss::CrossEntropy {
                        "softmax + cross-entropy"
                    } else {
                        "sigmoid + binary cross-entropy"
                    };
                    self.formula(
                        &format!("δ{nl}"),
                        &format!("a{nl} − y{batch_note}   ({which})"),
                        None,
                        &vecs(&sample.delta[last - 1]),
                        &format!("\\delta_{{{last}}} = a_{{{last}}} - y"),
                    );
                }
            }
            if is_article {
                self.article("delta2");
            }
            for l in (0..last - 1).rev() {
                let n = sub(l + 1);
                let n1 = sub(l + 2);
                let next = &net.layers[l + 1];
                let layer = &net.layers[l];
                self.formula(
                    &format!("W{n1}ᵀδ{n1}"),
                    &format!("(W{n1})ᵀ δ{n1}"),
                    None,
                    &vecs(&sample.back[l]),
                    &format!("W_{{{}}}^\\top \\delta_{{{}}}", l + 2, l + 2),
                );
                if is_article {
                    self.article("W2T_delta2");
                }
                if let Some(fp) = &sample.fprime[l] {
                    self.formula(
                        &format!("{}′(z{n})", act_symbol(layer.activation)),
                        &derivative_formula(layer.activation, &format!("a{n}")),
                        None,
                        &vecs(fp),
                        &format!("{}'(z_{{{}}})", latex_act(layer.activation), l + 1),
                    );
                    if is_article {
                        self.article("sigma_prime_z1");
                    }
                    // Component by component, as the article derives δ₁₁ and δ₁₂.
                    let comps: Vec<String> = (0..layer.outputs)
                        .map(|j| {
                            let terms: Vec<String> = (0..next.outputs)
                                .map(|k| {
                                    format!(
                                        "{}·W{n1},{}{}",
                                        component("δ", l + 2, k, next.outputs),
                                        sub(k + 1),
                                        sub(j + 1)
                                    )
                                })
                                .collect();
                            format!(
                                "{} = ({})·{}′({}) = {}",
                                component("δ", l + 1, j, layer.outputs),
                                terms.join(" + "),
                                act_symbol(layer.activation),
                                component("z", l + 1, j, layer.outputs),
                                num(sample.delta[l][j])
                            )
                        })
                        .collect();
                    self.formula(
                        &format!("δ{n}"),
                        &format!("(W{n1}ᵀδ{n1}) ⊙ {}′(z{n})", act_symbol(layer.activation)),
                        (layer.outputs <= 8).then(|| comps.join("; ")).as_deref(),
                        &vecs(&sample.delta[l]),
                        &format!(
                            "\\delta_{{{}}} = (W_{{{}}}^\\top \\delta_{{{}}}) \\odot {}'(z_{{{}}})",
                            l + 1,
                            l + 2,
                            l + 2,
                            latex_act(layer.activation),
                            l + 1
                        ),
                    );
                } else {
                    self.formula(
                        &format!("δ{n}"),
                        &format!("J_softmax(z{n})ᵀ (W{n1}ᵀδ{n1})"),
                        None,
                        &vecs(&sample.delta[l]),
                        &format!("\\delta_{{{}}} = J^\\top (W_{{{}}}^\\top \\delta_{{{}}})", l + 1, l + 2, l + 2),
                    );
                }
                if is_article {
                    self.article("delta1");
                }
            }
        }
        self.heading(tr(
            lang,
            "Gradients: ∂L/∂W⁽ˡ⁾ = δ⁽ˡ⁾(a⁽ˡ⁻¹⁾)ᵀ, ∂L/∂b⁽ˡ⁾ = δ⁽ˡ⁾ (summed over samples)",
            "梯度：∂L/∂W⁽ˡ⁾ = δ⁽ˡ⁾(a⁽ˡ⁻¹⁾)ᵀ，∂L/∂b⁽ˡ⁾ = δ⁽ˡ⁾（对样本求和）",
        ));
        for l in (0..last).rev() {
            let n = sub(l + 1);
            let layer = &net.layers[l];
            let in_name = if l == 0 { "x".to_string() } else { format!("a{}", sub(l)) };
            let entries: Vec<String> = if t.samples.len() == 1 && layer.inputs * layer.outputs <= 16 {
                let s = &t.samples[0];
                let input = if l == 0 { &s.x } else { &s.a[l - 1] };
                (0..layer.outputs)
                    .flat_map(|j| {
                        let input = input.clone();
                        let d = s.delta[l][j];
                        let n = n.clone();
                        let in_name = in_name.clone();
                        (0..layer.inputs).map(move |i| {
                            format!(
                                "∂L/∂W{n},{}{} = {}·{in_name}{} = {}",
                                sub(j + 1),
                                sub(i + 1),
                                component("δ", l + 1, j, layer.outputs),
                                sub(i + 1),
                                num(d * input[i])
                            )
                        })
                    })
                    .collect()
            } else {
                Vec::new()
            };
            let rows: Vec<String> = t.grad_w[l].iter().map(|r| vecs(r)).collect();
            self.formula(
                &format!("∂L/∂W{n}"),
                &format!("δ{n}{in_name}ᵀ  ({}×{})", layer.outputs, layer.inputs),
                (!entries.is_empty()).then(|| entries.join("; ")).as_deref(),
                &format!("[{}]", rows.join(", ")),
                &format!(
                    "\\frac{{\\partial L}}{{\\partial W_{{{}}}}} = \\delta_{{{}}} {}^\\top",
                    l + 1,
                    l + 1,
                    latex_name(&in_name)
                ),
            );
            if is_article {
                self.article(&format!("dL_dW{}", l + 1));
            }
            self.formula(
                &format!("∂L/∂b{n}"),
                &format!("δ{n}"),
                None,
                &vecs(&t.grad_b[l]),
                &format!("\\frac{{\\partial L}}{{\\partial b_{{{}}}}} = \\delta_{{{}}}", l + 1, l + 1),
            );
            if is_article {
                self.article(&format!("dL_db{}", l + 1));
            }
        }
        self.heading(&format!(
            "{} (η = {})",
            tr(lang, "Update: θ ← θ − η·∂L/∂θ", "参数更新：θ ← θ − η·∂L/∂θ"),
            num(p.lr)
        ));
        for l in (0..last).rev() {
            let n = sub(l + 1);
            let rows: Vec<String> = t.updated_w[l].iter().map(|r| vecs(r)).collect();
            self.formula(
                &format!("W{n}"),
                &format!("W{n} − η·∂L/∂W{n}"),
                None,
                &format!("[{}]", rows.join(", ")),
                &format!(
                    "W_{{{}}} \\leftarrow W_{{{}}} - \\eta \\frac{{\\partial L}}{{\\partial W_{{{}}}}}",
                    l + 1,
                    l + 1,
                    l + 1
                ),
            );
            if is_article {
                self.article(&format!("W{}_new", l + 1));
            }
            self.formula(
                &format!("b{n}"),
                &format!("b{n} − η·∂L/∂b{n}"),
                None,
                &vecs(&t.updated_b[l]),
                &format!(
                    "b_{{{}}} \\leftarrow b_{{{}}} - \\eta \\frac{{\\partial L}}{{\\partial b_{{{}}}}}",
                    l + 1,
                    l + 1,
                    l + 1
                ),
            );
            if is_article {
                self.article(&format!("b{}_new", l + 1));
            }
        }
    }

    fn article_notes(&mut self) {
        let lang = self.lang;
        let wrong = self.checks.values().filter(|c| c.is_wrong()).count();
        self.heading(tr(lang, "Where the article's numbers go wrong", "原文数字的错误"));
        self.line(&format!(
            "{wrong} {} {} {}",
            tr(lang, "of", "/"),
            self.checks.len(),
            tr(
                lang,
                "printed quantities differ from the true values by more than their printed precision.",
                "个印刷的量与真实值之差超过了其印刷精度。"
            )
        ));
        for (en, zh) in article::notes() {
            self.line(tr(lang, en, zh));
        }
    }
}

/// `δ₁₂` (layer 1, entry 2), or just `δ₂` when layer 2 has a single entry, as the article writes.
fn component(sym: &str, layer: usize, j: usize, width: usize) -> String {
    if width == 1 { format!("{sym}{}", sub(layer)) } else { format!("{sym}{}{}", sub(layer), sub(j + 1)) }
}

fn latex_name(n: &str) -> String {
    match n.strip_prefix('a') {
        Some(rest) => {
            format!("a_{{{}}}", rest.chars().map(|c| (c as u32 - '₀' as u32).to_string()).collect::<String>())
        }
        None => n.to_string(),
    }
}

fn latex_value(v: &str) -> String {
    v.replace('[', "\\left[").replace(']', "\\right]")
}

fn act_symbol(a: Activation) -> &'static str {
    match a {
        Activation::Sigmoid { .. } => "σ",
        Activation::Tanh => "tanh",
        Activation::Relu => "relu",
        Activation::LeakyRelu { .. } => "lrelu",
        Activation::Identity => "id",
        Activation::Step { .. } => "step",
        Activation::Softmax => "softmax",
    }
}

fn latex_act(a: Activation) -> &'static str {
    match a {
        Activation::Sigmoid { .. } => "\\sigma",
        Activation::Tanh => "\\tanh",
        Activation::Relu => "\\mathrm{relu}",
        Activation::LeakyRelu { .. } => "\\mathrm{lrelu}",
        Activation::Identity => "\\mathrm{id}",
        Activation::Step { .. } => "\\mathrm{step}",
        Activation::Softmax => "\\mathrm{softmax}",
    }
}

fn derivative_formula(a: Activation, an: &str) -> String {
    match a {
        Activation::Sigmoid { k: 1.0, .. } => format!("{an}(1 − {an})"),
        Activation::Sigmoid { k, .. } => format!("{}·{an}(1 − {an})", num(k)),
        Activation::Tanh => format!("1 − {an}²"),
        Activation::Relu => "1 if z > 0 else 0".into(),
        Activation::LeakyRelu { alpha } => format!("1 if z > 0 else {}", num(alpha)),
        Activation::Identity => "1".into(),
        Activation::Step { .. } => "0 (no gradient flows through a step)".into(),
        Activation::Softmax => "Jacobian".into(),
    }
}

fn loss_formula(l: Loss) -> String {
    match l {
        Loss::HalfMse => "½‖aᴸ − y‖²".into(),
        Loss::CrossEntropy => "−Σ y log softmax(zᴸ)".into(),
        Loss::BinaryCrossEntropy => "−Σ [y log aᴸ + (1 − y) log(1 − aᴸ)]".into(),
    }
}
