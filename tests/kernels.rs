//! The kernels compiled for each instruction set (AVX-512, AVX2 + FMA, the baseline), in f32 and
//! f64, not only the widest this CPU has, each checked against a plain product.
//!
//! A trial for an instruction set this CPU lacks is reported as ignored, with the reason, rather
//! than passing without having checked anything: libtest cannot decide at run time that a test is
//! skipped, so this file runs its own harness (libtest-mimic; `harness = false` in Cargo.toml).

use libtest_mimic::{Arguments, Completion, Failed, Trial};
use neuralnet::Activation;
use neuralnet::kernels::{
    Float, Isa, Operand, PackedWeights, SparseScratch, matmul, matmul_sparse_dt_x, matmul_sparse_dt_x_packed,
    matmul_sparse_x_listed_in, matmul_sparse_x_packed, matmul_sparse_x_packed_relu, matmul_sparse_x_wt, pack_rows,
    packed_len, softmax_rows_short, sparse_tiles_on, unpack_rows,
};

fn main() {
    let args = Arguments::from_args();
    let mut trials = Vec::new();
    for (isa, name) in [(Isa::Avx512, "avx512"), (Isa::Avx2, "avx2"), (Isa::Baseline, "baseline")] {
        trials.push(on(isa, format!("sparse_tiles::{name}::f32"), move || {
            sparse_tiles_match_the_dense_product(isa, false)
        }));
        trials.push(on(isa, format!("sparse_tiles::{name}::f64"), move || {
            sparse_tiles_match_the_dense_product(isa, true)
        }));
    }
    trials.push(Trial::ignorable_test("sparse_x_wt::avx512f::f32", || match missing_avx512f() {
        Some(reason) => Ok(Completion::ignored_with(reason)),
        None => sparse_x_times_w_transposed_matches_the_dense_product().map(|()| Completion::Completed),
    }));
    trials.push(on(Isa::Avx512, "sparse_x_packed::avx512::f32".into(), packed_product_gives_the_four_row_tiles_bits));
    trials.push(Trial::ignorable_test("sparse_dt_x::avx512f::f32", || match missing_avx512f() {
        Some(reason) => Ok(Completion::ignored_with(reason)),
        None => sparse_weight_gradient_sums_in_row_order().map(|()| Completion::Completed),
    }));
    trials.push(Trial::ignorable_test("sparse_packed_layout::avx512f::f32", || match missing_avx512f() {
        Some(reason) => Ok(Completion::ignored_with(reason)),
        None => the_packed_layout_gives_the_row_layout_bits().map(|()| Completion::Completed),
    }));
    trials.push(Trial::test("pack_rows::round_trip", pack_rows_round_trips));
    trials.push(Trial::ignorable_test("softmax_rows_short::avx512f::f32", || match missing_avx512f() {
        Some(reason) => Ok(Completion::ignored_with(reason)),
        None => short_softmax_rows_give_the_row_by_row_bits().map(|()| Completion::Completed),
    }));
    libtest_mimic::run(&args, trials).exit();
}

/// A trial that runs `test` if this CPU has `isa`, and is reported as ignored otherwise.
fn on(isa: Isa, name: String, test: impl FnOnce() -> Result<(), Failed> + Send + 'static) -> Trial {
    Trial::ignorable_test(name, move || match missing(isa) {
        Some(reason) => Ok(Completion::ignored_with(reason)),
        None => test().map(|()| Completion::Completed),
    })
}

/// Why this CPU cannot run code compiled for `isa`, asked of the CPU itself (not of the library).
fn missing(isa: Isa) -> Option<&'static str> {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::is_x86_feature_detected as has;
        match isa {
            Isa::Avx512 if !(has!("avx512f") && has!("avx512vl") && has!("avx512bw") && has!("avx512dq")) => {
                Some("this CPU has no AVX-512 (F, VL, BW and DQ)")
            }
            Isa::Avx2 if !(has!("avx2") && has!("fma")) => Some("this CPU has no AVX2 and FMA"),
            _ => None,
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    match isa {
        Isa::Baseline => None,
        _ => Some("not an x86_64 CPU"),
    }
}

