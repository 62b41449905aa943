//! Each convolution of the LeNet-like network, timed alone on one thread, as a share of the core's
//! measured FMA peak (part of `scripts/bench-vs-pytorch.sh`; issue 21).
//!
//! The layers are those of `--arch conv:32:5:same,pool:2,conv:64:5:same,pool:2,dense:1024,dense:10`:
//! conv1 1×28×28 → 32×28×28 and conv2 32×14×14 → 64×14×14, 5×5 kernels. Each pass runs on 64
//! samples, the half batch one training thread takes of a batch of 128:
//!
//! * `fwd`: `Conv2d::forward` (unfold the patches, `Z = W·X̂`, `+ b`, ReLU);
//! * `dW`: `Conv2d::backward` without `∂L/∂x` (unfold again, `∂L/∂W += δ·X̂ᵀ`, `∂L/∂b`);
//! * `dX`: the whole `Conv2d::backward` with `∂L/∂x` (δ unfolded, times the flipped kernels), less
//!   `dW`. Training never asks it of the first convolution (its input is the image), so conv1's
//!   `dX` is shown for completeness only.
//!
//! Each is `2·O·C·k²·H′W′` FLOPs per sample; the share of peak counts only those. Prints one JSON
//! line. Run: `cargo run --release --example bench_conv -- [--reps 7] [--min-seconds 0.3]`

use neuralnet::Activation;
use neuralnet::conv::{Conv2d, ConvScratch, Maps, Padding};
use neuralnet::kernels::fma_peak_gflops;
use std::time::Instant;

/// Median seconds of one call of `f`, over `reps` timed runs of at least `min_s` seconds each.
fn time(mut f: impl FnMut(), reps: usize, min_s: f64) -> f64 {
    f();
    let t0 = Instant::now();
    let mut calls = 0usize;
    while t0.elapsed().as_secs_f64() < min_s / 2.0 {
        f();
        calls += 1;
    }
    let per = ((calls as f64 * min_s / t0.elapsed().as_secs_f64()).ceil() as usize).max(1);
    let mut runs: Vec<f64> = (0..reps)
        .map(|_| {
            let t = Instant::now();
            for _ in 0..per {
                f();
            }
            t.elapsed().as_secs_f64() / per as f64
        })
        .collect();
    runs.sort_by(f64::total_cmp);
    runs[runs.len() / 2]
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (mut reps, mut min_s, batch) = (7usize, 0.3f64, 64usize);
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let v = it.next().ok_or_else(|| format!("{a} needs a value"))?;
        match a.as_str() {
            "--reps" => reps = v.parse()?,
            "--min-seconds" => min_s = v.parse()?,
            _ => return Err(format!("unknown option {a}").into()),
        }
    }
    let peak = fma_peak_gflops();
    let fill = |len: usize, f: f32| (0..len).map(|i| ((i as f32) * f).sin() * 0.1).collect::<Vec<f32>>();
    let mut rows = Vec::new();
    for (name, input, out) in [("conv1", Maps::new(1, 28, 28), 32), ("conv2", Maps::new(32, 14, 14), 64)] {
        let mut conv = Conv2d::<f32>::zeros(input, out, 5, Padding::Same, Activation::Relu)?;
        conv.weights = fill(conv.weights.len(), 0.37);
        let o = conv.output();
        let x = fill(batch * input.len(), 0.11);
        let delta = fill(batch * o.len(), 0.73);
        let (mut z, mut a) = (vec![0.0f32; batch * o.len()], vec![0.0f32; batch * o.len()]);
        let (mut gw, mut gb) = (vec![0.0f32; conv.weights.len()], vec![0.0f32; out]);
        let mut gx = vec![0.0f32; batch * input.len()];
        let mut scratch = ConvScratch::new(&conv, true);
        let flop = 2.0 * (out * conv.patch_len() * o.area() * batch) as f64;
        let fwd = time(|| conv.forward(&x, batch, &mut z, &mut a, &mut scratch), reps, min_s);
        let dw = time(|| conv.backward(&x, &delta, batch, &mut gw, &mut gb, None, &mut scratch), reps, min_s);
        let both =
            time(|| conv.backward(&x, &delta, batch, &mut gw, &mut gb, Some(&mut gx), &mut scratch), reps, min_s);
        std::hint::black_box((&z, &a, &gw, &gb, &gx));
        for (pass, secs) in [("fwd", fwd), ("dW", dw), ("dX", (both - dw).max(1e-12))] {
            let gflops = flop / secs / 1e9;
            let share = peak.map(|p| gflops / p);
            eprintln!(
                "{name} {pass:>3} ({}×{}×{} per sample, {batch} samples): {:.3} ms, {gflops:.1} GFLOP/s{}",
                out,
                o.area(),
                conv.patch_len(),
                secs * 1e3,
                share.map_or(String::new(), |s| format!(", {:.0}% of the measured peak", s * 100.0))
            );
            rows.push(serde_json::json!({
                "layer": name, "pass": pass, "m": out, "n": o.area(), "k": conv.patch_len(), "batch": batch,
                "ms": secs * 1e3, "gflops": gflops, "share_of_peak": share,
            }));
        }
    }
    println!("{}", serde_json::json!({ "measured_peak_1core_gflops": peak, "rows": rows }));
    Ok(())
}
