//! A dense (fully connected) layer, `z = Wx + b`, `a = f(z)`, on a whole mini-batch at once.
//!
//! The batch is stored row-major, one sample per row, so in matrix form the layer computes
//! `Z = X·Wᵀ + 𝟙bᵀ` — the transpose of the article's column form `z = Wx + b`, with the same `W`
//! (outputs × inputs). Each product in the formulas is one GEMM call; transposes are strides.

use crate::activation::Activation;
use crate::error::{Result, shape_error};
use crate::kernels::{
    Float, Operand, PackedWeights, SparseScratch, matmul, matmul_sparse_dt_x_packed, matmul_sparse_dt_x_rows,
    matmul_sparse_x_listed, matmul_sparse_x_listed_in, matmul_sparse_x_wt,
};

/// One fully connected layer: `W` (outputs × inputs, row-major, one row per neuron), `b`, and `f`.
#[derive(Clone, Debug, PartialEq)]
pub struct Dense<T> {
    /// Number of inputs `n_in` (the width of the layer below).
    pub inputs: usize,
    /// Number of neurons `n_out`.
    pub outputs: usize,
    /// `W`, row `j` holding neuron `j`'s weights `w_jᵀ`.
    pub weights: Vec<T>,
    /// `b`, one bias per neuron.
    pub bias: Vec<T>,
    /// `f`, applied to `z`.
    pub activation: Activation,
}

/// How a layer's `W` reaches its sparse-input products ([`Dense::forward_sparse`]); each gives
/// the same bits.
#[derive(Clone, Copy, Debug)]
pub enum SparseWeights<'a> {
    /// As the layer stores it (outputs × inputs), with a copy packed for this step if the caller
    /// made one (a split batch's halves share it); else the product packs it block by block.
    Rows(Option<&'a PackedWeights>),
    /// The layer's `W` itself, and the gradient wanted for it, are in the products' packed layout
    /// ([`crate::kernels::pack_rows`]): the trainer holds the first layer's so during an epoch
    /// whose inputs list, so that no step packs `W` or transposes `∂L/∂W` into `W`'s layout.
    Packed,
}

impl<T: Float> Dense<T> {
    /// A layer with all weights and biases zero (fill them with [`crate::Init`]).
    pub fn zeros(inputs: usize, outputs: usize, activation: Activation) -> Self {
        Self { inputs, outputs, weights: vec![T::zero(); inputs * outputs], bias: vec![T::zero(); outputs], activation }
    }

    /// A layer from given `W` (rows of length `inputs`) and `b`, checking their shapes.
    pub fn from_rows(weights: &[Vec<T>], bias: &[T], activation: Activation) -> Result<Self> {
        let outputs = weights.len();
        let inputs = weights.first().map_or(0, Vec::len);
        if outputs == 0 || inputs == 0 {
            return Err(shape_error(
                "layer weights",
                "a non-empty outputs × inputs matrix",
                format!("{outputs} rows"),
                None,
            ));
        }
        if let Some((i, r)) = weights.iter().enumerate().find(|(_, r)| r.len() != inputs) {
            return Err(shape_error(
                format!("row {i} of W"),
                format!("{inputs} entries like row 0"),
                format!("{} entries", r.len()),
                None,
            ));
        }
        if bias.len() != outputs {
            return Err(shape_error(
                "bias b",
                format!("{outputs} entries (one per row of W)"),
                format!("{} entries", bias.len()),
                None,
            ));
        }
        Ok(Self { inputs, outputs, weights: weights.concat(), bias: bias.to_vec(), activation })
    }

    /// Number of trainable parameters, `n_out·n_in + n_out`.
    pub fn parameter_count(&self) -> usize {
        self.weights.len() + self.bias.len()
    }

    /// Forward on a batch: `Z = X·Wᵀ + b`, `A = f(Z)`. `x` is batch × inputs; `z`, `a` batch × outputs.
    pub fn forward(&self, x: &[T], batch: usize, z: &mut [T], a: &mut [T], threads: usize) {
        self.forward_with(&self.weights, x, batch, z, a, threads);
    }

    /// [`Dense::forward`] with `weights` (outputs × inputs, as the layer stores them) in place of
    /// the layer's own: a copy, while the trainer holds those in another layout.
    pub(crate) fn forward_with(&self, weights: &[T], x: &[T], batch: usize, z: &mut [T], a: &mut [T], threads: usize) {
        let (z, a) = (&mut z[..batch * self.outputs], &mut a[..batch * self.outputs]);
        matmul(
            batch,
            self.outputs,
            self.inputs,
            Operand::plain(&x[..batch * self.inputs]),
            Operand::t(&weights[..self.outputs * self.inputs]),
            z,
            false,
            threads,
        );
        self.activation.forward_rows(z, &self.bias, a);
    }

