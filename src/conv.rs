//! A 2-D convolutional layer on a batch of feature maps, channels first (batch × C × H × W, as
//! PyTorch's `nn.Conv2d`), stride 1, `valid` or `same` padding.
//!
//! Forward, a sum over the kernel (`P` the padding, `x` zero outside the image):
//!
//! `z[o,i,j] = b[o] + Σ_c Σ_p Σ_q W[o,c,p,q] · x[c, i+p−P, j+q−P]`,  `a = f(z)`.
//!
//! Backward, the article's δ recursion through a convolution, with `δ = ∂L/∂z` of this layer:
//!
//! * `∂L/∂W[o,c,p,q] = Σ_n Σ_i Σ_j δ[o,i,j] · x[c, i+p−P, j+q−P]`: the correlation of the layer's
//!   input with δ (summed over the batch; the loss is a mean, so `1/B` is already inside δ⁽ᴸ⁾);
//! * `∂L/∂b[o] = Σ_n Σ_i Σ_j δ[o,i,j]`;
//! * `∂L/∂x[c,u,v] = Σ_o Σ_p Σ_q δ[o, u−p+P, v−q+P] · W[o,c,p,q]`: the full convolution of δ with
//!   the flipped kernel. The layer below multiplies it by its `f′(z)` to get its own δ, exactly as
//!   `(W⁽ˡ⁺¹⁾)ᵀδ⁽ˡ⁺¹⁾ ⊙ f′(z⁽ˡ⁾)` does for dense layers.
//!
//! Two paths compute the same numbers: [`Conv2d::forward_reference`] and
//! [`Conv2d::backward_reference`] are the formulas above as nested loops; [`Conv2d::forward`] and
//! [`Conv2d::backward`] unfold each sample's input into a matrix of patches (`im2col`: one column
//! per output position, one row per (c, p, q)) so that each sum is one matrix product, `Z = W·X̂`,
//! `∂L/∂W += δ·X̂ᵀ`; and `∂L/∂x`, the full convolution of δ with the flipped kernel, is computed as
//! exactly that: δ bordered by `k − 1 − P`, unfolded the same way, times the flipped kernels.

use crate::activation::Activation;
use crate::error::{Error, Result};
use crate::kernels::{Float, Operand, matmul, sum};

/// How the border is treated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Padding {
    /// No padding: the output shrinks by `k − 1` (only positions where the kernel fits).
    Valid,
    /// `(k − 1)/2` zeros on every side: the output keeps the input's size (odd `k` only).
    Same,
}

impl Padding {
    /// Zeros added on each side for a `kernel × kernel` kernel.
    pub fn width(self, kernel: usize) -> usize {
        match self {
            Padding::Valid => 0,
            Padding::Same => kernel.saturating_sub(1) / 2,
        }
    }
}

/// The maps a stride-1 convolution of `out_channels` kernels of `kernel × kernel` makes of `input`
/// (`H − k + 1 + 2P` rows; 0 where the kernel does not fit).
pub fn output_of(input: Maps, out_channels: usize, kernel: usize, padding: Padding) -> Maps {
    let shrink = kernel.saturating_sub(1).saturating_sub(2 * padding.width(kernel));
    Maps::new(out_channels, input.height.saturating_sub(shrink), input.width.saturating_sub(shrink))
}

/// One sample's feature maps: channels × height × width.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Maps {
    /// Number of channels (maps).
    pub channels: usize,
    /// Rows of each map.
    pub height: usize,
    /// Columns of each map.
    pub width: usize,
}

impl Maps {
    /// `channels × height × width`.
    pub fn new(channels: usize, height: usize, width: usize) -> Self {
        Self { channels, height, width }
    }

    /// Values in one sample: `C·H·W`.
    pub fn len(&self) -> usize {
        self.channels * self.height * self.width
    }

    /// Whether a sample holds no values.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Positions in one map: `H·W`.
    pub fn area(&self) -> usize {
        self.height * self.width
    }
}

impl std::fmt::Display for Maps {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}×{}×{}", self.channels, self.height, self.width)
    }
}

