//! The first layer's products on real MNIST batches, sparse (blank pixels skipped) beside dense:
//! forward `Z = X·Wᵀ` and backward `∂L/∂W = δᵀX`, as training calls them on one thread (a
//! one-thread run, or each half of a batch split between two threads). With `--threads 2`, two
//! threads run their own halves at once, as a two-thread run does, and the time is for both.
//! GFLOP/s are counted at the dense product's FLOPs (an effective rate for the sparse products),
//! beside the core's measured FMA peak; for the listed products also the FLOPs their register
//! tiles actually issue (per listed row and group of 4 inputs, 4 × 64 multiply-adds per block of
//! 64 outputs, zeros within a group and padding included), whose share of the peak is the one to
//! compare between CPUs. "dW listing" is the part of "dW sparse" that lists the nonzero inputs
//! (`SparseScratch::list_inputs`). "fwd held" and "dW held" are the products on `W` and `∂L/∂W`
//! held packed, as training holds the first layer's during an epoch (listing included); "fwd
//! product" and "dW product" are the same products alone, from a listing made before the timing:
//! the register tiles' own rate. The peak is measured again (a few milliseconds) after each
//! repetition, and each share of the peak is the median over repetitions of the rate in that
//! repetition over the peak measured just after it: a VM's speed drifts from second to second,
//! the same for both. Prints a table and one JSON line.
//!
//! Run: `cargo run --release --example bench_sparse -- [--threads 1|2] [--reps 7] [--min-seconds 0.2]
//! [--only "fwd held,dW held"] [--outputs 128,800] [--fastest]` (MNIST from the cache, as `neuralnet fetch mnist` leaves it).

use neuralnet::data::mnist;
use neuralnet::kernels::{
    Operand, PackedWeights, SparseScratch, fma_peak_gflops_over, matmul, matmul_sparse_dt_x, matmul_sparse_dt_x_packed,
    matmul_sparse_rows, matmul_sparse_x_listed_in, matmul_sparse_x_packed, matmul_sparse_x_wt, pack_rows, packed_len,
};
use std::time::Instant;

struct Args {
    threads: usize,
    reps: usize,
    min_seconds: f64,
    batch: usize,
    /// The products to time (default: all).
    only: Option<Vec<String>>,
    /// The layer widths to time them at.
    outputs: Vec<usize>,
    /// Report the fastest repetition rather than the median (for a VM whose speed comes and goes).
    fastest: bool,
}

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        threads: 1,
        reps: 7,
        min_seconds: 0.2,
        batch: 128,
        only: None,
        outputs: vec![128, 800, 1024],
        fastest: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--threads" => a.threads = value()?.parse().map_err(|e| format!("--threads: {e}"))?,
            "--batch" => a.batch = value()?.parse().map_err(|e| format!("--batch: {e}"))?,
            "--reps" => a.reps = value()?.parse().map_err(|e| format!("--reps: {e}"))?,
            "--min-seconds" => a.min_seconds = value()?.parse().map_err(|e| format!("--min-seconds: {e}"))?,
            "--fastest" => a.fastest = true,
            "--only" => a.only = Some(value()?.split(',').map(|p| p.trim().to_string()).collect()),
            "--outputs" => {
                a.outputs = value()?
                    .split(',')
                    .map(|n| n.trim().parse().map_err(|e| format!("--outputs: {e}")))
                    .collect::<Result<_, _>>()?
            }
            _ => return Err(format!("unknown argument {flag}")),
        }
    }
    if a.outputs.iter().any(|&n| n == 0 || n > 4096) {
        return Err("--outputs: each width must be 1 to 4096".into());
    }
    if !(1..=2).contains(&a.threads) {
        return Err("--threads must be 1 or 2".into());
    }
    if a.batch < 16 * a.threads || a.batch > 256 * a.threads {
        return Err("--batch must give each thread 16 to 256 rows".into());
    }
    Ok(a)
}

/// One thread's share of the work: its rows of X and δ, and its own output and scratch.
struct Part {
    x: Vec<f32>,
    delta: Vec<f32>,
    w: Vec<f32>,
    wt: Vec<f32>,
    packed: PackedWeights,
    /// `W` as training holds the first layer's during an epoch ([`pack_rows`]).
    held: Vec<f32>,
    out: Vec<f32>,
    scratch: SparseScratch<f32>,
    rows: usize,
}

const K: usize = 784;