fn missing_avx512f() -> Option<&'static str> {
    #[cfg(target_arch = "x86_64")]
    {
        (!std::arch::is_x86_feature_detected!("avx512f")).then_some("this CPU has no AVX-512F")
    }
    #[cfg(not(target_arch = "x86_64"))]
    Some("not an x86_64 CPU")
}

fn naive(m: usize, n: usize, k: usize, a: &[f64], b: &[f64]) -> Vec<f64> {
    let mut c = vec![0.0; m * n];
    for i in 0..m {
        for j in 0..n {
            c[i * n + j] = (0..k).map(|p| a[i * k + p] * b[p * n + j]).sum();
        }
    }
    c
}

/// `sparse_tiles_on(isa)` against the plain product of `X − c` and `B`. f32 takes the vector listing
/// on AVX-512; shapes cover whole groups of tiles, a group cut short, leftover single rows, input
/// chunks ending off a multiple of 16, and column blocks of 64, 4 and 1. The f64 run takes the same
/// values, rounded to f32 first.
fn sparse_tiles_match_the_dense_product(isa: Isa, in_f64: bool) -> Result<(), Failed> {
    for (rows, k, n) in [(1, 16, 64), (5, 300, 133), (37, 784, 10), (70, 784, 128), (129, 47, 69)] {
        for c in [0.0f32, -0.42] {
            let x: Vec<f32> = (0..rows * k)
                .map(|i| if (i * 7 + i / k) % 5 == 0 { (i % 13) as f32 / 13.0 + 0.1 } else { c })
                .collect();
            let b: Vec<f32> = (0..k * n).map(|i| ((i * 31) % 17) as f32 / 17.0 - 0.5).collect();
            let shifted: Vec<f64> = x.iter().map(|&v| (v - c) as f64).collect();
            let want = naive(rows, n, k, &shifted, &b.iter().map(|&v| v as f64).collect::<Vec<_>>());
            let (got, tolerance): (Vec<f64>, f64) = if in_f64 {
                let (x64, b64): (Vec<f64>, Vec<f64>) =
                    (x.iter().map(|&v| v as f64).collect(), b.iter().map(|&v| v as f64).collect());
                let mut z = vec![9.0f64; rows * n];
                sparse_tiles_on(isa, &x64, k, c as f64, &b64, n, &mut z);
                (z, 1e-5)
            } else {
                let mut z = vec![9.0f32; rows * n];
                sparse_tiles_on(isa, &x, k, c, &b, n, &mut z);
                (z.iter().map(|&v| v as f64).collect(), 1e-4)
            };
            for (i, (&p, &q)) in got.iter().zip(&want).enumerate() {
                if (p - q).abs() >= tolerance {
                    return Err(format!("{isa:?} {rows}×{k}×{n}, c {c}, entry {i}: {p} vs {q}").into());
                }
            }
        }
    }
    Ok(())
}

/// `Σ x·y` over the terms with `x ≠ 0`, in order, one fused multiply-add at a time from zero:
/// the sum the sparse training products document.
fn fused_sum(terms: impl Iterator<Item = (f32, f32)>) -> f32 {
    terms.filter(|&(x, _)| x != 0.0).fold(0.0, |acc, (x, y)| x.mul_add(y, acc))
}

