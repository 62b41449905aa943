//! Fast inference for a trained network: the first layer computed from the input's ink only.
//!
//! A digit image is mostly background (about 80% of MNIST's pixels are blank), and a product with a
//! blank pixel adds nothing. With `c` the background value,
//! `z⁽¹⁾ = W⁽¹⁾x + b⁽¹⁾ = W⁽¹⁾(x − c𝟙) + (b⁽¹⁾ + c·W⁽¹⁾𝟙)`, and `x − c𝟙` is sparse: each row of
//! `z⁽¹⁾` is a sum of the columns of `W⁽¹⁾` (rows of `W⁽¹⁾ᵀ`, kept here contiguous) at the inked
//! pixels. A batch of 16 or more rows goes through one listing of its ink per chunk of 128 rows
//! (`kernels::matmul_sparse_x_packed`, on AVX-512F): per group of 4 pixels, the rows that ink
//! any of them (28% of the (row, group) pairs on MNIST), their 4 × 64 weights held in registers
//! while those rows pass, `W⁽¹⁾` packed once for it (above 128 outputs, the rows listed apart by
//! the halves of the group they ink, so that a row inking one half takes 8 FMAs, not 16).
//! Smaller batches, and CPUs without AVX-512F, go four images at a time
//! (`kernels::matmul_sparse_rows`): each row of `W⁽¹⁾ᵀ` read serves all four, and four digits
//! together ink 38% of the pixels. Both sum each output over the pixels in
//! increasing order, one fused multiply-add at a time from zero, so which one runs changes no
//! bit. The layers above are the usual dense products. Inputs that are not mostly background (a
//! table, a photo not preprocessed) take the dense path, so the result never depends on it.

use crate::activation::Activation;
use crate::error::Result;
use crate::kernels::{
    Float, PACKED_CHUNK_ROWS, PackedWeights, SPARSE_TILE, SparseScratch, Vendor, count_not_equal, matmul_sparse_rows,
    matmul_sparse_x_packed, matmul_sparse_x_packed_relu,
};
use crate::network::{ForwardBuffers, Network, Workspace};

/// Above this fraction of entries different from the background a batch takes the dense product.
const MAX_DENSITY: f64 = 0.5;
/// From this many rows, with two or more threads, the batch is halved between two threads for
/// the whole forward pass (smaller batches cost less than waking a thread).
const SPLIT_MIN_ROWS: usize = 64;
/// From how many rows on one thread the first layer (`outputs` wide) takes the listed product
/// ([`matmul_sparse_x_packed`]); below, four rows at a time ([`matmul_sparse_rows`]). The two
/// give the same bits, so this is a choice of speed, and it depends on the CPU: measured on
/// 784-wide MNIST batches (`examples/bench_sparse --batch R`), 784→800 takes the listed product
/// from 16 rows on both vendors' cores (AMD EPYC Zen 5: 50 against 58 µs; Intel Xeon: 100
/// against 128), while 784→128 needs 64 rows on the AMD EPYC (at 32 rows 19.2 against 16.0 µs,
/// at 64 31.9 against 33.1) and 16 on the Intel Xeon (at 16 rows 18.8–19.2 against 20.4–34.6
/// µs, at 32 28.4 against 39.3, at 64 55.1 against 82.7).
fn listed_min_rows(outputs: usize) -> usize {
    if outputs >= 256 || crate::kernels::vendor() == Vendor::Intel { 16 } else { 64 }
}

/// A trained network prepared for inference (read-only): `W⁽¹⁾ᵀ` and the folded first-layer bias.
#[derive(Clone, Debug)]
pub struct Predictor<T> {
    net: Network<T>,
    /// `W⁽¹⁾ᵀ`, inputs × outputs.
    w1t: Vec<T>,
    /// The background input value `c`.
    background: T,
    /// `b⁽¹⁾ + c·W⁽¹⁾𝟙`.
    bias1: Vec<T>,
    /// `W⁽¹⁾` packed for the listed product, where it applies (f32 on AVX-512F).
    packed: Option<PackedWeights>,
}