impl Part {
    fn new(pixels: &[u8], first: usize, rows: usize, n: usize) -> Self {
        // Batch rows as a shuffled epoch draws them: spread over the training set.
        let images = pixels.len() / K;
        let x: Vec<f32> = (0..rows)
            .flat_map(|r| {
                let i = ((first + r) * 7919) % images;
                pixels[i * K..(i + 1) * K].iter().map(|&p| p as f32 / 255.0)
            })
            .collect();
        let fill = |len: usize, f: f32| (0..len).map(|i| ((i as f32) * f).sin() * 0.05).collect::<Vec<f32>>();
        let w = fill(n * K, 0.11);
        let wt = (0..K * n).map(|i| w[(i % n) * K + i / n]).collect();
        let packed = PackedWeights::new(&w, n, K).expect("AVX-512F");
        let mut held = vec![0.0; packed_len(n, K)];
        pack_rows(&w, n, K, &mut held);
        // Every product that lists lists these rows: the listing made here holds whatever ran.
        let mut scratch = SparseScratch::new(K, rows);
        assert!(scratch.list_inputs(&x, rows, K));
        Part {
            held,
            x,
            wt,
            packed,
            delta: fill(rows * n, 0.73),
            w,
            out: vec![0.0; (rows * n).max(packed_len(n, K))],
            scratch,
            rows,
        }
    }

    fn run(&mut self, kind: &str, n: usize) {
        let (rows, x, d, w) = (self.rows, &self.x, &self.delta, &self.w);
        match kind {
            "fwd sparse" => assert!(matmul_sparse_x_wt(x, rows, K, w, n, &mut self.out, &mut self.scratch)),
            "fwd packed" => {
                assert!(matmul_sparse_x_packed(x, rows, 0.0, &self.packed, &mut self.out, &mut self.scratch, &[]))
            }
            "fwd tiles" => matmul_sparse_rows(x, rows, K, 0.0, &self.wt, n, &mut self.out, 1),
            "fwd dense" => matmul(rows, n, K, Operand::plain(x), Operand::t(w), &mut self.out, false, 1),
            "fwd held" => {
                assert!(self.scratch.list_inputs(x, rows, K));
                matmul_sparse_x_listed_in(&self.held, n, K, &mut self.out, &mut self.scratch);
            }
            "fwd product" => matmul_sparse_x_listed_in(&self.held, n, K, &mut self.out, &mut self.scratch),
            "dW product" => matmul_sparse_dt_x_packed(d, n, 0, n, &mut self.out, &[&self.scratch]),
            "dW sparse" => assert!(matmul_sparse_dt_x(d, x, rows, K, n, &mut self.out, &mut self.scratch)),
            "dW held" => {
                assert!(self.scratch.list_inputs(x, rows, K));
                matmul_sparse_dt_x_packed(d, n, 0, n, &mut self.out, &[&self.scratch]);
            }
            "dW listing" => assert!(self.scratch.list_inputs(x, rows, K)),
            _ => matmul(n, K, rows, Operand::t(d), Operand::plain(x), &mut self.out, false, 1),
        }
    }
}

/// FLOPs the listed products' register tiles issue on these rows: per row and group of 4 inputs
/// with any nonzero, 4 × 64 multiply-adds per block of 64 outputs.
fn listed_flops(x: &[f32], n: usize) -> f64 {
    let pairs: usize = x.chunks_exact(K).map(|row| row.chunks(4).filter(|g| g.iter().any(|&v| v != 0.0)).count()).sum();
    (pairs * n.div_ceil(64) * 4 * 64 * 2) as f64
}

/// Rounds of the short peak measurement taken after each repetition.
const PEAK_ITERS: u64 = 1_000_000;

/// One product's timing: median (or, `fastest`, least) seconds per call (per pair of concurrent
/// calls with two threads), and each repetition's seconds beside the peak (GFLOP/s, all threads)
/// measured right after it.
struct Timing {
    seconds: f64,
    reps: Vec<(f64, f64)>,
}

impl Timing {
    /// The median over repetitions of `flops` per call at that repetition's speed over the peak
    /// measured after it.
    fn share(&self, flops: f64) -> f64 {
        let mut shares: Vec<f64> = self.reps.iter().map(|&(s, peak)| flops / s / 1e9 / peak).collect();
        shares.sort_by(f64::total_cmp);
        shares[shares.len() / 2]
    }

    /// The greatest of those shares (the best repetition).
    fn best_share(&self, flops: f64) -> f64 {
        self.reps.iter().map(|&(s, peak)| flops / s / 1e9 / peak).fold(f64::NAN, f64::max)
    }