/// `matmul_sparse_x_wt` (AVX-512F only) against the dense product within rounding, and bit for
/// bit against the sum it documents. Rows: whole and partial tiles and groups of tiles; inputs: a
/// multiple of 16 and not (65: a last group of 1); outputs: whole blocks of 64 and partial ones.
fn sparse_x_times_w_transposed_matches_the_dense_product() -> Result<(), Failed> {
    // 300 rows: past the stage (256), through Z's own rows.
    for (rows, k, n) in [(16, 784, 32), (37, 100, 21), (130, 784, 10), (200, 65, 800), (300, 68, 70)] {
        let x: Vec<f32> =
            (0..rows * k).map(|i| if (i * 7 + i / k) % 6 == 0 { (i % 13) as f32 / 13.0 + 0.1 } else { 0.0 }).collect();
        let w: Vec<f32> = (0..n * k).map(|i| ((i * 31) % 17) as f32 / 17.0 - 0.5).collect();
        let mut want = vec![0.0f32; rows * n];
        matmul(rows, n, k, Operand::plain(&x), Operand::t(&w), &mut want, false, 1);
        // The documented order: over the nonzero inputs in increasing order.
        let exact: Vec<f32> = (0..rows * n)
            .map(|i| {
                let (r, o) = (i / n, i % n);
                fused_sum((0..k).map(|j| (x[r * k + j], w[o * k + j])))
            })
            .collect();
        let mut z = vec![f32::NAN; rows * n];
        let mut scratch = SparseScratch::<f32>::new(k, rows);
        if !matmul_sparse_x_wt(&x, rows, k, &w, n, &mut z, &mut scratch) {
            return Err(format!("{rows}×{k}×{n}: the sparse path should apply here").into());
        }
        for (i, ((&p, &q), &e)) in z.iter().zip(&want).zip(&exact).enumerate() {
            if (p - q).abs() >= 1e-4 || p.to_bits() != e.to_bits() {
                return Err(format!("{rows}×{k}×{n}, entry {i}: {p} vs {q} dense, {e} in input order").into());
            }
        }
        // A NaN input reaches its own row's outputs only; dense inputs are declined.
        let mut x2 = x.clone();
        x2[3 * k + 1] = f32::NAN;
        if !matmul_sparse_x_wt(&x2, rows, k, &w, n, &mut z, &mut scratch) {
            return Err(format!("{rows}×{k}×{n}: declined with a NaN input").into());
        }
        for (r, zr) in z.chunks(n).enumerate() {
            if !zr.iter().all(|v| v.is_nan() == (r == 3)) {
                return Err(format!("{rows}×{k}×{n}: a NaN in row 3, row {r}: {zr:?}").into());
            }
        }
        let dense = vec![0.5f32; rows * k];
        if matmul_sparse_x_wt(&dense, rows, k, &w, n, &mut z, &mut scratch) {
            return Err(format!("{rows}×{k}×{n}: dense inputs were taken").into());
        }
    }
    Ok(())
}