impl<T: Float> Predictor<T> {
    /// Prepares `net` for inputs whose blank entries equal `background` (0 for pixels scaled to
    /// 0–1; in general the normalised value of a blank pixel).
    pub fn new(net: Network<T>, background: T) -> Self {
        if !net.features.is_empty() {
            // A convolutional network's first dense layer reads feature maps, not the input: no
            // blank inputs to skip there, so every batch takes `Network::forward`.
            return Self { net, w1t: Vec::new(), background, bias1: Vec::new(), packed: None };
        }
        let first = &net.layers[0];
        let (n, k) = (first.outputs, first.inputs);
        let mut w1t = vec![T::zero(); k * n];
        for (o, row) in first.weights.chunks_exact(k).enumerate() {
            for (j, &w) in row.iter().enumerate() {
                w1t[j * n + o] = w;
            }
        }
        let bias1 = first
            .weights
            .chunks_exact(k)
            .zip(&first.bias)
            .map(|(row, &b)| b + background * row.iter().copied().sum::<T>())
            .collect();
        let packed = PackedWeights::new(&first.weights, n, k);
        Self { net, w1t, background, bias1, packed }
    }

    /// Like [`Predictor::new`], with the background guessed from `sample` (one input row): its most
    /// frequent value, which for an image is the blank paper. A wrong guess costs speed, never
    /// correctness.
    pub fn guess_background(net: Network<T>, sample: &[T]) -> Self {
        let mut v: Vec<T> = sample.to_vec();
        v.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
        let (mut best, mut best_run, mut run) = (T::zero(), 0, 0);
        for (i, &x) in v.iter().enumerate() {
            run = if i > 0 && v[i - 1] == x { run + 1 } else { 1 };
            if run > best_run {
                (best, best_run) = (x, run);
            }
        }
        Self::new(net, best)
    }

    /// The network.
    pub fn network(&self) -> &Network<T> {
        &self.net
    }

    /// The background value inputs are compared with.
    pub fn background(&self) -> T {
        self.background
    }

