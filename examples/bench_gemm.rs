//! GEMM efficiency on the MLP shapes (part of `scripts/bench-vs-pytorch.sh`).
//!
//! Calls `neuralnet::kernels::matmul` exactly as `Dense::forward`/`Dense::backward` do, for batch
//! 128 (and Nielsen's batch 10): `fwd` = `Z = X·Wᵀ` (batch×out×in), `dW` = `δᵀ·X` (out×in×batch),
//! `dX` = `δ·W` (batch×in×out). With T > 1 threads the calls run inside a rayon pool of T threads,
//! as `Trainer::install` arranges for training. Also re-measures the FMA peak (one core and all
//! cores) with `kernels::fma_peak_gflops`. Prints one JSON line.
//!
//! Run: `cargo run --release --example bench_gemm -- [--threads 1,2] [--min-seconds 0.1] [--reps 7]`

use neuralnet::kernels::{Operand, fma_peak_gflops, matmul};
use std::time::Instant;

struct Shape {
    name: String,
    m: usize,
    n: usize,
    k: usize,
    kind: &'static str,
}

fn shapes() -> Vec<Shape> {
    let mut v = Vec::new();
    for (batch, inp, out) in
        [(128, 784, 128), (128, 128, 10), (128, 784, 800), (128, 800, 10), (10, 784, 30), (10, 30, 10)]
    {
        let label = format!("{inp}->{out} b{batch}");
        v.push(Shape { name: format!("fwd {label}"), m: batch, n: out, k: inp, kind: "fwd" });
        v.push(Shape { name: format!("dW {label}"), m: out, n: inp, k: batch, kind: "dW" });
        v.push(Shape { name: format!("dX {label}"), m: batch, n: inp, k: out, kind: "dX" });
    }
    v
}

/// Median GFLOP/s of `reps` timed batches of calls, each batch lasting at least `min_s` seconds.
fn measure(s: &Shape, threads: usize, reps: usize, min_s: f64) -> f64 {
    let fill = |len: usize, f: f32| (0..len).map(|i| ((i as f32) * f).sin()).collect::<Vec<f32>>();
    // Buffers shaped as the layer has them: X batch×in, W out×in, δ batch×out.
    let (batch, inp, out) = match s.kind {
        "fwd" => (s.m, s.k, s.n),
        "dW" => (s.k, s.n, s.m),
        _ => (s.m, s.n, s.k),
    };
    let x = fill(batch * inp, 0.37);
    let w = fill(out * inp, 0.11);
    let d = fill(batch * out, 0.73);
    let mut c = vec![0.0f32; s.m * s.n];
    let call = |c: &mut [f32]| match s.kind {
        "fwd" => matmul(batch, out, inp, Operand::plain(&x), Operand::t(&w), c, false, threads),
        "dW" => matmul(out, inp, batch, Operand::t(&d), Operand::plain(&x), c, false, threads),
        _ => matmul(batch, inp, out, Operand::plain(&d), Operand::plain(&w), c, false, threads),
    };
    let flop = 2.0 * (s.m * s.n * s.k) as f64;
    // Calibrate the number of calls per timed batch.
    let t0 = Instant::now();
    let mut calls = 0usize;
    while t0.elapsed().as_secs_f64() < min_s / 2.0 {
        call(&mut c);
        calls += 1;
    }
    let per_batch = ((calls as f64 * min_s / t0.elapsed().as_secs_f64()).ceil() as usize).max(1);
    let mut rates: Vec<f64> = (0..reps)
        .map(|_| {
            let t = Instant::now();
            for _ in 0..per_batch {
                call(&mut c);
            }
            flop * per_batch as f64 / t.elapsed().as_secs_f64() / 1e9
        })
        .collect();
    std::hint::black_box(&c);
    rates.sort_by(f64::total_cmp);
    rates[rates.len() / 2]
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (mut threads, mut min_s, mut reps) = (vec![1usize, 2], 0.1f64, 7usize);
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let v = it.next().ok_or_else(|| format!("{a} needs a value"))?;
        match a.as_str() {
            "--threads" => threads = v.split(',').map(str::parse).collect::<Result<_, _>>()?,
            "--min-seconds" => min_s = v.parse()?,
            "--reps" => reps = v.parse()?,
            _ => return Err(format!("unknown option {a}").into()),
        }
    }
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let peak1 = fma_peak_gflops();
    // All cores at once: one FMA loop per pool thread, summed.
    let peak_all = {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(cores).build()?;
        let per: Vec<Option<f64>> = pool.broadcast(|_| fma_peak_gflops());
        per.into_iter().sum::<Option<f64>>()
    };

    let mut rows = Vec::new();
    for &t in &threads {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(t).build()?;
        pool.broadcast(|_| neuralnet::kernels::warm_up_threads::<f32>());
        pool.install(|| {
            for s in shapes() {
                let gflops = measure(&s, t, reps, min_s);
                eprintln!("{:>22} {}×{}×{} {t} thread(s): {gflops:.1} GFLOP/s", s.name, s.m, s.n, s.k);
                rows.push(serde_json::json!({
                    "shape": s.name, "kind": s.kind, "m": s.m, "n": s.n, "k": s.k, "threads": t, "gflops": gflops,
                }));
            }
        });
    }
    println!(
        "{}",
        serde_json::json!({
            "measured_peak_1core_gflops": peak1,
            "measured_peak_all_cores_gflops": peak_all,
            "cores": cores,
            "rows": rows,
        })
    );
    Ok(())
}