/// `matmul_sparse_x_packed` (AVX-512F only) bit for bit against the sum it documents (over the
/// inputs other than `c`, in increasing order, `(x − c)·w` one fused multiply-add at a time from
/// zero) and against the four-row tiles of `sparse_tiles_on(Avx512)`, which inference takes for
/// small batches: which of the two runs must change no bit. Background 0 and not; inputs a
/// multiple of 16 and not (65, 66: a last group of 1 or 2); outputs in whole and partial blocks
/// of 64; rows from 16 to past the stage (300); values read from `X` (background 0, at most 128 outputs)
/// and from the listing, in the stage and past it; groups of 4 inked in their first half only,
/// their second only, and both (the listing's three parts). The same with the bias and ReLU fused
/// (`matmul_sparse_x_packed_relu`) against the activation pass.
fn packed_product_gives_the_four_row_tiles_bits() -> Result<(), Failed> {
    // Whether the ReLU cases clamped some outputs and let others through.
    let (mut clamped, mut passed) = (false, false);
    for (rows, k, n) in [
        (16, 784, 32),
        (37, 100, 21),
        (128, 784, 800),
        (130, 65, 70),
        (300, 68, 130),
        (270, 96, 128),
        (260, 64, 100),
        (40, 66, 140),
    ] {
        for c in [0.0f32, -0.42] {
            // Single inked inputs every 6 (in either half of a group), and runs of 3 every 15
            // (both halves, or one).
            let x: Vec<f32> = (0..rows * k)
                .map(|i| {
                    if (i * 7 + i / k) % 6 == 0 || (i / 3 + i / k) % 5 == 0 { (i % 13) as f32 / 13.0 + 0.1 } else { c }
                })
                .collect();
            let w: Vec<f32> = (0..n * k).map(|i| ((i * 31) % 17) as f32 / 17.0 - 0.5).collect();
            let wt: Vec<f32> = (0..k * n).map(|i| w[(i % n) * k + i / n]).collect();
            let exact: Vec<f32> = (0..rows * n)
                .map(|i| {
                    let (r, o) = (i / n, i % n);
                    fused_sum((0..k).map(|j| (x[r * k + j] - c, w[o * k + j])))
                })
                .collect();
            let mut tiles = vec![f32::NAN; rows * n];
            sparse_tiles_on(Isa::Avx512, &x, k, c, &wt, n, &mut tiles);
            let packed = PackedWeights::new(&w, n, k).ok_or("no packed weights on an AVX-512 CPU")?;
            let mut z = vec![f32::NAN; rows * n];
            let mut scratch = SparseScratch::<f32>::new(k, rows);
            if !matmul_sparse_x_packed(&x, rows, c, &packed, &mut z, &mut scratch, &[]) {
                return Err(format!("{rows}×{k}×{n}, c {c}: the packed product should apply here").into());
            }
            for (i, ((&p, &t), &e)) in z.iter().zip(&tiles).zip(&exact).enumerate() {
                if p.to_bits() != e.to_bits() || p.to_bits() != t.to_bits() {
                    return Err(format!("{rows}×{k}×{n}, c {c}, entry {i}: {p}, tiles {t}, in input order {e}").into());
                }
            }
            // With the bias and ReLU on the way out of the stage: the activation pass's bits, for
            // batches that fit the stage (256 rows); larger ones are declined.
            let bias: Vec<f32> = (0..n).map(|o| ((o * 13) % 7) as f32 / 7.0 - 0.4).collect();
            let (mut biased, mut want_a) = (z.clone(), vec![0.0f32; rows * n]);
            Activation::Relu.forward_rows(&mut biased, &bias, &mut want_a);
            let mut a = vec![f32::NAN; rows * n];
            // With hints to fetch (these rows again, from an odd float): no bit changes.
            let took = matmul_sparse_x_packed_relu(&x, rows, c, &packed, &bias, &mut a, &mut scratch, &x[3..]);
            if took != (rows <= 256) {
                return Err(format!("{rows}×{k}×{n}, c {c}: the fused product took {rows} rows: {took}").into());
            }
            if took && a.iter().zip(&want_a).any(|(p, q)| p.to_bits() != q.to_bits()) {
                return Err(format!("{rows}×{k}×{n}, c {c}: bias and ReLU not the activation pass's bits").into());
            }
            clamped |= want_a.contains(&0.0);
            passed |= want_a.iter().any(|&v| v > 0.0);
            // Dense inputs are the caller's to judge: taken, with the same sums.
            let dense: Vec<f32> = x.iter().enumerate().map(|(i, &v)| if i % 3 == 0 { c + 0.5 } else { v }).collect();
            let dense_exact: Vec<f32> = (0..rows * n)
                .map(|i| {
                    let (r, o) = (i / n, i % n);
                    fused_sum((0..k).map(|j| (dense[r * k + j] - c, w[o * k + j])))
                })
                .collect();
            if !matmul_sparse_x_packed(&dense, rows, c, &packed, &mut z, &mut scratch, &x)
                || z.iter().zip(&dense_exact).any(|(p, e)| p.to_bits() != e.to_bits())
            {
                return Err(format!("{rows}×{k}×{n}, c {c}: dense inputs not summed as documented").into());
            }
        }
    }
    if !(clamped && passed) {
        return Err(format!("the ReLU cases should clamp some outputs and not others: {clamped}, {passed}").into());
    }
    // Scratch for fewer rows, or for another width, declines.
    let (w, x) = (vec![0.5f32; 4 * 64], vec![0.0f32; 32 * 64]);
    let packed = PackedWeights::new(&w, 4, 64).ok_or("no packed weights")?;
    for mut scratch in [SparseScratch::<f32>::new(64, 31), SparseScratch::new(80, 32)] {
        if matmul_sparse_x_packed(&x, 32, 0.0, &packed, &mut [0.0; 128], &mut scratch, &[]) {
            return Err("a scratch too small or of another width was used".into());
        }
    }
    Ok(())
}