    /// [`Dense::forward`] for inputs that are mostly zeros (an image's blank pixels), with the
    /// products of the zeros skipped (see [`crate::kernels::matmul_sparse_x_wt`]), `W` taken as
    /// `weights` says (the same values: the same bits). Returns `false`, having done nothing,
    /// where that does not apply (then use [`Dense::forward`], from `W` unpacked if it is held
    /// packed).
    pub fn forward_sparse(
        &self,
        x: &[T],
        batch: usize,
        z: &mut [T],
        a: &mut [T],
        scratch: &mut SparseScratch<T>,
        weights: SparseWeights<'_>,
    ) -> bool {
        let (z, a) = (&mut z[..batch * self.outputs], &mut a[..batch * self.outputs]);
        let x = &x[..batch * self.inputs];
        let done = match weights {
            SparseWeights::Rows(None) => {
                matmul_sparse_x_wt(x, batch, self.inputs, &self.weights, self.outputs, z, scratch)
            }
            // `W` packed once for this step (both halves of a split batch read it).
            SparseWeights::Rows(Some(p)) => {
                scratch.list_inputs(x, batch, self.inputs) && {
                    matmul_sparse_x_listed(p, z, scratch);
                    true
                }
            }
            SparseWeights::Packed => {
                scratch.list_inputs(x, batch, self.inputs) && {
                    matmul_sparse_x_listed_in(&self.weights, self.outputs, self.inputs, z, scratch);
                    true
                }
            }
        };
        if done {
            self.activation.forward_rows(z, &self.bias, a);
        }
        done
    }

    /// `∂L/∂W = δᵀX` alone (as [`Dense::backward`] computes it) for inputs that are mostly zeros,
    /// with the products of the zeros skipped, from the listing of `X`'s nonzero entries that
    /// [`Dense::forward_sparse`] left in `scratch` for this batch (see
    /// [`crate::kernels::matmul_sparse_dt_x_rows`]), into `grad_w` laid out as `W` is
    /// ([`SparseWeights::Packed`]: packed).
    pub fn backward_weights_sparse(
        &self,
        delta: &[T],
        batch: usize,
        grad_w: &mut [T],
        scratch: &SparseScratch<T>,
        weights: SparseWeights<'_>,
    ) {
        let delta = &delta[..batch * self.outputs];
        match weights {
            SparseWeights::Packed => {
                matmul_sparse_dt_x_packed(delta, self.outputs, 0, self.outputs, grad_w, &[scratch])
            }
            SparseWeights::Rows(_) => matmul_sparse_dt_x_rows(delta, self.outputs, 0, self.outputs, grad_w, &[scratch]),
        }
    }

    /// Backward on a batch, given this layer's `δ = ∂L/∂z` (batch × outputs) and its input `x`:
    /// `∂L/∂W = δᵀX` (summed over the batch), `∂L/∂b = Σ δ`, and, if asked, `∂L/∂x = δW`,
    /// which is `Wᵀδ` per sample — the first half of the δ recursion for the layer below.
    #[allow(clippy::too_many_arguments)]
    pub fn backward(
        &self,
        x: &[T],
        delta: &[T],
        batch: usize,
        grad_w: Option<&mut [T]>,
        grad_b: &mut [T],
        grad_x: Option<&mut [T]>,
        threads: usize,
    ) {
        let delta = &delta[..batch * self.outputs];
        if let Some(grad_w) = grad_w {
            matmul(
                self.outputs,
                self.inputs,
                batch,
                Operand::t(delta),
                Operand::plain(&x[..batch * self.inputs]),
                grad_w,
                false,
                threads,
            );
        }
        grad_b.fill(T::zero());
        for row in delta.chunks_exact(self.outputs) {
            for (g, &d) in grad_b.iter_mut().zip(row) {
                *g += d;
            }
        }
        if let Some(gx) = grad_x {
            matmul(
                batch,
                self.inputs,
                self.outputs,
                Operand::plain(delta),
                Operand::plain(&self.weights),
                &mut gx[..batch * self.inputs],
                false,
                threads,
            );
        }
    }
}
