//! The walk through one gradient-descent step: the network, then for each sample the forward
//! pass, the loss and the backward pass, then the gradients and the update, each as a formula
//! with its numbers.

use super::formula::{DIGITS, act_symbol, derivative_formula, latex_act, latex_name, loss_formula};
use super::renderer::Renderer;
use neuralnet::explain::Problem;
use neuralnet::loss::Loss;
use neuralnet::plot::notation::{component, subscript};
use neuralnet::trace::Trace;
use std::fmt::Write as _;

impl Renderer<'_> {
    /// Writes every number of the step `t` of problem `p`, with the article's printed values
    /// beside them when `is_article`.
    pub fn render(&mut self, p: &Problem, t: &Trace, is_article: bool) {
        let lang = self.lang;
        let net = &p.network;
        // Layers are numbered over the whole network: convolution and pooling first, then dense.
        let off = net.features.len();
        let num = |l: usize| l + off + 1;
        let top = net.layers.len() - 1;
        let last = num(top);
        let title = if is_article {
            lang.pick(
                "The article's 2-2-1 example (§4), one step of gradient descent",
                "文章第 4 节的 2-2-1 例子：一步梯度下降",
            )
        } else {
            lang.pick("One step of gradient descent", "一步梯度下降")
        };
        if self.md {
            let _ = writeln!(self.out, "## {title}");
        } else {
            let _ = writeln!(self.out, "{title}");
        }
        let mut sizes = net.sizes().iter().map(|s| s.to_string()).collect::<Vec<_>>().join("-");
        if let Some(input) = net.input_maps() {
            let parts: Vec<String> = net
                .features
                .iter()
                .map(|f| match f {
                    neuralnet::network::Feature::Conv(c) => format!("conv {}", c.output()),
                    neuralnet::network::Feature::Pool(p) => format!("pool {}", p.output()),
                })
                .collect();
            sizes = format!("{input} → {} → {sizes}", parts.join(" → "));
        }
        self.line(&format!(
            "{} {sizes}, {} {}, η = {}, {} {}",
            lang.pick("network", "网络"),
            lang.pick("loss", "损失"),
            loss_formula(net.loss),
            DIGITS.num(p.lr),
            t.samples.len(),
            lang.pick("sample(s); L is the mean over samples", "个样本；L 为各样本损失的平均"),
        ));
        self.describe_features(net);
        for (l, layer) in net.layers.iter().enumerate() {
            let w: Vec<String> = layer.weights.chunks(layer.inputs).map(|r| DIGITS.vector(r)).collect();
            self.line(&format!(
                "W{} = [{}], b{} = {}, f = {}",
                subscript(num(l)),
                w.join(", "),
                subscript(num(l)),
                DIGITS.vector(&layer.bias),
                layer.activation
            ));
        }
        for (s, sample) in t.samples.iter().enumerate() {
            if t.samples.len() > 1 {
                self.heading(&format!("{} {}", lang.pick("Sample", "样本"), s + 1));
            }
            if net.features.is_empty() {
                self.line(&format!("x = {}, y = {}", DIGITS.vector(&sample.x), DIGITS.vector(&sample.y)));
            } else {
                self.line(&format!("y = {}", DIGITS.vector(&sample.y)));
                self.features_forward(net, sample);
            }
            self.heading(lang.pick(
                "Forward propagation: z⁽ˡ⁾ = W⁽ˡ⁾a⁽ˡ⁻¹⁾ + b⁽ˡ⁾, a⁽ˡ⁾ = f(z⁽ˡ⁾)",
                "前向传播：z⁽ˡ⁾ = W⁽ˡ⁾a⁽ˡ⁻¹⁾ + b⁽ˡ⁾，a⁽ˡ⁾ = f(z⁽ˡ⁾)",
            ));
            for (l, layer) in net.layers.iter().enumerate() {
                let n = subscript(num(l));
                let input = if l > 0 { &sample.a[l - 1] } else { sample.features.last().map_or(&sample.x, |f| &f.a) };
                let in_name = if num(l) == 1 { "x".to_string() } else { format!("a{}", subscript(num(l) - 1)) };
                let parts: Vec<String> = (0..layer.outputs)
                    .map(|j| {
                        let terms: Vec<String> = (0..layer.inputs)
                            .map(|i| {
                                format!("{}·{}", DIGITS.num(layer.weights[j * layer.inputs + i]), DIGITS.num(input[i]))
                            })
                            .collect();
                        format!("{} + {}", terms.join(" + "), DIGITS.num(layer.bias[j]))
                    })
                    .collect();
                let small = layer.inputs * layer.outputs <= 16;
                self.formula(
                    &format!("z{n}"),
                    &format!("W{n}{in_name} + b{n}"),
                    small.then(|| format!("[{}]", parts.join(", "))).as_deref(),
                    &DIGITS.vector(&sample.z[l]),
                    &format!("z_{{{}}} = W_{{{}}}{} + b_{{{}}}", num(l), num(l), latex_name(&in_name), num(l)),
                );
                if is_article {
                    self.article(&format!("z{}", l + 1));
                }
                let f = act_symbol(layer.activation);
                let applied: Vec<String> = sample.z[l].iter().map(|&z| format!("{f}({})", DIGITS.num(z))).collect();
                self.formula(
                    &format!("a{n}"),
                    &format!("{f}(z{n})"),
                    Some(&format!("[{}]", applied.join(", "))),
                    &DIGITS.vector(&sample.a[l]),
                    &format!("a_{{{}}} = {}(z_{{{}}})", num(l), latex_act(layer.activation), num(l)),
                );
                if is_article {
                    self.article(&format!("a{}", l + 1));
                }
            }
            let nl = subscript(last);
            self.formula(
                "L",
                &loss_formula(net.loss).replace("aᴸ", &format!("a{nl}")),
                None,
                &DIGITS.num(sample.loss),
                "L",
            );
            if is_article {
                self.article("L");
            }

            self.heading(lang.pick(
                "Backpropagation: δ⁽ᴸ⁾ = ∂L/∂z⁽ᴸ⁾, δ⁽ˡ⁾ = (W⁽ˡ⁺¹⁾)ᵀδ⁽ˡ⁺¹⁾ ⊙ f′(z⁽ˡ⁾)",
                "反向传播：δ⁽ᴸ⁾ = ∂L/∂z⁽ᴸ⁾，δ⁽ˡ⁾ = (W⁽ˡ⁺¹⁾)ᵀδ⁽ˡ⁺¹⁾ ⊙ f′(z⁽ˡ⁾)",
            ));
            let batch_note = if t.samples.len() > 1 {
                format!(" ({} 1/{})", lang.pick("including the mean's factor", "含平均值的系数"), t.samples.len())
            } else {
                String::new()
            };
            let out_layer = &net.layers[top];
            match (net.loss, out_layer.activation) {
                (Loss::HalfMse, act) => {
                    self.formula(
                        &format!("∂L/∂a{nl}"),
                        &format!("a{nl} − y{batch_note}"),
                        None,
                        &DIGITS.vector(&sample.dl_da),
                        &format!("\\frac{{\\partial L}}{{\\partial a_{{{last}}}}}"),
                    );
                    if is_article {
                        self.article("dL_da2");
                    }
                    if let Some(fp) = &sample.fprime[top] {
                        self.formula(
                            &format!("{}′(z{nl})", act_symbol(act)),
                            &derivative_formula(act, &format!("a{nl}")),
                            None,
                            &DIGITS.vector(fp),
                            &format!("{}'(z_{{{last}}})", latex_act(act)),
                        );
                        if is_article {
                            self.article("sigma_prime_z2");
                        }
                        self.formula(
                            &format!("δ{nl}"),
                            &format!("∂L/∂a{nl} ⊙ {}′(z{nl})", act_symbol(act)),
                            None,
                            &DIGITS.vector(&sample.delta[top]),
                            &format!("\\delta_{{{last}}} = \\frac{{\\partial L}}{{\\partial a_{{{last}}}}} \\odot {}'(z_{{{last}}})", latex_act(act)),
                        );
                    } else {
                        self.formula(
                            &format!("δ{nl}"),
                            &format!("J_softmaxᵀ · ∂L/∂a{nl} = a{nl} ⊙ (∂L/∂a{nl} − (∂L/∂a{nl}·a{nl}))"),
                            None,
                            &DIGITS.vector(&sample.delta[top]),
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
                        &DIGITS.vector(&sample.delta[top]),
                        &format!("\\delta_{{{last}}} = a_{{{last}}} - y"),
                    );
                }
            }
            if is_article {
                self.article("delta2");
            }
            for l in (0..top).rev() {
                let n = subscript(num(l));
                let n1 = subscript(num(l) + 1);
                let next = &net.layers[l + 1];
                let layer = &net.layers[l];
                self.formula(
                    &format!("W{n1}ᵀδ{n1}"),
                    &format!("(W{n1})ᵀ δ{n1}"),
                    None,
                    &DIGITS.vector(&sample.back[l]),
                    &format!("W_{{{}}}^\\top \\delta_{{{}}}", num(l) + 1, num(l) + 1),
                );
                if is_article {
                    self.article("W2T_delta2");
                }
                if let Some(fp) = &sample.fprime[l] {
                    self.formula(
                        &format!("{}′(z{n})", act_symbol(layer.activation)),
                        &derivative_formula(layer.activation, &format!("a{n}")),
                        None,
                        &DIGITS.vector(fp),
                        &format!("{}'(z_{{{}}})", latex_act(layer.activation), num(l)),
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
                                        component("δ", num(l) + 1, k, next.outputs),
                                        subscript(k + 1),
                                        subscript(j + 1)
                                    )
                                })
                                .collect();
                            format!(
                                "{} = ({})·{}′({}) = {}",
                                component("δ", num(l), j, layer.outputs),
                                terms.join(" + "),
                                act_symbol(layer.activation),
                                component("z", num(l), j, layer.outputs),
                                DIGITS.num(sample.delta[l][j])
                            )
                        })
                        .collect();
                    self.formula(
                        &format!("δ{n}"),
                        &format!("(W{n1}ᵀδ{n1}) ⊙ {}′(z{n})", act_symbol(layer.activation)),
                        (layer.outputs <= 8).then(|| comps.join("; ")).as_deref(),
                        &DIGITS.vector(&sample.delta[l]),
                        &format!(
                            "\\delta_{{{}}} = (W_{{{}}}^\\top \\delta_{{{}}}) \\odot {}'(z_{{{}}})",
                            num(l),
                            num(l) + 1,
                            num(l) + 1,
                            latex_act(layer.activation),
                            num(l)
                        ),
                    );
                } else {
                    self.formula(
                        &format!("δ{n}"),
                        &format!("J_softmax(z{n})ᵀ (W{n1}ᵀδ{n1})"),
                        None,
                        &DIGITS.vector(&sample.delta[l]),
                        &format!(
                            "\\delta_{{{}}} = J^\\top (W_{{{}}}^\\top \\delta_{{{}}})",
                            num(l),
                            num(l) + 1,
                            num(l) + 1
                        ),
                    );
                }
                if is_article {
                    self.article("delta1");
                }
            }
            self.features_backward(net, sample);
        }
        self.heading(lang.pick(
            "Gradients: ∂L/∂W⁽ˡ⁾ = δ⁽ˡ⁾(a⁽ˡ⁻¹⁾)ᵀ, ∂L/∂b⁽ˡ⁾ = δ⁽ˡ⁾ (summed over samples)",
            "梯度：∂L/∂W⁽ˡ⁾ = δ⁽ˡ⁾(a⁽ˡ⁻¹⁾)ᵀ，∂L/∂b⁽ˡ⁾ = δ⁽ˡ⁾（对样本求和）",
        ));
        for l in (0..=top).rev() {
            let n = subscript(num(l));
            let layer = &net.layers[l];
            let in_name = if num(l) == 1 { "x".to_string() } else { format!("a{}", subscript(num(l) - 1)) };
            let entries: Vec<String> = if t.samples.len() == 1 && layer.inputs * layer.outputs <= 16 {
                let s = &t.samples[0];
                let input = if l > 0 { &s.a[l - 1] } else { s.features.last().map_or(&s.x, |f| &f.a) };
                (0..layer.outputs)
                    .flat_map(|j| {
                        let input = input.clone();
                        let d = s.delta[l][j];
                        let n = n.clone();
                        let in_name = in_name.clone();
                        (0..layer.inputs).map(move |i| {
                            format!(
                                "∂L/∂W{n},{}{} = {}·{in_name}{} = {}",
                                subscript(j + 1),
                                subscript(i + 1),
                                component("δ", num(l), j, layer.outputs),
                                subscript(i + 1),
                                DIGITS.num(d * input[i])
                            )
                        })
                    })
                    .collect()
            } else {
                Vec::new()
            };
            let rows: Vec<String> = t.grad_w[l].iter().map(|r| DIGITS.vector(r)).collect();
            self.formula(
                &format!("∂L/∂W{n}"),
                &format!("δ{n}{in_name}ᵀ  ({}×{})", layer.outputs, layer.inputs),
                (!entries.is_empty()).then(|| entries.join("; ")).as_deref(),
                &format!("[{}]", rows.join(", ")),
                &format!(
                    "\\frac{{\\partial L}}{{\\partial W_{{{}}}}} = \\delta_{{{}}} {}^\\top",
                    num(l),
                    num(l),
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
                &DIGITS.vector(&t.grad_b[l]),
                &format!("\\frac{{\\partial L}}{{\\partial b_{{{}}}}} = \\delta_{{{}}}", num(l), num(l)),
            );
            if is_article {
                self.article(&format!("dL_db{}", l + 1));
            }
        }
        self.features_gradients(net, t);
        self.heading(&format!(
            "{} (η = {})",
            lang.pick("Update: θ ← θ − η·∂L/∂θ", "参数更新：θ ← θ − η·∂L/∂θ"),
            DIGITS.num(p.lr)
        ));
        for l in (0..=top).rev() {
            let n = subscript(num(l));
            let rows: Vec<String> = t.updated_w[l].iter().map(|r| DIGITS.vector(r)).collect();
            self.formula(
                &format!("W{n}"),
                &format!("W{n} − η·∂L/∂W{n}"),
                None,
                &format!("[{}]", rows.join(", ")),
                &format!(
                    "W_{{{}}} \\leftarrow W_{{{}}} - \\eta \\frac{{\\partial L}}{{\\partial W_{{{}}}}}",
                    num(l),
                    num(l),
                    num(l)
                ),
            );
            if is_article {
                self.article(&format!("W{}_new", l + 1));
            }
            self.formula(
                &format!("b{n}"),
                &format!("b{n} − η·∂L/∂b{n}"),
                None,
                &DIGITS.vector(&t.updated_b[l]),
                &format!(
                    "b_{{{}}} \\leftarrow b_{{{}}} - \\eta \\frac{{\\partial L}}{{\\partial b_{{{}}}}}",
                    num(l),
                    num(l),
                    num(l)
                ),
            );
            if is_article {
                self.article(&format!("b{}_new", l + 1));
            }
        }
        self.features_updates(net, t);
    }
}