/// `matmul_sparse_dt_x` (AVX-512F only) against the sum it documents, bit for bit: `G[o, j]`, one
/// fused multiply-add per row with `X[r, j] ≠ 0`, in increasing `r`, from zero; and against the
/// dense product within rounding. Rows: whole and partial tiles; inputs: multiples of 16, of 4
/// only, and not of 4 (a last group of 2); outputs: whole blocks of 64, partial ones,
/// fewer than 16.
fn sparse_weight_gradient_sums_in_row_order() -> Result<(), Failed> {
    // 300 rows: past the stage (256), through δ's own rows.
    for (rows, k, n) in
        [(16, 784, 128), (37, 100, 21), (130, 784, 10), (64, 68, 800), (200, 64, 130), (20, 66, 70), (300, 68, 70)]
    {
        let x: Vec<f32> =
            (0..rows * k).map(|i| if (i * 7 + i / k) % 6 == 0 { (i % 13) as f32 / 13.0 + 0.1 } else { 0.0 }).collect();
        let d: Vec<f32> = (0..rows * n).map(|i| ((i * 31) % 17) as f32 / 17.0 - 0.5).collect();
        // The documented order: over the rows with a nonzero input, in increasing order.
        let want: Vec<f32> = (0..n * k)
            .map(|i| {
                let (o, j) = (i / k, i % k);
                fused_sum((0..rows).map(|r| (x[r * k + j], d[r * n + o])))
            })
            .collect();
        let mut dense = vec![0.0f32; n * k];
        matmul(n, k, rows, Operand::t(&d), Operand::plain(&x), &mut dense, false, 1);
        let mut g = vec![f32::NAN; n * k];
        let mut scratch = SparseScratch::<f32>::new(k, rows);
        for _ in 0..2 {
            if !matmul_sparse_dt_x(&d, &x, rows, k, n, &mut g, &mut scratch) {
                return Err(format!("{rows}×{k}×{n}: the sparse path should apply here").into());
            }
            for (i, ((&p, &q), &r)) in g.iter().zip(&want).zip(&dense).enumerate() {
                if p.to_bits() != q.to_bits() || (p - r).abs() >= 1e-4 {
                    return Err(format!("{rows}×{k}×{n}, entry {i}: {p} vs {q} in row order, {r} dense").into());
                }
            }
        }
        // A NaN input reaches its own input's column only; dense inputs are declined.
        let mut x2 = x.clone();
        x2[3 * k + 1] = f32::NAN;
        if !matmul_sparse_dt_x(&d, &x2, rows, k, n, &mut g, &mut scratch) {
            return Err(format!("{rows}×{k}×{n}: declined with a NaN input").into());
        }
        for (i, v) in g.iter().enumerate() {
            if v.is_nan() != (i % k == 1) {
                return Err(format!("{rows}×{k}×{n}: a NaN in input 1, entry {i} is {v}").into());
            }
        }
        if matmul_sparse_dt_x(&d, &vec![0.5f32; rows * k], rows, k, n, &mut g, &mut scratch) {
            return Err(format!("{rows}×{k}×{n}: dense inputs were taken").into());
        }
    }
    Ok(())
}