    /// Forward propagation of a batch, as [`Network::forward`] computes it; returns `a⁽ᴸ⁾`. The
    /// workspace's `a` of every layer and `z` of the output layer are filled; a hidden layer's `z`
    /// may not be.
    pub fn forward<'w>(&self, x: &[T], batch: usize, ws: &'w mut Workspace<T>) -> &'w [T] {
        if !self.net.features.is_empty() {
            return self.net.forward(x, batch, ws);
        }
        let first = &self.net.layers[0];
        let k = first.inputs;
        let x = &x[..batch * k];
        // The density is judged on up to 8 rows spread over the batch (counting every entry would
        // cost as much as the sparse product itself).
        let step = batch.div_ceil(8).max(1);
        let (mut ink, mut seen) = (0, 0);
        for r in (0..batch).step_by(step) {
            ink += count_not_equal(&x[r * k..(r + 1) * k], self.background);
            seen += k;
        }
        if ink as f64 > MAX_DENSITY * seen as f64 {
            return self.net.forward(x, batch, ws);
        }
        let split = ws.threads() > 1 && batch >= SPLIT_MIN_ROWS;
        // A single image may still use both threads, by columns ([`matmul_sparse_rows`]).
        let threads = if split { 1 } else { ws.threads() };
        let half = if split { (batch / 2).next_multiple_of(SPARSE_TILE) } else { batch };
        let ForwardBuffers { z: zs, a: as_, listings: [scratch0, scratch1] } = ws.forward_buffers_mut();
        if split {
            // The rows are halved between the two threads for the whole pass: one hand-off, and
            // every part of it (products, bias, activation) runs on both cores.
            let ((x0, x1), mut z0, mut z1, mut a0, mut a1) = (x.split_at(half * k), vec![], vec![], vec![], vec![]);
            for ((z, a), layer) in zs.iter_mut().zip(as_.iter_mut()).zip(&self.net.layers) {
                let (za, zb) = z.split_at_mut(half * layer.outputs);
                let (aa, ab) = a.split_at_mut(half * layer.outputs);
                z0.push(za);
                z1.push(zb);
                a0.push(aa);
                a1.push(ab);
            }
            rayon::join(
                || self.pass(x0, half, &mut z0, &mut a0, scratch0, 1),
                || self.pass(x1, batch - half, &mut z1, &mut a1, scratch1, 1),
            );
        } else {
            self.pass(x, batch, zs, as_, scratch0, threads);
        }
        let last = self.net.layers.len() - 1;
        &ws.a(last)[..batch * self.net.outputs()]
    }

    /// The forward pass of `rows` rows of `x` into each layer's `z` and `a`, in chunks of rows
    /// that go through every layer before the next chunk starts: a chunk of the listed product
    /// (up to [`PACKED_CHUNK_ROWS`] rows) goes on to the bias, the activation and the later layers
    /// from the core's caches, where a whole batch's (784-800: 3.2 MB per 1,000 rows, each layer's
    /// `z` and `a`) would come back from L3 or memory (784-800-10 on the Intel Xeon, one thread:
    /// 2.5–4.4% more images per second; 784-128-10, whose batch fits in L2: no change). Each row's
    /// outputs are the same bits either way. `threads`: for a single row's columns, or the later
    /// layers' products.
    fn pass<B: AsMut<[T]>>(
        &self,
        x: &[T],
        rows: usize,
        z: &mut [B],
        a: &mut [B],
        scratch: &mut SparseScratch<T>,
        threads: usize,
    ) {
        let first = &self.net.layers[0];
        let (k, n) = (first.inputs, first.outputs);
        let chunk = if self.packed.is_some() && self.takes_listed(rows) {
            rows.div_ceil(rows.div_ceil(PACKED_CHUNK_ROWS))
        } else {
            rows.max(1)
        };
        for r0 in (0..rows).step_by(chunk) {
            let r = chunk.min(rows - r0);
            let (z1, a1) = (&mut z[0].as_mut()[r0 * n..(r0 + r) * n], &mut a[0].as_mut()[r0 * n..(r0 + r) * n]);
            // The next chunk's rows, which the listed product asks the memory for meanwhile.
            let next = &x[(r0 + r) * k..(r0 + r + chunk).min(rows) * k];
            self.first_layer(&x[r0 * k..(r0 + r) * k], r, z1, a1, scratch, threads, next);
            for (l, layer) in self.net.layers.iter().enumerate().skip(1) {
                let (before, after) = a.split_at_mut(l);
                let (i, o) = (layer.inputs, layer.outputs);
                let input = &before[l - 1].as_mut()[r0 * i..(r0 + r) * i];
                let zl = &mut z[l].as_mut()[r0 * o..(r0 + r) * o];
                layer.forward(input, r, zl, &mut after[0].as_mut()[r0 * o..(r0 + r) * o], threads);
            }
        }
    }

    /// Whether `rows` rows on one thread take the listed product (where it applies).
    fn takes_listed(&self, rows: usize) -> bool {
        let n = self.net.layers[0].outputs;
        rows >= listed_min_rows(n)
    }

    /// Which first-layer product a batch of `batch` rows of mostly-background inputs takes with
    /// `threads` threads, and compiled for what: the run-time choice, in words, for benchmarks to
    /// print (inputs not mostly background take the dense products whatever this says).
    pub fn first_layer_product(&self, batch: usize, threads: usize) -> String {
        if !self.net.features.is_empty() {
            return "dense (a convolutional network's first dense layer reads feature maps)".into();
        }
        let per_thread =
            if threads > 1 && batch >= SPLIT_MIN_ROWS { (batch / 2).next_multiple_of(SPARSE_TILE) } else { batch };
        let from = match self.packed {
            Some(_) => format!(
                "; listed from {} rows a thread on this {:?} CPU",
                listed_min_rows(self.net.layers[0].outputs),
                crate::kernels::vendor()
            ),
            None => String::new(),
        };
        if self.packed.is_some() && self.takes_listed(per_thread) {
            format!(
                "listed groups of 4 inputs, W packed once, chunks of up to {PACKED_CHUNK_ROWS} rows (AVX-512F{from})"
            )
        } else {
            format!("four-row tiles ({:?}{from})", crate::kernels::Isa::detected())
        }
    }

    /// `a⁽¹⁾ = f(W⁽¹⁾(x − c𝟙) + b⁽¹⁾)` (with the folded bias) for `rows` rows on the calling
    /// thread. A hidden ReLU layer in one chunk of the listed product takes its bias and
    /// activation as each block of outputs leaves the product (`matmul_sparse_x_packed_relu`: the
    /// same bits, and `z⁽¹⁾`, which later layers do not read, is then not written; 784-128-10 and
    /// 784-800-10 on the Intel Xeon, 2–6% more images per second); otherwise the product fills `z`
    /// and the activation pass follows. `next`: the rows of the next call (prefetch hints).
    #[allow(clippy::too_many_arguments)]
    fn first_layer(
        &self,
        x: &[T],
        rows: usize,
        z: &mut [T],
        a: &mut [T],
        scratch: &mut SparseScratch<T>,
        threads: usize,
        next: &[T],
    ) {
        let first = &self.net.layers[0];
        if first.activation == Activation::Relu
            && self.net.layers.len() > 1
            && rows <= PACKED_CHUNK_ROWS
            && let Some(packed) = self.packed.as_ref().filter(|_| self.takes_listed(rows))
            && matmul_sparse_x_packed_relu(x, rows, self.background, packed, &self.bias1, a, scratch, next)
        {
            return;
        }
        self.first_product(x, rows, z, scratch, threads, next);
        first.activation.forward_rows(z, &self.bias1, a);
    }

    /// `z⁽¹⁾ − b⁽¹⁾ = W⁽¹⁾(x − c𝟙)` for `rows` rows on the calling thread: the listed product in
    /// chunks of up to [`PACKED_CHUNK_ROWS`] rows where it applies, else four rows at a time
    /// (the same bits either way). `next`: the rows after these (prefetch hints).
    fn first_product(
        &self,
        x: &[T],
        rows: usize,
        z: &mut [T],
        scratch: &mut SparseScratch<T>,
        threads: usize,
        next: &[T],
    ) {
        let (k, n) = (self.net.layers[0].inputs, self.net.layers[0].outputs);
        if let Some(packed) = self.packed.as_ref().filter(|_| self.takes_listed(rows)) {
            let chunk = rows.div_ceil(rows.div_ceil(PACKED_CHUNK_ROWS));
            for (i, (xc, zc)) in x[..rows * k].chunks(chunk * k).zip(z.chunks_mut(chunk * n)).enumerate() {
                let r = xc.len() / k;
                let after = &x[((i + 1) * chunk * k).min(rows * k)..((i + 2) * chunk * k).min(rows * k)];
                let ahead = if after.is_empty() { next } else { after };
                if !matmul_sparse_x_packed(xc, r, self.background, packed, zc, scratch, ahead) {
                    matmul_sparse_rows(xc, r, k, self.background, &self.w1t, n, &mut zc[..r * n], 1);
                }
            }
            return;
        }
        // Batches of a few rows stay on one thread here (the split by rows is the caller's).
        let threads = if rows == 1 { threads } else { 1 };
        matmul_sparse_rows(x, rows, k, self.background, &self.w1t, n, z, threads);
    }

    /// Outputs for `rows` samples of `x` (allocates; for one-off use).
    pub fn predict(&self, x: &[T], rows: usize) -> Result<Vec<T>> {
        self.net.check_input(x, rows)?;
        let chunk = rows.clamp(1, 1024);
        let mut ws = Workspace::new(&self.net, chunk, 1);
        let mut out = Vec::with_capacity(rows * self.net.outputs());
        for xs in x.chunks(chunk * self.net.inputs()) {
            let b = xs.len() / self.net.inputs();
            out.extend_from_slice(self.forward(xs, b, &mut ws));
        }
        Ok(out)
    }
}