/// A convolutional layer: `W` (out × in × k × k, as PyTorch stores it), one bias per output
/// channel, and an element-wise `f`.
#[derive(Clone, Debug, PartialEq)]
pub struct Conv2d<T> {
    /// The input's shape (one sample).
    pub input: Maps,
    /// Output channels (kernels).
    pub out_channels: usize,
    /// Kernel side `k`.
    pub kernel: usize,
    /// Border treatment.
    pub padding: Padding,
    /// `W[o,c,p,q]` at `((o·C + c)·k + p)·k + q`.
    pub weights: Vec<T>,
    /// `b[o]`.
    pub bias: Vec<T>,
    /// `f`, applied to `z` entry by entry.
    pub activation: Activation,
}

/// How many values [`unfold`] copies at once: whole vector registers, so that a short row
/// of a map is one or two moves rather than a call to `memcpy`. Its buffers end in this much slack.
const CHUNK: usize = 16;

/// The buffers one sample's fast path needs, allocated once: the unfolded patches of the input
/// (and, for backward, of δ), one map with its zero border, and the flipped kernels.
#[derive(Clone, Debug, Default)]
pub struct ConvScratch<T> {
    cols: Vec<T>,
    dcols: Vec<T>,
    plane: Vec<T>,
    flipped: Vec<T>,
}

impl<T: Float> ConvScratch<T> {
    /// Room for `conv`'s patches (and δ's and the flipped kernels when `backward`).
    pub fn new(conv: &Conv2d<T>, backward: bool) -> Self {
        let (inp, out, k) = (conv.input, conv.output(), conv.kernel);
        let n = conv.patch_len() * out.area();
        let plane = |m: Maps, pad: usize| (m.height + 2 * pad) * (m.width + 2 * pad);
        let mut planes = plane(inp, conv.pad());
        let (mut dcols, mut flipped) = (Vec::new(), Vec::new());
        if backward {
            planes = planes.max(plane(out, conv.back_pad()));
            dcols = vec![T::zero(); conv.out_channels * k * k * inp.area() + CHUNK];
            flipped = vec![T::zero(); conv.weights.len()];
        }
        Self { cols: vec![T::zero(); n + CHUNK], dcols, plane: vec![T::zero(); planes + CHUNK], flipped }
    }
}

impl<T: Float> Conv2d<T> {
    /// A layer with zero weights and biases (fill them with an initialisation), its shapes checked:
    /// `same` needs an odd `k`, `valid` a `k` no larger than the input, and the activation must act
    /// entry by entry.
    pub fn zeros(
        input: Maps,
        out_channels: usize,
        kernel: usize,
        padding: Padding,
        activation: Activation,
    ) -> Result<Self> {
        let n = Self::check(input, out_channels, kernel, padding, activation)?;
        Ok(Self {
            input,
            out_channels,
            kernel,
            padding,
            weights: vec![T::zero(); n],
            bias: vec![T::zero(); out_channels],
            activation,
        })
    }

    /// The checks of [`Conv2d::zeros`] without allocating anything: the number of weights such a
    /// layer has, or the error.
    pub fn check(
        input: Maps,
        out_channels: usize,
        kernel: usize,
        padding: Padding,
        activation: Activation,
    ) -> Result<usize> {
        let bad = |message: String| Err(Error::InvalidValue { what: "convolution".into(), message });
        if input.is_empty() || out_channels == 0 || kernel == 0 {
            return bad(format!(
                "input {input}, {out_channels} output channels, kernel {kernel}: every size must be at least 1"
            ));
        }
        if padding == Padding::Same && kernel.is_multiple_of(2) {
            return bad(format!(
                "'same' padding needs an odd kernel size (the padding (k − 1)/2 must be whole), got {kernel}; \
                 use {} or {}, or 'valid'",
                kernel - 1,
                kernel + 1
            ));
        }
        if padding == Padding::Valid && (kernel > input.height || kernel > input.width) {
            return bad(format!(
                "a {kernel}×{kernel} kernel does not fit in the {}×{} input maps with 'valid' padding",
                input.height, input.width
            ));
        }
        if !activation.is_elementwise() {
            return bad(format!("{activation} is not element-wise; a convolution needs one that is (e.g. relu)"));
        }
        match out_channels
            .checked_mul(input.channels)
            .and_then(|n| n.checked_mul(kernel))
            .and_then(|n| n.checked_mul(kernel))
        {
            Some(n) => Ok(n),
            None => bad(format!(
                "{out_channels} kernels of {}×{kernel}×{kernel}: more weights than memory can hold",
                input.channels
            )),
        }
    }

    /// Zeros added on each side.
    pub fn pad(&self) -> usize {
        self.padding.width(self.kernel)
    }