/// `pack_rows` puts `W[o, j]` at block `o / 64`, row `j`, column `o % 64` (zeros past n and k),
/// and `unpack_rows` gives back the same bits, in f32 and f64.
fn pack_rows_round_trips() -> Result<(), Failed> {
    for (n, k) in [(1, 1), (10, 784), (64, 16), (130, 98), (800, 784)] {
        let w: Vec<f64> = (0..n * k).map(|i| (i as f64 * 0.37).sin()).collect();
        let mut p = vec![f64::NAN; packed_len(n, k)];
        pack_rows(&w, n, k, &mut p);
        let kp = k.next_multiple_of(16);
        if p.len() != n.div_ceil(64) * kp * 64 {
            return Err(format!("{n}×{k}: packed length {}", p.len()).into());
        }
        for (i, &v) in p.iter().enumerate() {
            let (b, j, c) = (i / (kp * 64), i / 64 % kp, i % 64);
            let o = 64 * b + c;
            let want = if o < n && j < k { w[o * k + j] } else { 0.0 };
            if v.to_bits() != want.to_bits() {
                return Err(format!("{n}×{k}: packed entry {i} (output {o}, input {j}) is {v}, not {want}").into());
            }
        }
        let mut back = vec![f64::NAN; n * k];
        unpack_rows(&p, n, k, &mut back);
        let w32: Vec<f32> = w.iter().map(|&v| v as f32).collect();
        let (mut p32, mut back32) = (vec![f32::NAN; p.len()], vec![f32::NAN; n * k]);
        pack_rows(&w32, n, k, &mut p32);
        unpack_rows(&p32, n, k, &mut back32);
        if back.iter().zip(&w).any(|(a, b)| a.to_bits() != b.to_bits())
            || back32.iter().zip(&w32).any(|(a, b)| a.to_bits() != b.to_bits())
        {
            return Err(format!("{n}×{k}: unpacking does not give W back").into());
        }
    }
    Ok(())
}

/// The products on `W` and `G` held packed (training's first layer during an epoch) give the
/// bits of the products on the row layout: `Z = X·Wᵀ` from `pack_rows(W)` as from `W`, and the
/// packed `∂L/∂W` (whole, or from the second block of 64 outputs on) is `pack_rows` of the
/// row-major one, zeros in its padding included.
fn the_packed_layout_gives_the_row_layout_bits() -> Result<(), Failed> {
    for (rows, k, n) in [(16, 784, 128), (37, 100, 21), (64, 68, 800), (200, 98, 130), (8, 66, 70), (300, 68, 70)] {
        let x: Vec<f32> =
            (0..rows * k).map(|i| if (i * 7 + i / k) % 6 == 0 { (i % 13) as f32 / 13.0 + 0.1 } else { 0.0 }).collect();
        let w: Vec<f32> = (0..n * k).map(|i| ((i * 29) % 23) as f32 / 23.0 - 0.5).collect();
        let d: Vec<f32> = (0..rows * n).map(|i| ((i * 31) % 17) as f32 / 17.0 - 0.5).collect();
        let mut wp = vec![0.0f32; packed_len(n, k)];
        pack_rows(&w, n, k, &mut wp);
        // Row layout: the sparse products where they apply (16 rows or more), else listed all
        // the same through the packed product's path.
        let mut scratch = SparseScratch::<f32>::new(k, rows.max(16));
        let (mut z_rows, mut z_packed) = (vec![f32::NAN; rows * n], vec![f32::NAN; rows * n]);
        if rows >= 16 && !matmul_sparse_x_wt(&x, rows, k, &w, n, &mut z_rows, &mut scratch) {
            return Err(format!("{rows}×{k}×{n}: the sparse product should apply here").into());
        }
        if !scratch.list_all_inputs(&x, rows, k) {
            return Err(format!("{rows}×{k}×{n}: listing declined").into());
        }
        matmul_sparse_x_listed_in(&wp, n, k, &mut z_packed, &mut scratch);
        if rows < 16 {
            let packed = PackedWeights::new(&w, n, k).ok_or("PackedWeights declined")?;
            if !matmul_sparse_x_packed(&x, rows, 0.0, &packed, &mut z_rows, &mut scratch, &[]) {
                return Err(format!("{rows}×{k}×{n}: the packed product declined").into());
            }
            // Its listing is the forward product's alone (in parts); the gradient's is listed again.
            if !scratch.list_all_inputs(&x, rows, k) {
                return Err(format!("{rows}×{k}×{n}: listing declined").into());
            }
        }
        if let Some(i) = (0..rows * n).find(|&i| z_rows[i].to_bits() != z_packed[i].to_bits()) {
            return Err(
                format!("{rows}×{k}×{n}: Z entry {i}: {} from W packed, {} from W", z_packed[i], z_rows[i]).into()
            );
        }
        let mut g = vec![f32::NAN; n * k];
        if rows >= 16 {
            if !matmul_sparse_dt_x(&d, &x, rows, k, n, &mut g, &mut scratch) {
                return Err(format!("{rows}×{k}×{n}: the sparse gradient should apply here").into());
            }
        } else {
            matmul(n, k, rows, Operand::t(&d), Operand::plain(&x), &mut g, false, 1);
        }
        let mut want = vec![0.0f32; packed_len(n, k)];
        pack_rows(&g, n, k, &mut want);
        let mut gp = vec![f32::NAN; packed_len(n, k)];
        matmul_sparse_dt_x_packed(&d, n, 0, n, &mut gp, &[&scratch]);
        let exact = rows >= 16;
        for (i, (&p, &q)) in gp.iter().zip(&want).enumerate() {
            if (exact && p.to_bits() != q.to_bits()) || (p - q).abs() >= 1e-4 {
                return Err(format!("{rows}×{k}×{n}: packed gradient entry {i}: {p}, not {q}").into());
            }
        }
        if n > 64 {
            let block = packed_len(64, k);
            let mut tail = vec![f32::NAN; gp.len() - block];
            matmul_sparse_dt_x_packed(&d, n, 64, n - 64, &mut tail, &[&scratch]);
            if tail.iter().zip(&gp[block..]).any(|(a, b)| a.to_bits() != b.to_bits()) {
                return Err(format!("{rows}×{k}×{n}: the gradient from output 64 on differs").into());
            }
        }
    }
    Ok(())
}