/// One output row of `net` as class probabilities: a softmax output as it is; other outputs made
/// into a distribution (non-negative ones divided by their sum, else a softmax, computed here in
/// `f64`).
pub fn probabilities(net: &Network<f32>, row: &[f32]) -> Vec<f64> {
    let v: Vec<f64> = row.iter().map(|&x| f64::from(x)).collect();
    if net.layers.last().is_some_and(|l| l.activation == Activation::Softmax) {
        return v;
    }
    let sum: f64 = v.iter().sum();
    if v.iter().all(|&x| x >= 0.0) && sum > 0.0 {
        return v.iter().map(|x| x / sum).collect();
    }
    let max = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let e: Vec<f64> = v.iter().map(|x| (x - max).exp()).collect();
    let s: f64 = e.iter().sum();
    e.iter().map(|x| x / s).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::architecture::Architecture;
    use crate::{Activation, Init, Loss};

    #[test]
    fn sparse_and_dense_inputs_give_the_network_s_outputs() {
        let net = Architecture::mlp(&[50, 70, 20, 4], Activation::Relu, Activation::Softmax, Loss::CrossEntropy)
            .init(Init::HeUniform)
            .build::<f64>(4)
            .unwrap();
        for (background, ink_every, rows) in [(0.0, 5, 7), (-0.42, 4, 16), (0.0, 1, 3), (0.3, 3, 40), (0.0, 6, 130)] {
            let x: Vec<f64> =
                (0..rows * 50).map(|i| if i % ink_every == 0 { (i % 11) as f64 / 11.0 } else { background }).collect();
            let want = net.predict(&x, rows).unwrap();
            for threads in [1, 2] {
                let p = Predictor::new(net.clone(), background);
                let mut ws = Workspace::new(&net, rows, threads);
                let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
                let got = pool.install(|| p.forward(&x, rows, &mut ws).to_vec());
                for (g, w) in got.iter().zip(&want) {
                    assert!((g - w).abs() < 1e-12, "background {background}, ink 1/{ink_every}: {g} vs {w}");
                }
            }
            assert_eq!(Predictor::guess_background(net.clone(), &x[..50]).background(), background);
        }
    }

    #[test]
    fn the_listed_product_gives_the_four_row_tiles_bits() {
        // f32 and 100 inputs: on AVX-512F, batches from 16 rows (300 outputs) or, for 40 outputs,
        // 64 rows (16 on Intel cores: `listed_min_rows`) take the listed product, in chunks of up to 128 rows; the same predictor without the
        // packed weights takes the four-row tiles. Outputs and a⁽¹⁾ must agree bit for bit, with
        // a ReLU first layer (its bias and activation fused into the listed product) and another.
        for (width, rows, hidden) in [
            (300, 16, Activation::Relu),
            (300, 130, Activation::Relu),
            (40, 63, Activation::Relu),
            (40, 64, Activation::Relu),
            (40, 300, Activation::Relu),
            (300, 130, Activation::Tanh),
            (40, 64, Activation::Tanh),
        ] {
            let net = Architecture::mlp(&[100, width, 10], hidden, Activation::Softmax, Loss::CrossEntropy)
                .init(Init::HeUniform)
                .build::<f32>(7)
                .unwrap();
            for background in [0.0f32, -0.42] {
                let x: Vec<f32> = (0..rows * 100)
                    .map(|i| if (i * 7 + i / 100) % 5 == 0 { (i % 13) as f32 / 13.0 } else { background })
                    .collect();
                let listed = Predictor::new(net.clone(), background);
                assert_eq!(listed.packed.is_some(), crate::kernels::cpu::has_avx512f());
                let tiles = Predictor { packed: None, ..listed.clone() };
                for threads in [1, 2] {
                    let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
                    let run = |p: &Predictor<f32>| {
                        let mut ws = Workspace::new(&net, rows, threads);
                        let out = pool.install(|| p.forward(&x, rows, &mut ws).to_vec());
                        let listed_rows = ws.forward_buffers_mut().listings[0].listed_rows();
                        (out, ws.a(0).to_vec(), listed_rows)
                    };
                    let ((out, a1, listed_rows), (want, want_a1, _)) = (run(&listed), run(&tiles));
                    let bits = |v: &[f32]| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>();
                    assert_eq!(bits(&a1), bits(&want_a1), "{width} wide, {rows} rows, {threads} threads");
                    assert_eq!(bits(&out), bits(&want), "{width} wide, {rows} rows, {threads} threads");
                    // Whether the listed product ran (its last chunk's rows on the first thread).
                    let per_thread = if threads > 1 && rows >= SPLIT_MIN_ROWS {
                        (rows / 2).next_multiple_of(SPARSE_TILE)
                    } else {
                        rows
                    };
                    let min_rows = listed_min_rows(width);
                    let taken = listed.packed.is_some() && per_thread >= min_rows;
                    assert_eq!(listed_rows > 0, taken, "{width} wide, {rows} rows, {threads} threads");
                    assert_eq!(listed.first_layer_product(rows, threads).starts_with("listed"), taken);
                }
            }
        }
    }

    fn net_with_output(output: Activation) -> Network<f32> {
        Architecture::mlp(&[2, 3], Activation::Relu, output, Loss::HalfMse).init(Init::HeUniform).build(1).unwrap()
    }

    #[test]
    fn probabilities_keep_softmax_outputs_and_make_others_a_distribution() {
        let row = [0.25f32, 0.5, 0.25];
        let kept = probabilities(&net_with_output(Activation::Softmax), &row);
        assert_eq!(kept, vec![0.25, 0.5, 0.25]);
        // Non-negative outputs: divided by their sum.
        let p = probabilities(&net_with_output(Activation::Sigmoid { k: 1.0, c: 0.0 }), &[1.0, 3.0, 0.0]);
        assert_eq!(p, vec![0.25, 0.75, 0.0]);
        // A negative output (or an all-zero row): a softmax, shifted by the maximum.
        let p = probabilities(&net_with_output(Activation::Identity), &[-1.0, 0.0, 1.0]);
        let e = [(-2f64).exp(), (-1f64).exp(), 1.0];
        let s: f64 = e.iter().sum();
        for (g, w) in p.iter().zip(e.iter().map(|x| x / s)) {
            assert!((g - w).abs() < 1e-15, "{g} vs {w}");
        }
        let p = probabilities(&net_with_output(Activation::Identity), &[0.0, 0.0]);
        assert_eq!(p, vec![0.5, 0.5]);
        let p = probabilities(&net_with_output(Activation::Identity), &[1000.0, 0.0, -1000.0]);
        assert!(p.iter().all(|x| x.is_finite()) && (p.iter().sum::<f64>() - 1.0).abs() < 1e-12);
    }
}
