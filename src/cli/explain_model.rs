//! `neuralnet explain --model MODEL --image DIGIT.png` (or `--mnist-index N`): the same chain as the
//! article's example, for a trained digit reader on one image, summarised per layer.

use anyhow::{Result, bail};
use neuralnet::model_file::Model;
use neuralnet::network::{Feature, Gradients, Network, Workspace};
use neuralnet::plot::Lang;
use neuralnet::trace::trace;
use neuralnet::{Activation, conv::Padding};

/// Prints the forward and backward pass of `model` on one image (`pixels`, raw 0–255, ink high).
pub fn explain(model: &Model, pixels: &[u8], label: Option<usize>, lang: Lang) -> Result<()> {
    let net = model.network.cast::<f64>();
    if pixels.len() != net.inputs() {
        bail!("the image has {} pixels but the model takes {} inputs", pixels.len(), net.inputs());
    }
    let x: Vec<f64> = pixels.iter().map(|&p| model.info.normalization.apply(p as f64)).collect();
    let out = net.predict(&x, 1)?;
    let predicted = neuralnet::metrics::argmax(&out);
    let label = label.unwrap_or(predicted);
    if label >= net.outputs() {
        bail!("--label {label} is not a class of this model (it has {})", net.outputs());
    }
    let mut y = vec![0.0; net.outputs()];
    y[label] = 1.0;
    // A convolutional part is run (and differentiated) here; the dense layers above it are traced
    // from its output as from an input.
    let mut ws = Workspace::new(&net, 1, 1);
    let mut grads = Gradients::zeros(&net);
    net.loss_and_gradients(&x, &y, 1, &mut ws, &mut grads, None);
    let dense_x =
        if net.features.is_empty() { x.clone() } else { ws.features_output()[..net.layers[0].inputs].to_vec() };
    let dense = Network::from_layers(net.layers.clone(), net.loss)?;
    let t = trace(&dense, &[dense_x], &[y], 0.0)?;
    let s = &t.samples[0];

    if let Some((rows, cols)) = model.info.input_shape
        && rows * cols == pixels.len()
    {
        println!("{}", lang.pick("The input the network sees (x = a⁽⁰⁾):", "网络看到的输入（x = a⁽⁰⁾）："));
        const SHADES: [char; 5] = [' ', '░', '▒', '▓', '█'];
        for r in 0..rows {
            let line: String = (0..cols).map(|c| SHADES[(pixels[r * cols + c] as usize * 5 / 256).min(4)]).collect();
            println!("  |{line}|");
        }
        println!();
    }
    println!("{}", lang.pick("Forward propagation, layer by layer:", "前向传播，逐层："));
    for (k, f) in net.features.iter().enumerate() {
        let a = &ws.feature_a(k)[..f.output().len()];
        let (amin, amax) = a.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &v| (lo.min(v), hi.max(v)));
        match f {
            Feature::Conv(c) => {
                let active = a.iter().filter(|&&v| v > 0.0).count();
                println!(
                    "  {} {}: z = W ⊛ a + b ({} {}×{}×{}×{}, {}), f = {} → {} {}; a ∈ [{amin:.3}, {amax:.3}], {} {active} / {}",
                    lang.pick("convolution", "卷积层"),
                    k + 1,
                    lang.pick("kernels", "卷积核"),
                    c.out_channels,
                    c.input.channels,
                    c.kernel,
                    c.kernel,
                    if c.padding == Padding::Same { "same" } else { "valid" },
                    c.activation,
                    c.output(),
                    lang.pick("maps", "特征图"),
                    lang.pick("positive:", "为正："),
                    a.len()
                );
            }
            Feature::Pool(p) => println!(
                "  {} {}: {} → {} {}; a ∈ [{amin:.3}, {amax:.3}]",
                lang.pick("pooling", "池化层"),
                k + 1,
                lang.pick("the largest of each 2×2 window", "取每个 2×2 窗口的最大值"),
                p.output(),
                lang.pick("maps", "特征图"),
            ),
        }
    }
    if !net.features.is_empty() {
        println!(
            "  {}",
            lang.pick(
                "then flattened (channel, row, column) into the dense layers' input a⁽⁰⁾:",
                "再按（通道、行、列）展平，作为全连接层的输入 a⁽⁰⁾："
            )
        );
    }
    for (l, layer) in net.layers.iter().enumerate() {
        let a = &s.a[l];
        let z = &s.z[l];
        let zmin = z.iter().cloned().fold(f64::INFINITY, f64::min);
        let zmax = z.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let mut top: Vec<(usize, f64)> = a.iter().cloned().enumerate().collect();
        top.sort_by(|p, q| q.1.total_cmp(&p.1));
        let top: Vec<String> = top.iter().take(5).map(|(i, v)| format!("#{i} {v:.4}")).collect();
        println!(
            "  {} {}: z{} = W{}a{} + b{} (W {}×{}), f = {}; z ∈ [{zmin:.3}, {zmax:.3}]",
            lang.pick("layer", "第"),
            l + 1,
            l + 1,
            l + 1,
            l,
            l + 1,
            layer.outputs,
            layer.inputs,
            layer.activation
        );
        if matches!(layer.activation, Activation::Relu | Activation::LeakyRelu { .. }) {
            let active = z.iter().filter(|&&v| v > 0.0).count();
            println!("    {} {active} / {}", lang.pick("neurons active (z > 0):", "激活的神经元（z > 0）："), z.len());
        }
        println!("    {} {}", lang.pick("largest activations a:", "最大的激活值 a："), top.join(", "));
    }
    let classes = model.info.classes.clone().unwrap_or_else(|| (0..net.outputs()).map(|c| c.to_string()).collect());
    let mut probs: Vec<(usize, f64)> = out.iter().cloned().enumerate().collect();
    probs.sort_by(|p, q| q.1.total_cmp(&p.1));
    println!();
    println!("{}", lang.pick("Output (probabilities, largest first):", "输出（概率，从大到小）："));
    for (c, p) in probs.iter().take(5) {
        let bar = "█".repeat((p * 40.0).round() as usize);
        println!("  {:>3}  {:6.2}%  {bar}", classes.get(*c).map_or("?", String::as_str), p * 100.0);
    }
    println!("  {} {}", lang.pick("prediction:", "预测："), classes.get(predicted).map_or("?", String::as_str));
    println!();
    println!(
        "{} {} {}",
        lang.pick("Backpropagation for the label", "以标签"),
        classes.get(label).map_or("?", String::as_str),
        lang.pick("(δ⁽ˡ⁾ = (W⁽ˡ⁺¹⁾)ᵀδ⁽ˡ⁺¹⁾ ⊙ f′(z⁽ˡ⁾)):", "反向传播（δ⁽ˡ⁾ = (W⁽ˡ⁺¹⁾)ᵀδ⁽ˡ⁺¹⁾ ⊙ f′(z⁽ˡ⁾)）："),
    );
    println!("  L = {:.6}", t.loss);
    for l in (0..net.layers.len()).rev() {
        let norm = |v: &[f64]| v.iter().map(|x| x * x).sum::<f64>().sqrt();
        let gw: f64 = t.grad_w[l].iter().map(|r| r.iter().map(|x| x * x).sum::<f64>()).sum::<f64>().sqrt();
        let (mut bj, mut bi, mut bv) = (0, 0, 0.0f64);
        for (j, r) in t.grad_w[l].iter().enumerate() {
            for (i, &g) in r.iter().enumerate() {
                if g.abs() > bv.abs() {
                    (bj, bi, bv) = (j, i, g);
                }
            }
        }
        println!(
            "  {} {}: ‖δ{}‖ = {:.3e}, ‖∂L/∂W{}‖ = {gw:.3e}, ‖∂L/∂b{}‖ = {:.3e}; {} ∂L/∂W{}[{bj}][{bi}] = {bv:.3e}",
            lang.pick("layer", "第"),
            l + 1,
            l + 1,
            norm(&s.delta[l]),
            l + 1,
            l + 1,
            norm(&t.grad_b[l]),
            lang.pick("largest", "最大的"),
            l + 1
        );
    }
    let norm = |v: &[f64]| v.iter().map(|x| x * x).sum::<f64>().sqrt();
    let mut conv = grads.conv_weights.len();
    for (k, f) in net.features.iter().enumerate().rev() {
        if let Feature::Conv(_) = f {
            conv -= 1;
            println!(
                "  {} {}: ‖∂L/∂W‖ = {:.3e}, ‖∂L/∂b‖ = {:.3e} ({})",
                lang.pick("convolution", "卷积层"),
                k + 1,
                norm(&grads.conv_weights[conv]),
                norm(&grads.conv_bias[conv]),
                lang.pick(
                    "∂L/∂W: the correlation of the layer's input with δ; δ below: δ convolved with the flipped kernels, ⊙ f′(z)",
                    "∂L/∂W：该层输入与 δ 的互相关；下一层的 δ：δ 与翻转的卷积核做卷积，再 ⊙ f′(z)"
                )
            );
        }
    }
    Ok(())
}