/// `softmax_rows_short` (AVX-512F only) bit for bit against the row-by-row definition (bias,
/// maximum skipping NaN, `exp`, the sum entry by entry, one division): widths 1 to 17 (17
/// declined), row counts with and without a partial block of 16, NaN, ∞, −0 and clamped entries.
fn short_softmax_rows_give_the_row_by_row_bits() -> Result<(), Failed> {
    // The definition, a row at a time, entry by entry.
    let reference = |z: &mut [f32], bias: &[f32], a: &mut [f32]| {
        for (zr, ar) in z.chunks_exact_mut(bias.len()).zip(a.chunks_exact_mut(bias.len())) {
            for (v, b) in zr.iter_mut().zip(bias) {
                *v += b;
            }
            let m = zr.iter().fold(f32::NEG_INFINITY, |m, &v| m.max(v));
            for (o, &v) in ar.iter_mut().zip(zr.iter()) {
                *o = v - m;
            }
            <f32 as Float>::exp_in_place(ar);
            let sum: f32 = ar.iter().sum();
            let inv = 1.0 / sum;
            for o in ar.iter_mut() {
                *o *= inv;
            }
        }
    };
    let same = |p: f32, q: f32| p.to_bits() == q.to_bits() || (p.is_nan() && q.is_nan());
    for width in 1..=17 {
        for rows in [1, 5, 16, 17, 40, 300] {
            let bias: Vec<f32> = (0..width).map(|j| (j as f32 * 0.7).sin()).collect();
            let z: Vec<f32> = (0..rows * width)
                .map(|i| match i % 23 {
                    5 => f32::NAN,
                    9 => f32::INFINITY,
                    13 => -0.0,
                    17 => -300.0,
                    _ => (i as f32 * 1.713).sin() * 20.0,
                })
                .collect();
            let (mut z1, mut a1) = (z.clone(), vec![0.0f32; z.len()]);
            let (mut z2, mut a2) = (z.clone(), vec![0.0f32; z.len()]);
            reference(&mut z1, &bias, &mut a1);
            if softmax_rows_short(&mut z2, &bias, &mut a2) != (width <= 16) {
                return Err(format!("{rows}×{width}: taken only for rows up to 16 wide").into());
            }
            if width > 16 {
                continue;
            }
            for (i, ((&p, &q), (&y, &x))) in a2.iter().zip(&a1).zip(z2.iter().zip(&z1)).enumerate() {
                if !(same(p, q) && same(y, x)) {
                    return Err(format!("{rows}×{width}, entry {i}: a {p} vs {q}, z {y} vs {x}").into());
                }
            }
        }
    }
    Ok(())
}