    /// The border that turns `∂L/∂x` into a convolution of δ: `k − 1 − P` (δ's maps with this
    /// border, unfolded by `k × k`, give back the input's size).
    fn back_pad(&self) -> usize {
        self.kernel - 1 - self.pad()
    }

    /// The output's shape (one sample).
    pub fn output(&self) -> Maps {
        output_of(self.input, self.out_channels, self.kernel, self.padding)
    }

    /// Inputs one output sees: `C·k·k` (the fan-in of the initialisations).
    pub fn patch_len(&self) -> usize {
        self.input.channels * self.kernel * self.kernel
    }

    /// Trainable parameters: `O·C·k·k + O`.
    pub fn parameter_count(&self) -> usize {
        self.weights.len() + self.bias.len()
    }

    /// `x[c, y, x]` of one sample with zeros outside, at output position (i, j) and kernel offset
    /// (p, q): the input row and column, if inside.
    #[inline(always)]
    fn source(&self, i: usize, j: usize, p: usize, q: usize) -> Option<(usize, usize)> {
        let (y, x) = ((i + p).checked_sub(self.pad())?, (j + q).checked_sub(self.pad())?);
        (y < self.input.height && x < self.input.width).then_some((y, x))
    }

    /// `z = W ⊛ x + b` and `a = f(z)` by the formula's nested loops. `x` is batch × C×H×W, `z`
    /// and `a` batch × O×H′×W′.
    pub fn forward_reference(&self, x: &[T], batch: usize, z: &mut [T], a: &mut [T]) {
        let (inp, out, k) = (self.input, self.output(), self.kernel);
        for n in 0..batch {
            let xs = &x[n * inp.len()..(n + 1) * inp.len()];
            for o in 0..out.channels {
                for i in 0..out.height {
                    for j in 0..out.width {
                        let mut s = self.bias[o];
                        for c in 0..inp.channels {
                            for p in 0..k {
                                for q in 0..k {
                                    if let Some((y, xx)) = self.source(i, j, p, q) {
                                        s += self.weights[((o * inp.channels + c) * k + p) * k + q]
                                            * xs[(c * inp.height + y) * inp.width + xx];
                                    }
                                }
                            }
                        }
                        let at = n * out.len() + (o * out.height + i) * out.width + j;
                        z[at] = s;
                        a[at] = self.activation.value(s);
                    }
                }
            }
        }
    }

