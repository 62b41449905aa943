//! `neuralnet neuron`: the article's one-neuron decision, `z = wᵀx + b`, `a = f(z)`.

use super::lang;
use anyhow::{Result, bail};
use clap::Args;
use neuralnet::Activation;
use neuralnet::plot::Lang;
use neuralnet::plot::notation::Digits;

/// Arguments of `neuron`.
#[derive(Args, Debug)]
pub struct NeuronArgs {
    /// Input values, comma-separated (default: the whole truth table of 0/1 inputs).
    #[arg(long, value_delimiter = ',', allow_hyphen_values = true)]
    input: Option<Vec<f64>>,
    /// Weights w (default: the article's festival, 6,2,2).
    #[arg(long, value_delimiter = ',', allow_hyphen_values = true)]
    weights: Option<Vec<f64>>,
    /// Bias b (default 1).
    #[arg(long, allow_hyphen_values = true)]
    bias: Option<f64>,
    /// Activation: step:T, sigmoid:k,c, relu, tanh, … (default step:5).
    #[arg(long)]
    activation: Option<String>,
    /// Language (default: from the locale).
    #[arg(long, value_parser = lang::parser())]
    lang: Option<Lang>,
}

/// How `neuron` writes numbers: six decimals, trailing zeros trimmed.
const DIGITS: Digits = Digits::Decimals(6);

pub fn run(args: NeuronArgs) -> Result<()> {
    let lang = args.lang.unwrap_or_else(lang::from_env);
    let festival = args.weights.is_none();
    let w = args.weights.unwrap_or_else(|| vec![6.0, 2.0, 2.0]);
    let b = args.bias.unwrap_or(1.0);
    let f = Activation::parse(args.activation.as_deref().unwrap_or("step:5"))?;
    if f == Activation::Softmax {
        bail!("a single neuron has one output; softmax needs several (use step, sigmoid, relu, tanh, …)");
    }
    if w.is_empty() || w.len() > 16 {
        bail!("--weights needs 1 to 16 numbers, got {}", w.len());
    }
    if let Some(x) = &args.input
        && x.len() != w.len()
    {
        bail!("--input has {} values but there are {} weights", x.len(), w.len());
    }
    if w.iter().chain(args.input.iter().flatten()).chain([&b]).any(|v| !v.is_finite()) {
        bail!("weights, bias and inputs must be finite numbers");
    }
    if festival {
        print_festival(lang);
    }
    let ws: Vec<String> = w.iter().map(|&v| DIGITS.num(v)).collect();
    println!("  w = [{}], b = {}, f = {f}", ws.join(", "), DIGITS.num(b));
    println!("  z = wᵀx + b, a = f(z)");
    println!();
    match &args.input {
        Some(x) => show(&w, b, f, x, festival, lang),
        None => {
            let n = w.len();
            for bits in 0..(1u32 << n) {
                let x: Vec<f64> = (0..n).map(|i| f64::from((bits >> (n - 1 - i)) & 1)).collect();
                show(&w, b, f, &x, festival, lang);
            }
        }
    }
    println!();
    print_meaning(&w, b, f, lang);
    Ok(())
}

/// The article's story behind the default weights.
fn print_festival(lang: Lang) {
    let names_en = ["the weather is good", "your partner comes along", "it is near public transport"];
    let names_zh = ["天气好", "男/女朋友陪你去", "靠近公共交通站点"];
    println!("{}", lang.pick("The cheese festival (article §2): go or not?", "奶酪节（文章第 2 节）：去还是不去？"));
    for i in 0..3 {
        println!("  x{} = 1 {} {}", i + 1, lang.pick("if", "表示"), lang.pick(names_en[i], names_zh[i]));
    }
}

/// One input row: `z`, `a` and (for the festival) the verdict.
fn show(w: &[f64], b: f64, f: Activation, x: &[f64], festival: bool, lang: Lang) {
    let z: f64 = w.iter().zip(x).map(|(w, x)| w * x).sum::<f64>() + b;
    let a = f.value(z);
    let terms: Vec<String> = w.iter().zip(x).map(|(w, x)| format!("{}·{}", DIGITS.num(*w), DIGITS.num(*x))).collect();
    let verdict = match f {
        Activation::Step { .. } if festival => {
            if a > 0.5 {
                lang.pick("  → go", "  → 去")
            } else {
                lang.pick("  → stay home", "  → 不去")
            }
        }
        _ => "",
    };
    println!(
        "  x = [{}]: z = {} + {} = {}, a = {f}({}) = {}{verdict}",
        x.iter().map(|&v| DIGITS.num(v)).collect::<Vec<_>>().join(", "),
        terms.join(" + "),
        DIGITS.num(b),
        DIGITS.num(z),
        DIGITS.num(z),
        DIGITS.num(a)
    );
    if !(z.is_finite() && a.is_finite()) {
        println!(
            "  {}",
            lang.pick(
                "(z is past the largest number a float holds, about 1.8e308: the products overflowed)",
                "（z 超出了浮点数能表示的最大值，约 1.8e308：乘积溢出了）"
            )
        );
    }
}

/// What the neuron computes, in words: a weighted vote and its hyperplane.
fn print_meaning(w: &[f64], b: f64, f: Activation, lang: Lang) {
    let hyper: Vec<String> = w.iter().enumerate().map(|(i, v)| format!("{}·x{}", DIGITS.num(*v), i + 1)).collect();
    match f {
        Activation::Step { threshold } => {
            println!(
                "  {}",
                lang.pick("A weighted vote: each input votes with its weight, the bias is a head start, and the neuron fires (1) when the total z is above the threshold.",
                    "加权投票：每个输入按其权重投票，偏置是起始分，总分 z 超过阈值时神经元输出 1。"
                )
            );
            println!(
                "  {} {} + {} = {}",
                lang.pick("A hyperplane: the boundary", "超平面：分界面"),
                hyper.join(" + "),
                DIGITS.num(b),
                DIGITS.num(threshold)
            );
            println!(
                "  {}",
                lang.pick(
                    "splits the input space in two; its slope is set by the weights, its offset by the bias.",
                    "把输入空间一分为二；其斜率由权重决定，截距由偏置决定。"
                )
            );
            println!(
                "  {}",
                lang.pick("The step's derivative is 0 wherever it exists, so gradient descent cannot train it; a steep sigmoid 1/(1+e^(−k(z−t))) approaches it as k grows (try --activation sigmoid:100,5).",
                    "阶跃函数的导数处处为 0（在可导处），梯度下降无法训练它；陡峭的 sigmoid 1/(1+e^(−k(z−t))) 在 k 增大时逼近它（试试 --activation sigmoid:100,5）。"
                )
            );
        }
        _ => {
            println!(
                "  {} {} + {} = 0 {}",
                lang.pick("The neuron's level sets are hyperplanes: z =", "神经元的等值面是超平面：z ="),
                hyper.join(" + "),
                DIGITS.num(b),
                lang.pick("is one of them; f then bends z into the output.", "是其中之一；f 再把 z 变换为输出。")
            );
        }
    }
}