    /// The median peak over repetitions.
    fn peak(&self) -> f64 {
        let mut peaks: Vec<f64> = self.reps.iter().map(|r| r.1).collect();
        peaks.sort_by(f64::total_cmp);
        peaks[peaks.len() / 2]
    }
}

/// Times `kind` on every part at once, `reps` times, the peak measured after each.
fn measure(parts: &mut [Part], kind: &str, n: usize, reps: usize, min_s: f64, fastest: bool) -> Timing {
    let run_all = |parts: &mut [Part], calls: usize| {
        std::thread::scope(|s| {
            let mut it = parts.iter_mut();
            let first = it.next().unwrap();
            for p in it {
                s.spawn(move || (0..calls).for_each(|_| p.run(kind, n)));
            }
            (0..calls).for_each(|_| first.run(kind, n));
        })
    };
    let t0 = Instant::now();
    let mut calls = 0;
    while t0.elapsed().as_secs_f64() < min_s / 2.0 {
        run_all(parts, 10);
        calls += 10;
    }
    let per_batch = calls.max(10);
    let threads = parts.len() as f64;
    let reps: Vec<(f64, f64)> = (0..reps)
        .map(|_| {
            let t = Instant::now();
            run_all(parts, per_batch);
            let s = t.elapsed().as_secs_f64() / per_batch as f64;
            (s, fma_peak_gflops_over(PEAK_ITERS).unwrap_or(f64::NAN) * threads)
        })
        .collect();
    let mut times: Vec<f64> = reps.iter().map(|r| r.0).collect();
    times.sort_by(f64::total_cmp);
    let seconds = if fastest { times[0] } else { times[times.len() / 2] };
    Timing { seconds, reps }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = parse_args()?;
    let idx = mnist::load_dir(&mnist::default_cache_dir())?;
    let pixels = &idx.train_images.pixels;
    let batch = args.batch;
    let rows = batch / args.threads;
    println!(
        "first layer, batch {batch} on {} thread(s) ({rows} rows each); shares of the FMA peak measured beside each repetition{}",
        args.threads,
        if args.fastest { " (best repetition)" } else { " (medians)" }
    );
    println!(
        "| product | outputs | µs per batch | GFLOP/s (dense-equivalent) | % of peak | GFLOP/s issued (listed) | % of peak | peak GFLOP/s |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    let mut json = Vec::new();
    for &n in &args.outputs {
        let mut parts: Vec<Part> = (0..args.threads).map(|t| Part::new(pixels, t * rows, rows, n)).collect();
        let issued: f64 = parts.iter().map(|p| listed_flops(&p.x, n)).sum();
        for kind in [
            "fwd dense",
            "fwd sparse",
            "fwd packed",
            "fwd held",
            "fwd tiles",
            "fwd product",
            "dW dense",
            "dW sparse",
            "dW held",
            "dW product",
            "dW listing",
        ]
        .into_iter()
        .filter(|k| args.only.as_ref().is_none_or(|only| only.iter().any(|o| o == k)))
        {
            let timing = measure(&mut parts, kind, n, args.reps, args.min_seconds, args.fastest);
            let (s, peak) = (timing.seconds, timing.peak());
            let dense = 2.0 * (batch * n * K) as f64;
            let gflops = dense / s / 1e9;
            let listed = matches!(
                kind,
                "fwd sparse" | "fwd packed" | "fwd held" | "fwd product" | "dW sparse" | "dW held" | "dW product"
            );
            let share = |flops: f64| if args.fastest { timing.best_share(flops) } else { timing.share(flops) };
            let actual = if listed { issued / s / 1e9 } else { f64::NAN };
            let actual_cells =
                if listed { format!("{actual:.0} | {:.0}%", 100.0 * share(issued)) } else { "– | –".to_string() };
            println!(
                "| {kind} | {n} | {:.1} | {gflops:.0} | {:.0}% | {actual_cells} | {peak:.0} |",
                s * 1e6,
                100.0 * share(dense)
            );
            let actual_json = if listed {
                format!(",\"issued_gflops\":{actual:.1},\"issued_share\":{:.3}", share(issued))
            } else {
                String::new()
            };
            json.push(format!(
                "{{\"product\":\"{kind}\",\"outputs\":{n},\"us\":{:.2},\"gflops\":{gflops:.1},\"peak_gflops\":{peak:.1}{actual_json}}}",
                s * 1e6
            ));
        }
    }
    println!("{{\"threads\":{},\"batch\":{batch},\"results\":[{}]}}", args.threads, json.join(","));
    Ok(())
}