    /// `∂L/∂W`, `∂L/∂b` (summed over the batch, written over `grad_w`, `grad_b`) and, when asked,
    /// `∂L/∂x` (before the layer below's `f′`), by the formulas' nested loops. `delta` is
    /// `δ = ∂L/∂z` of this layer, batch × O×H′×W′.
    pub fn backward_reference(
        &self,
        x: &[T],
        delta: &[T],
        batch: usize,
        grad_w: &mut [T],
        grad_b: &mut [T],
        mut grad_x: Option<&mut [T]>,
    ) {
        let (inp, out, k) = (self.input, self.output(), self.kernel);
        grad_w.iter_mut().for_each(|g| *g = T::zero());
        grad_b.iter_mut().for_each(|g| *g = T::zero());
        if let Some(gx) = grad_x.as_deref_mut() {
            gx[..batch * inp.len()].iter_mut().for_each(|g| *g = T::zero());
        }
        for n in 0..batch {
            let xs = &x[n * inp.len()..(n + 1) * inp.len()];
            for o in 0..out.channels {
                for i in 0..out.height {
                    for j in 0..out.width {
                        let d = delta[n * out.len() + (o * out.height + i) * out.width + j];
                        grad_b[o] += d;
                        for c in 0..inp.channels {
                            for p in 0..k {
                                for q in 0..k {
                                    if let Some((y, xx)) = self.source(i, j, p, q) {
                                        let w = ((o * inp.channels + c) * k + p) * k + q;
                                        let at = (c * inp.height + y) * inp.width + xx;
                                        grad_w[w] += d * xs[at];
                                        if let Some(gx) = grad_x.as_deref_mut() {
                                            gx[n * inp.len() + at] += d * self.weights[w];
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /// The fast path of [`Self::forward_reference`]: per sample, the patches unfolded and one
    /// product `Z = W·X̂` (O × C·k·k times C·k·k × H′W′), then `+ b`, `f`.
    pub fn forward(&self, x: &[T], batch: usize, z: &mut [T], a: &mut [T], scratch: &mut ConvScratch<T>) {
        let (inp, out) = (self.input, self.output());
        let (m, kk) = (out.area(), self.patch_len());
        for n in 0..batch {
            let xs = &x[n * inp.len()..(n + 1) * inp.len()];
            unfold(xs, inp, self.kernel, self.pad(), out, &mut scratch.cols, &mut scratch.plane);
            let zs = &mut z[n * out.len()..(n + 1) * out.len()];
            matmul(
                self.out_channels,
                m,
                kk,
                Operand::plain(&self.weights),
                Operand::plain(&scratch.cols[..kk * m]),
                zs,
                false,
                1,
            );
            let as_ = &mut a[n * out.len()..(n + 1) * out.len()];
            bias_activation(self.activation, zs, as_, &self.bias, m);
        }
    }

    /// The fast path of [`Self::backward_reference`]: per sample, `∂L/∂W += δ·X̂ᵀ` and, when asked,
    /// `∂L/∂x` as the convolution it is: δ with a border of `k − 1 − P`, unfolded, times the kernels
    /// flipped (`W̃[c, (o·k + p)·k + q] = W[o, c, k−1−p, k−1−q]`), one product written straight into
    /// the input's gradient. `scratch` must have been made for backward.
    #[allow(clippy::too_many_arguments)]
    pub fn backward(
        &self,
        x: &[T],
        delta: &[T],
        batch: usize,
        grad_w: &mut [T],
        grad_b: &mut [T],
        mut grad_x: Option<&mut [T]>,
        scratch: &mut ConvScratch<T>,
    ) {
        let (inp, out, k) = (self.input, self.output(), self.kernel);
        let (m, kk, o) = (out.area(), self.patch_len(), self.out_channels);
        grad_b.iter_mut().for_each(|g| *g = T::zero());
        if batch == 0 {
            grad_w.iter_mut().for_each(|g| *g = T::zero());
        }
        let back = o * k * k;
        if grad_x.is_some() {
            for (oc, per_out) in self.weights.chunks_exact(inp.channels * k * k).enumerate() {
                for (c, kernel) in per_out.chunks_exact(k * k).enumerate() {
                    for (pq, &w) in kernel.iter().enumerate() {
                        scratch.flipped[c * back + oc * k * k + (k * k - 1 - pq)] = w;
                    }
                }
            }
        }
        for n in 0..batch {
            let ds = &delta[n * out.len()..(n + 1) * out.len()];
            let xs = &x[n * inp.len()..(n + 1) * inp.len()];
            unfold(xs, inp, k, self.pad(), out, &mut scratch.cols, &mut scratch.plane);
            matmul(o, kk, m, Operand::plain(ds), Operand::t(&scratch.cols[..kk * m]), grad_w, n > 0, 1);
            for (gb, dr) in grad_b.iter_mut().zip(ds.chunks_exact(m)) {
                *gb += sum(dr);
            }
            if let Some(gx) = grad_x.as_deref_mut() {
                let at = Maps::new(1, inp.height, inp.width);
                unfold(ds, out, k, self.back_pad(), at, &mut scratch.dcols, &mut scratch.plane);
                let gs = &mut gx[n * inp.len()..(n + 1) * inp.len()];
                let (flipped, dcols) = (&scratch.flipped, &scratch.dcols[..back * inp.area()]);
                matmul(inp.channels, inp.area(), back, Operand::plain(flipped), Operand::plain(dcols), gs, false, 1);
            }
        }
    }
}

/// One sample's patches: `cols[(c·k + p)·k + q][i·W′ + j] = x[c, i+p−P, j+q−P]` (0 outside), for
/// maps `input` unfolded by `k × k` with a border of `pad` into `out`'s rows and columns.
///
/// Each input map is first copied inside its zero border (`plane`), so that every row of patches
/// is a run of `W′` values of the plane with no bounds to test. The runs are copied [`CHUNK`] values
/// at a time, running past their end into the next run (written next, in increasing address order)
/// or into the slack at the end of `cols`.
fn unfold<T: Float>(xs: &[T], input: Maps, k: usize, pad: usize, out: Maps, cols: &mut [T], plane: &mut [T]) {
    let pw = input.width + 2 * pad;
    let chunks = out.width.div_ceil(CHUNK) * CHUNK;
    debug_assert!(cols.len() >= input.channels * k * k * out.area() + CHUNK);
    debug_assert!(plane.len() >= (input.height + 2 * pad) * pw + CHUNK);
    for c in 0..input.channels {
        for (y, row) in plane.chunks_exact_mut(pw).take(input.height + 2 * pad).enumerate() {
            row.fill(T::zero());
            if let Some(y) = y.checked_sub(pad).filter(|&y| y < input.height) {
                row[pad..pad + input.width].copy_from_slice(&xs[(c * input.height + y) * input.width..][..input.width]);
            }
        }
        for p in 0..k {
            for q in 0..k {
                let base = ((c * k + p) * k + q) * out.area();
                for i in 0..out.height {
                    let src = &plane[(i + p) * pw + q..];
                    let dst = &mut cols[base + i * out.width..];
                    for j in (0..chunks).step_by(CHUNK) {
                        dst[j..j + CHUNK].copy_from_slice(&src[j..j + CHUNK]);
                    }
                }
            }
        }
    }
}

crate::kernels::simd_fn! {
    /// `z ← z + b[o]` on each output channel's row of `m` positions, then `a = f(z)`, in the
    /// widest vector instructions the CPU has.
    fn bias_activation<T: Float>(f: Activation, z: &mut [T], a: &mut [T], bias: &[T], m: usize) -> () = bias_activation_kernel;
}

#[inline(always)]
fn bias_activation_kernel<T: Float>(f: Activation, z: &mut [T], a: &mut [T], bias: &[T], m: usize) {
    for ((zr, ar), &b) in z.chunks_exact_mut(m).zip(a.chunks_exact_mut(m)).zip(bias) {
        for zi in zr.iter_mut() {
            *zi += b;
        }
        match f {
            Activation::Relu => {
                for (ai, &zi) in ar.iter_mut().zip(zr.iter()) {
                    *ai = zi.max(T::zero());
                }
            }
            _ => {
                for (ai, &zi) in ar.iter_mut().zip(zr.iter()) {
                    *ai = f.value(zi);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Deterministic values in about −1..1.
    fn values(n: usize, seed: u64) -> Vec<f64> {
        let mut s = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
        (0..n)
            .map(|_| {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                (s % 20_001) as f64 / 10_000.0 - 1.0
            })
            .collect()
    }

    fn layer(c: usize, h: usize, w: usize, o: usize, k: usize, padding: Padding, f: &str) -> Conv2d<f64> {
        let mut l = Conv2d::zeros(Maps::new(c, h, w), o, k, padding, Activation::parse(f).unwrap()).unwrap();
        l.weights = values(l.weights.len(), 7 + o as u64);
        l.bias = values(o, 11);
        l
    }

    fn cases() -> Vec<(Conv2d<f64>, usize)> {
        let mut v = Vec::new();
        for (padding, k) in [(Padding::Valid, 3), (Padding::Same, 3), (Padding::Valid, 2), (Padding::Same, 5)] {
            for (c, o) in [(1, 1), (2, 3), (3, 2)] {
                for batch in [1, 3] {
                    v.push((layer(c, 6, 5, o, k, padding, "tanh"), batch));
                }
            }
        }
        // Rows longer than one copy chunk (16 and 33 columns), taller than wide and wider than tall.
        v.push((layer(2, 19, 20, 3, 3, Padding::Same, "tanh"), 2));
        v.push((layer(1, 4, 35, 2, 3, Padding::Valid, "tanh"), 2));
        v
    }

    #[test]
    fn shapes_and_refusals() {
        let l = layer(1, 28, 28, 32, 5, Padding::Same, "relu");
        assert_eq!(l.output(), Maps::new(32, 28, 28));
        assert_eq!(l.parameter_count(), 32 * 25 + 32);
        assert_eq!(layer(3, 28, 20, 4, 5, Padding::Valid, "relu").output(), Maps::new(4, 24, 16));
        let err = |r: Result<Conv2d<f64>>| r.unwrap_err().to_string();
        let relu = Activation::Relu;
        assert!(err(Conv2d::zeros(Maps::new(1, 8, 8), 2, 4, Padding::Same, relu)).contains("odd kernel"));
        assert!(err(Conv2d::zeros(Maps::new(1, 4, 8), 2, 5, Padding::Valid, relu)).contains("does not fit"));
        assert!(
            err(Conv2d::zeros(Maps::new(1, 8, 8), 2, 3, Padding::Valid, Activation::Softmax)).contains("element-wise")
        );
        assert!(err(Conv2d::zeros(Maps::new(0, 8, 8), 2, 3, Padding::Valid, relu)).contains("at least 1"));
    }

    #[test]
    fn the_fast_path_equals_the_nested_loops() {
        for (l, batch) in cases() {
            let (inp, out) = (l.input, l.output());
            let x = values(batch * inp.len(), 3);
            let (mut z1, mut a1) = (vec![0.0; batch * out.len()], vec![0.0; batch * out.len()]);
            let (mut z2, mut a2) = (z1.clone(), a1.clone());
            l.forward_reference(&x, batch, &mut z1, &mut a1);
            let mut s = ConvScratch::new(&l, true);
            l.forward(&x, batch, &mut z2, &mut a2, &mut s);
            let close = |a: &[f64], b: &[f64]| a.iter().zip(b).all(|(p, q)| (p - q).abs() <= 1e-12 * (1.0 + q.abs()));
            assert!(close(&z1, &z2) && close(&a1, &a2), "{:?} {} batch {batch}", l.padding, l.kernel);
            let delta = values(batch * out.len(), 5);
            let (mut gw1, mut gb1, mut gx1) = (vec![0.0; l.weights.len()], vec![0.0; out.channels], vec![0.0; x.len()]);
            let (mut gw2, mut gb2, mut gx2) = (vec![9.0; l.weights.len()], vec![9.0; out.channels], vec![9.0; x.len()]);
            l.backward_reference(&x, &delta, batch, &mut gw1, &mut gb1, Some(&mut gx1));
            l.backward(&x, &delta, batch, &mut gw2, &mut gb2, Some(&mut gx2), &mut s);
            assert!(close(&gw1, &gw2) && close(&gb1, &gb2) && close(&gx1, &gx2));
        }
    }

    /// `L = Σ r ⊙ f(z)` for fixed `r`, so `δ = r ⊙ f′(z)`.
    fn loss(l: &Conv2d<f64>, x: &[f64], batch: usize, r: &[f64]) -> f64 {
        let n = batch * l.output().len();
        let (mut z, mut a) = (vec![0.0; n], vec![0.0; n]);
        l.forward_reference(x, batch, &mut z, &mut a);
        a.iter().zip(r).map(|(a, r)| a * r).sum()
    }

    #[test]
    fn gradients_match_finite_differences() {
        for (l, batch) in cases() {
            let out = l.output();
            let x = values(batch * l.input.len(), 13);
            let r = values(batch * out.len(), 17);
            let (mut z, mut a) = (vec![0.0; r.len()], vec![0.0; r.len()]);
            l.forward_reference(&x, batch, &mut z, &mut a);
            let delta: Vec<f64> = (0..r.len()).map(|i| r[i] * l.activation.derivative(z[i], a[i])).collect();
            let (mut gw, mut gb, mut gx) = (vec![0.0; l.weights.len()], vec![0.0; out.channels], vec![0.0; x.len()]);
            let mut s = ConvScratch::new(&l, true);
            l.backward(&x, &delta, batch, &mut gw, &mut gb, Some(&mut gx), &mut s);
            // Central differences: error ~h² from the third derivative, ~ε·|L|/h from rounding.
            let h = 1e-5;
            let check = |analytic: f64, plus: f64, minus: f64, what: &str| {
                let numeric = (plus - minus) / (2.0 * h);
                let scale = analytic.abs().max(numeric.abs()).max(1e-3);
                assert!((analytic - numeric).abs() / scale < 1e-6, "{what}: {analytic} vs {numeric}");
            };
            for i in 0..l.weights.len() {
                let (mut p, mut m) = (l.clone(), l.clone());
                p.weights[i] += h;
                m.weights[i] -= h;
                check(gw[i], loss(&p, &x, batch, &r), loss(&m, &x, batch, &r), "∂L/∂W");
            }
            for i in 0..out.channels {
                let (mut p, mut m) = (l.clone(), l.clone());
                p.bias[i] += h;
                m.bias[i] -= h;
                check(gb[i], loss(&p, &x, batch, &r), loss(&m, &x, batch, &r), "∂L/∂b");
            }
            for i in 0..x.len() {
                let (mut p, mut m) = (x.clone(), x.clone());
                p[i] += h;
                m[i] -= h;
                check(gx[i], loss(&l, &p, batch, &r), loss(&l, &m, batch, &r), "∂L/∂x");
            }
        }
    }
}
