//! A network: a stack of dense layers, forward propagation and backpropagation by the δ recursion.
//!
//! Forward:  `z⁽ˡ⁾ = W⁽ˡ⁾a⁽ˡ⁻¹⁾ + b⁽ˡ⁾`, `a⁽ˡ⁾ = f(z⁽ˡ⁾)`, `a⁽⁰⁾ = x`.
//! Backward: `δ⁽ᴸ⁾ = ∂L/∂z⁽ᴸ⁾` (from the loss), `δ⁽ˡ⁾ = (W⁽ˡ⁺¹⁾)ᵀδ⁽ˡ⁺¹⁾ ⊙ f′(z⁽ˡ⁾)`,
//! `∂L/∂W⁽ˡ⁾ = δ⁽ˡ⁾(a⁽ˡ⁻¹⁾)ᵀ`, `∂L/∂b⁽ˡ⁾ = δ⁽ˡ⁾` — here on a batch of rows, so each product is a
//! GEMM and `∂L/∂W`, `∂L/∂b` are sums over the batch of the per-sample terms (the loss is a mean, so
//! the `1/B` is already inside `δ⁽ᴸ⁾`). Layer `l` of the article is `layers[l − 1]` here.
//! All buffers live in a [`Workspace`] allocated once per batch size, so a training step allocates
//! nothing.

use crate::activation::Activation;
use crate::conv::{Conv2d, ConvScratch, Maps};
use crate::error::{Result, check_finite, shape_error};
use crate::init::Init;
use crate::kernels::{DROPOUT_LANES, Float, PACKED_CHUNK_ROWS, SparseScratch, dropout_rows, pack_rows, unpack_rows};
use crate::layer::{Dense, SparseWeights};
use crate::loss::Loss;
use crate::pool::MaxPool2d;
use crate::rng::{Rng, stream_state};

/// Batches of at least this many rows try the first layer's sparse-input product (one vector lane
/// per row: smaller batches would leave lanes empty).
const SPARSE_MIN_ROWS: usize = 16;

/// A feed-forward network trained against one loss: a convolutional part on images (none for a
/// fully connected network), then dense layers.
#[derive(Clone, Debug, PartialEq)]
pub struct Network<T> {
    /// The convolutional part, input side first; its output, flattened in (channel, row, column)
    /// order (its memory order), is the first dense layer's input. Empty for a fully connected
    /// network.
    pub features: Vec<Feature<T>>,
    /// The dense layers, input side first (`layers[0]` is the article's layer 1 when there is no
    /// convolutional part).
    pub layers: Vec<Dense<T>>,
    /// The loss the output layer is trained against.
    pub loss: Loss,
}

/// A layer of the convolutional part.
#[derive(Clone, Debug, PartialEq)]
pub enum Feature<T> {
    /// A convolution, `z = W ⊛ x + b`, `a = f(z)`.
    Conv(Conv2d<T>),
    /// 2×2 max pooling.
    Pool(MaxPool2d),
}

impl<T: Float> Feature<T> {
    /// The shape it takes (one sample).
    pub fn input(&self) -> Maps {
        match self {
            Feature::Conv(c) => c.input,
            Feature::Pool(p) => p.input,
        }
    }

    /// The shape it gives (one sample).
    pub fn output(&self) -> Maps {
        match self {
            Feature::Conv(c) => c.output(),
            Feature::Pool(p) => p.output(),
        }
    }

    /// Trainable parameters (none for pooling).
    pub fn parameter_count(&self) -> usize {
        match self {
            Feature::Conv(c) => c.parameter_count(),
            Feature::Pool(_) => 0,
        }
    }
}

/// A [`Workspace`]'s buffers for a forward pass driven outside [`Network::forward`].
pub(crate) struct ForwardBuffers<'a, T> {
    /// Each layer's `z`, batch × width.
    pub z: &'a mut [Vec<T>],
    /// Each layer's `a`, batch × width.
    pub a: &'a mut [Vec<T>],
    /// Listings of the first layer's input, one per half of a batch.
    pub listings: &'a mut [SparseScratch<T>; 2],
}

/// Per-layer buffers for one batch size: `z`, `a`, `δ` and the dropout mask of every layer.
#[derive(Clone, Debug)]
pub struct Workspace<T> {
    capacity: usize,
    threads: usize,
    z: Vec<Vec<T>>,
    a: Vec<Vec<T>>,
    delta: Vec<Vec<T>>,
    mask: Vec<Vec<T>>,
    dropped: Vec<Vec<T>>,
    sparse: SparseScratch<T>,
    /// Whether the last forward pass took the first layer's sparse product, leaving `sparse`
    /// holding its input's listing (which the backward pass reuses).
    sparse_listed: bool,
    /// Listings for batch inference's first layer (`Predictor`), one per half of a batch, for
    /// chunks of up to [`PACKED_CHUNK_ROWS`] rows (lists allocated on first use).
    predict_sparse: [SparseScratch<T>; 2],
    /// The first layer's `W` and `∂L/∂W` as the layer stores them, for a batch judged too dense
    /// for the sparse products while the trainer holds them packed ([`SparseWeights::Packed`]):
    /// sized on first use.
    first_rows: Vec<T>,
    first_grad_rows: Vec<T>,
    /// The convolutional part's `z` (convolutions only), `a`, `∂L/∂a` (then δ, for convolutions),
    /// pooling's winners, and each convolution's patches: one entry per feature layer.
    feature_z: Vec<Vec<T>>,
    feature_a: Vec<Vec<T>>,
    feature_g: Vec<Vec<T>>,
    winners: Vec<Vec<u32>>,
    /// Per feature layer, one patch buffer for each half of the batch, and the second half's
    /// `∂L/∂W`, `∂L/∂b` (convolutions only).
    patches: Vec<[ConvScratch<T>; 2]>,
    half_grads: Vec<(Vec<T>, Vec<T>)>,
}

impl<T: Float> Workspace<T> {
    /// Buffers for batches of up to `capacity` rows, using up to `threads` threads in the products.
    pub fn new(net: &Network<T>, capacity: usize, threads: usize) -> Self {
        let per_layer = |f: &dyn Fn(&Dense<T>) -> usize| -> Vec<Vec<T>> {
            net.layers.iter().map(|l| vec![T::zero(); f(l)]).collect()
        };
        Self {
            capacity,
            threads: threads.max(1),
            z: per_layer(&|l| capacity * l.outputs),
            a: per_layer(&|l| capacity * l.outputs),
            delta: per_layer(&|l| capacity * l.outputs),
            mask: Vec::new(),
            dropped: Vec::new(),
            sparse: SparseScratch::new(if net.features.is_empty() { net.inputs() } else { 0 }, capacity),
            sparse_listed: false,
            first_rows: Vec::new(),
            first_grad_rows: Vec::new(),
            predict_sparse: std::array::from_fn(|_| {
                SparseScratch::new(
                    if net.features.is_empty() { net.inputs() } else { 0 },
                    capacity.min(PACKED_CHUNK_ROWS),
                )
            }),
            feature_z: net
                .features
                .iter()
                .map(|f| match f {
                    Feature::Conv(c) => vec![T::zero(); capacity * c.output().len()],
                    Feature::Pool(_) => Vec::new(),
                })
                .collect(),
            feature_a: net.features.iter().map(|f| vec![T::zero(); capacity * f.output().len()]).collect(),
            feature_g: net.features.iter().map(|f| vec![T::zero(); capacity * f.output().len()]).collect(),
            winners: net
                .features
                .iter()
                .map(|f| match f {
                    Feature::Pool(p) => vec![0; capacity * p.output().len()],
                    Feature::Conv(_) => Vec::new(),
                })
                .collect(),
            patches: net
                .features
                .iter()
                .map(|f| match f {
                    Feature::Conv(c) => [ConvScratch::new(c, true), ConvScratch::new(c, true)],
                    Feature::Pool(_) => Default::default(),
                })
                .collect(),
            half_grads: net
                .features
                .iter()
                .map(|f| match f {
                    Feature::Conv(c) => (vec![T::zero(); c.weights.len()], vec![T::zero(); c.bias.len()]),
                    Feature::Pool(_) => (Vec::new(), Vec::new()),
                })
                .collect(),
        }
    }

    /// The convolutional part's output `a` (batch × its flattened size) of the last pass: the first
    /// dense layer's input. Empty without a convolutional part.
    pub fn features_output(&self) -> &[T] {
        self.feature_a.last().map_or(&[], |a| &a[..])
    }

    /// `a` of feature layer `k` (zero-based) in the last forward pass, batch × C×H×W.
    pub fn feature_a(&self, k: usize) -> &[T] {
        &self.feature_a[k]
    }

    /// Every layer's `z` and `a`, and the listings of batch inference's halves, for a forward
    /// pass driven outside [`Network::forward`] (`Predictor`).
    pub(crate) fn forward_buffers_mut(&mut self) -> ForwardBuffers<'_, T> {
        ForwardBuffers { z: &mut self.z, a: &mut self.a, listings: &mut self.predict_sparse }
    }

    /// The input of layer `l` (zero-based) in the last pass: `x` for the first layer, else
    /// `a⁽ˡ⁻¹⁾` (after dropout, when the pass had `dropout`).
    pub(crate) fn input<'a>(&'a self, l: usize, x: &'a [T], dropout: bool) -> &'a [T] {
        match l {
            0 if !self.feature_a.is_empty() => self.features_output(),
            0 => x,
            _ if dropout => &self.dropped[l - 1],
            _ => &self.a[l - 1],
        }
    }

    /// The listing of the first layer's input that the last forward pass made for its sparse
    /// product, if it took it (for a weight gradient taken outside
    /// [`Network::loss_and_gradients`]).
    pub(crate) fn sparse_listing(&self) -> Option<&SparseScratch<T>> {
        self.sparse_listed.then_some(&self.sparse)
    }

    /// Whether every pass here lists the first layer's inputs when asked ([`SparseWeights::Packed`]):
    /// its products run on one thread, and its scratch takes every batch it holds.
    pub(crate) fn lists_first_layer(&self) -> bool {
        self.threads == 1 && self.sparse.capacity() >= self.capacity
    }

    /// The largest batch these buffers hold.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Threads the products may use.
    pub fn threads(&self) -> usize {
        self.threads
    }

    /// `z⁽ˡ⁾` of the last forward pass (layer index from 0), batch × width.
    pub fn z(&self, layer: usize) -> &[T] {
        &self.z[layer]
    }

    /// `a⁽ˡ⁾` of the last forward pass (before dropout), batch × width.
    pub fn a(&self, layer: usize) -> &[T] {
        &self.a[layer]
    }

    /// `δ⁽ˡ⁾ = ∂L/∂z⁽ˡ⁾` of the last backward pass, batch × width.
    pub fn delta(&self, layer: usize) -> &[T] {
        &self.delta[layer]
    }

    fn ensure_dropout_buffers(&mut self) {
        if self.mask.len() != self.a.len() {
            self.mask = self.a.iter().map(|v| vec![T::zero(); v.len()]).collect();
            self.dropped = self.a.iter().map(|v| vec![T::zero(); v.len()]).collect();
        }
    }
}

/// `∂L/∂W⁽ˡ⁾` and `∂L/∂b⁽ˡ⁾` for every layer, shaped like the parameters.
#[derive(Clone, Debug, PartialEq)]
pub struct Gradients<T> {
    /// `∂L/∂W` per layer (outputs × inputs).
    pub weights: Vec<Vec<T>>,
    /// `∂L/∂b` per layer.
    pub bias: Vec<Vec<T>>,
    /// `∂L/∂W` of each convolution of the convolutional part, in order (pooling has none).
    pub conv_weights: Vec<Vec<T>>,
    /// `∂L/∂b` of each convolution.
    pub conv_bias: Vec<Vec<T>>,
}

impl<T: Float> Gradients<T> {
    /// Zero gradients shaped like `net`'s parameters.
    pub fn zeros(net: &Network<T>) -> Self {
        Self {
            weights: net.layers.iter().map(|l| vec![T::zero(); l.weights.len()]).collect(),
            bias: net.layers.iter().map(|l| vec![T::zero(); l.bias.len()]).collect(),
            conv_weights: net.convs().map(|c| vec![T::zero(); c.weights.len()]).collect(),
            conv_bias: net.convs().map(|c| vec![T::zero(); c.bias.len()]).collect(),
        }
    }

    /// Every gradient tensor, in the optimizer's order (as [`Gradients::tensors_mut`]).
    pub fn tensors(&self) -> impl Iterator<Item = &Vec<T>> {
        let dense = self.weights.iter().zip(&self.bias).flat_map(|(w, b)| [w, b]);
        let conv = self.conv_weights.iter().zip(&self.conv_bias).flat_map(|(w, b)| [w, b]);
        dense.chain(conv)
    }

    /// Every gradient tensor, in the optimizer's order: each dense layer's `∂L/∂W`, `∂L/∂b`, then
    /// each convolution's.
    pub fn tensors_mut(&mut self) -> impl Iterator<Item = &mut Vec<T>> {
        let dense = self.weights.iter_mut().zip(self.bias.iter_mut()).flat_map(|(w, b)| [w, b]);
        let conv = self.conv_weights.iter_mut().zip(self.conv_bias.iter_mut()).flat_map(|(w, b)| [w, b]);
        dense.chain(conv)
    }

    /// The Euclidean norm of each layer's gradient (weights and biases together).
    pub fn layer_norms(&self) -> Vec<f64> {
        self.weights
            .iter()
            .zip(&self.bias)
            .map(|(w, b)| w.iter().chain(b).map(|&g| g.f64() * g.f64()).sum::<f64>().sqrt())
            .collect()
    }
}

/// Runs `a` and `b`, on two threads when `threads > 1`.
fn both(threads: usize, a: impl FnOnce() + Send, b: impl FnOnce() + Send) {
    if threads > 1 {
        rayon::join(a, b);
    } else {
        a();
        b();
    }
}

/// Keeps dropout's generators apart from the other per-row streams of a run.
const DROPOUT_KEY: u64 = 0xd0d0_0001;

/// Inverted dropout on hidden layers during training: each hidden activation is zeroed with
/// probability `p` and the survivors scaled by `1/(1 − p)`, so inference needs no change.
///
/// Each row's masks come from a generator of its own, keyed by `seed` and the row's number in the
/// data set ([`crate::rng::stream`]): they do not depend on how a batch is split between threads
/// or processes.
#[derive(Clone, Copy, Debug)]
pub struct Dropout<'r> {
    /// Probability of dropping a hidden unit, in `[0, 1)`.
    pub p: f64,
    /// The run's seed.
    pub seed: u64,
    /// The epoch, from 0: a row's masks are drawn afresh each epoch.
    pub epoch: usize,
    /// The batch's rows' numbers in the data set.
    pub rows: &'r [usize],
}

impl<T: Float> Network<T> {
    /// A network with one activation per layer, initialised from `rng` (the usual way in is an
    /// [`Architecture`](crate::architecture::Architecture) and its `build`).
    pub fn with_activations(
        sizes: &[usize],
        activations: &[Activation],
        loss: Loss,
        init: Init,
        rng: &mut Rng,
    ) -> Result<Self> {
        if sizes.len() < 2 {
            return Err(shape_error(
                "layer sizes",
                "at least an input and an output width (e.g. 784,128,10)",
                format!("{sizes:?}"),
                None,
            ));
        }
        if let Some(i) = sizes.iter().position(|&s| s == 0) {
            return Err(shape_error(
                "layer sizes",
                "widths ≥ 1",
                format!("width 0 at position {i} of {sizes:?}"),
                None,
            ));
        }
        if activations.len() != sizes.len() - 1 {
            return Err(shape_error(
                "activations",
                format!("one per layer ({})", sizes.len() - 1),
                format!("{}", activations.len()),
                None,
            ));
        }
        let layers = sizes
            .windows(2)
            .zip(activations)
            .map(|(w, &act)| {
                let mut layer = Dense::zeros(w[0], w[1], act);
                init.fill(w[0], w[1], &mut layer.weights, &mut layer.bias, rng);
                layer
            })
            .collect();
        Self::from_layers(layers, loss)
    }

    /// A network from ready layers, checking that each layer's input width is the previous output
    /// width and that the loss suits the output activation.
    pub fn from_layers(layers: Vec<Dense<T>>, loss: Loss) -> Result<Self> {
        let Some(last) = layers.last() else {
            return Err(shape_error("network", "at least one layer", "none", None));
        };
        loss.check_output(last.activation)?;
        for (i, pair) in layers.windows(2).enumerate() {
            if pair[1].inputs != pair[0].outputs {
                return Err(shape_error(
                    format!("layer {}", i + 2),
                    format!("{} inputs (layer {}'s output width)", pair[0].outputs, i + 1),
                    format!("{} inputs", pair[1].inputs),
                    Some("check the layer sizes".into()),
                ));
            }
        }
        for (i, l) in layers.iter().enumerate() {
            if l.weights.len() != l.inputs * l.outputs || l.bias.len() != l.outputs {
                return Err(shape_error(
                    format!("layer {}", i + 1),
                    format!("W {}×{} and b {}", l.outputs, l.inputs, l.outputs),
                    format!("{} weights and {} biases", l.weights.len(), l.bias.len()),
                    None,
                ));
            }
        }
        Ok(Self { features: Vec::new(), layers, loss })
    }

    /// A network with a convolutional part before `layers`, checking that each feature layer takes
    /// the shape the one before gives, and that the first dense layer takes the last one's output,
    /// flattened.
    pub fn with_features(features: Vec<Feature<T>>, layers: Vec<Dense<T>>, loss: Loss) -> Result<Self> {
        let mut net = Self::from_layers(layers, loss)?;
        for (i, pair) in features.windows(2).enumerate() {
            if pair[1].input() != pair[0].output() {
                return Err(shape_error(
                    format!("convolutional layer {}", i + 2),
                    format!("input maps {} (layer {}'s output)", pair[0].output(), i + 1),
                    format!("{}", pair[1].input()),
                    None,
                ));
            }
        }
        for (i, f) in features.iter().enumerate() {
            if let Feature::Conv(c) = f {
                let n = c.out_channels * c.patch_len();
                if c.weights.len() != n || c.bias.len() != c.out_channels {
                    return Err(shape_error(
                        format!("convolutional layer {}", i + 1),
                        format!("W of {n} and b of {}", c.out_channels),
                        format!("{} weights and {} biases", c.weights.len(), c.bias.len()),
                        None,
                    ));
                }
            }
        }
        if let Some(last) = features.last()
            && last.output().len() != net.layers[0].inputs
        {
            return Err(shape_error(
                "the first dense layer",
                format!(
                    "{} inputs (the convolutional part's output {}, flattened)",
                    last.output().len(),
                    last.output()
                ),
                format!("{} inputs", net.layers[0].inputs),
                None,
            ));
        }
        net.features = features;
        Ok(net)
    }

    /// The convolutions of the convolutional part, in order.
    pub fn convs(&self) -> impl Iterator<Item = &Conv2d<T>> {
        self.features.iter().filter_map(|f| match f {
            Feature::Conv(c) => Some(c),
            Feature::Pool(_) => None,
        })
    }

    /// Every parameter tensor, in the optimizer's order: each dense layer's `W`, `b`, then each
    /// convolution's.
    pub fn tensors(&self) -> impl Iterator<Item = &Vec<T>> {
        let dense = self.layers.iter().flat_map(|l| [&l.weights, &l.bias]);
        let conv = self.convs().flat_map(|c| [&c.weights, &c.bias]);
        dense.chain(conv)
    }

    /// Every parameter tensor, in the optimizer's order (as [`Gradients::tensors_mut`]).
    pub fn tensors_mut(&mut self) -> impl Iterator<Item = &mut Vec<T>> {
        let dense = self.layers.iter_mut().flat_map(|l| [&mut l.weights, &mut l.bias]);
        let conv = self
            .features
            .iter_mut()
            .filter_map(|f| match f {
                Feature::Conv(c) => Some([&mut c.weights, &mut c.bias]),
                Feature::Pool(_) => None,
            })
            .flatten();
        dense.chain(conv)
    }

    /// Width of the input `x` (C·H·W for a convolutional network).
    pub fn inputs(&self) -> usize {
        self.features.first().map_or(self.layers[0].inputs, |f| f.input().len())
    }

    /// The input's shape when the network starts with a convolutional part.
    pub fn input_maps(&self) -> Option<Maps> {
        self.features.first().map(Feature::input)
    }

    /// Width of the output `a⁽ᴸ⁾`.
    pub fn outputs(&self) -> usize {
        self.layers[self.layers.len() - 1].outputs
    }

    /// The dense layers' widths, their input first (e.g. `[784, 128, 10]`; for a convolutional
    /// network the first is the convolutional part's flattened output).
    pub fn sizes(&self) -> Vec<usize> {
        std::iter::once(self.layers[0].inputs).chain(self.layers.iter().map(|l| l.outputs)).collect()
    }

    /// Total number of trainable parameters.
    pub fn parameter_count(&self) -> usize {
        self.layers.iter().map(Dense::parameter_count).sum::<usize>()
            + self.features.iter().map(Feature::parameter_count).sum::<usize>()
    }

    /// Checks that `x` holds `batch` rows of the input width and only finite numbers.
    pub fn check_input(&self, x: &[T], batch: usize) -> Result<()> {
        if x.len() != batch * self.inputs() {
            return Err(shape_error(
                "input batch",
                format!("{batch} rows of {} values ({})", self.inputs(), batch * self.inputs()),
                format!("{} values", x.len()),
                Some(format!("the network's first layer takes {} inputs", self.inputs())),
            ));
        }
        check_finite("input", x, self.inputs())
    }

    /// Forward propagation of a batch (rows of `x`); returns `a⁽ᴸ⁾`, batch × outputs.
    ///
    /// The caller guarantees the shapes (see [`Network::check_input`]); buffers come from `ws`.
    pub fn forward<'w>(&self, x: &[T], batch: usize, ws: &'w mut Workspace<T>) -> &'w [T] {
        self.forward_impl(x, batch, ws, None, SparseWeights::Rows(None));
        let last = self.layers.len() - 1;
        &ws.a[last][..batch * self.outputs()]
    }

    /// The forward pass; `first`: how the first layer's `W` is held for this step.
    fn forward_impl(
        &self,
        x: &[T],
        batch: usize,
        ws: &mut Workspace<T>,
        dropout: Option<Dropout<'_>>,
        first: SparseWeights<'_>,
    ) {
        assert!(batch <= ws.capacity, "batch {batch} exceeds workspace capacity {}", ws.capacity);
        let drop_p = dropout.as_ref().map_or(0.0, |d| d.p);
        if drop_p > 0.0 {
            ws.ensure_dropout_buffers();
        }
        self.forward_features(x, batch, ws);
        let nf = self.features.len();
        let last = self.layers.len() - 1;
        for (l, layer) in self.layers.iter().enumerate() {
            let (prev_a, cur_a) = ws.a.split_at_mut(l);
            let input: &[T] = if l == 0 && nf > 0 {
                &ws.feature_a[nf - 1]
            } else if l == 0 {
                x
            } else if drop_p > 0.0 {
                &ws.dropped[l - 1]
            } else {
                &prev_a[l - 1]
            };
            // The first layer's input may be mostly zeros (an image's blank pixels); on one thread
            // (a split batch's half, or a one-thread run) their products are skipped.
            let sparse = l == 0
                && nf == 0
                && ws.threads == 1
                && batch >= SPARSE_MIN_ROWS
                && layer.forward_sparse(input, batch, &mut ws.z[l], &mut cur_a[0], &mut ws.sparse, first);
            if l == 0 {
                ws.sparse_listed = sparse;
            }
            if !sparse && l == 0 && matches!(first, SparseWeights::Packed) {
                // A batch too dense for the sparse products takes the dense one, as it would with
                // `W` laid out as the layer stores it: from such a copy, the same bits.
                ws.first_rows.resize(layer.outputs * layer.inputs, T::zero());
                unpack_rows(&layer.weights, layer.outputs, layer.inputs, &mut ws.first_rows);
                layer.forward_with(&ws.first_rows, input, batch, &mut ws.z[l], &mut cur_a[0], ws.threads);
            } else if !sparse {
                layer.forward(input, batch, &mut ws.z[l], &mut cur_a[0], ws.threads);
            }
            if l < last
                && drop_p > 0.0
                && let Some(d) = dropout
            {
                let (n, width) = (batch * layer.outputs, layer.outputs);
                let keep = T::of(1.0 / (1.0 - drop_p));
                // Unit i of a row is dropped when its stream's i-th draw, as an f64 in [0, 1)
                // (the top 53 bits × 2⁻⁵³), is below p: when the top 53 bits are below ⌈p·2⁵³⌉.
                let below = (drop_p * (1u64 << 53) as f64).ceil() as u64;
                let (mask, out, a) = (&mut ws.mask[l][..n], &mut ws.dropped[l][..n], &cur_a[0][..n]);
                for (c, ids) in d.rows[..batch.min(d.rows.len())].chunks(DROPOUT_LANES).enumerate() {
                    let mut states = [[0u64; DROPOUT_LANES]; 4];
                    for (lane, row) in ids.iter().enumerate() {
                        let s = stream_state(d.seed, &[DROPOUT_KEY, d.epoch as u64, *row as u64, l as u64]);
                        for (w, v) in states.iter_mut().zip(s) {
                            w[lane] = v;
                        }
                    }
                    let span = c * DROPOUT_LANES * width..(c * DROPOUT_LANES + ids.len()) * width;
                    let (a, mask, out) = (&a[span.clone()], &mut mask[span.clone()], &mut out[span]);
                    dropout_rows(&mut states, width, below, keep, a, mask, out);
                }
            }
        }
    }

    /// The convolutional part's forward pass: each feature layer's `z` and `a` into `ws`, the last
    /// `a` being the first dense layer's input. The batch is cut in two fixed halves (the first
    /// `⌊B/2⌋` rows and the rest), computed on two threads when the workspace has them.
    fn forward_features(&self, x: &[T], batch: usize, ws: &mut Workspace<T>) {
        let (h, threads) = (batch / 2, ws.threads);
        for (k, f) in self.features.iter().enumerate() {
            let (before, here) = ws.feature_a.split_at_mut(k);
            let input: &[T] = if k == 0 { x } else { &before[k - 1] };
            let (li, lo) = (f.input().len(), f.output().len());
            let (x0, x1) = input[..batch * li].split_at(h * li);
            let (a0, a1) = here[0][..batch * lo].split_at_mut(h * lo);
            match f {
                Feature::Conv(c) => {
                    let (z0, z1) = ws.feature_z[k][..batch * lo].split_at_mut(h * lo);
                    let [s0, s1] = &mut ws.patches[k];
                    both(threads, || c.forward(x0, h, z0, a0, s0), || c.forward(x1, batch - h, z1, a1, s1));
                }
                Feature::Pool(p) => {
                    let (w0, w1) = ws.winners[k][..batch * lo].split_at_mut(h * lo);
                    both(threads, || p.forward(x0, h, a0, w0), || p.forward(x1, batch - h, a1, w1));
                }
            }
        }
    }

    /// One forward and backward pass: returns the batch-mean loss and writes `∂L/∂W`, `∂L/∂b` of
    /// every layer into `grads`. `y` holds the targets, batch × outputs.
    pub fn loss_and_gradients(
        &self,
        x: &[T],
        y: &[T],
        batch: usize,
        ws: &mut Workspace<T>,
        grads: &mut Gradients<T>,
        dropout: Option<Dropout<'_>>,
    ) -> f64 {
        self.loss_and_gradients_except(x, y, batch, ws, grads, dropout, &[], 1.0, SparseWeights::Rows(None))
    }

    /// [`Network::loss_and_gradients`], leaving out `∂L/∂W⁽ˡ⁾` for the layers `l` (zero-based) with
    /// `skip_weights[l]` set: the trainer computes those for a whole split batch at once (see
    /// `train`); every gradient is multiplied by `scale` (a process's share of a batch split
    /// between processes, so that their sum is the batch's mean). Their `δ⁽ˡ⁾` and inputs stay in `ws` ([`Workspace::delta`], [`Workspace::input`]).
    /// `first`: how the first layer's `W` is held for this step ([`SparseWeights`]).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn loss_and_gradients_except(
        &self,
        x: &[T],
        y: &[T],
        batch: usize,
        ws: &mut Workspace<T>,
        grads: &mut Gradients<T>,
        dropout: Option<Dropout<'_>>,
        skip_weights: &[bool],
        scale: f64,
        first: SparseWeights<'_>,
    ) -> f64 {
        let drop_p = dropout.as_ref().map_or(0.0, |d| d.p);
        self.forward_impl(x, batch, ws, dropout, first);
        let last = self.layers.len() - 1;
        let width = self.outputs();
        let n = batch * width;
        let out = &self.layers[last];
        let y = &y[..n];
        let loss = self.loss.value(out.activation, &ws.z[last][..n], &ws.a[last][..n], y, width);
        // δ⁽ᴸ⁾ = ∂L/∂z⁽ᴸ⁾
        self.loss.output_delta(out.activation, &ws.z[last][..n], &ws.a[last][..n], y, width, &mut ws.delta[last][..n]);
        if scale != 1.0 {
            // Every gradient below is linear in δ⁽ᴸ⁾: scaling it scales them all, at the cost of
            // one pass over batch × outputs numbers.
            let s = T::of(scale);
            ws.delta[last][..n].iter_mut().for_each(|d| *d *= s);
        }
        let nf = self.features.len();
        for l in (0..=last).rev() {
            let layer = &self.layers[l];
            let input: &[T] = if l == 0 && nf > 0 {
                &ws.feature_a[nf - 1]
            } else if l == 0 {
                x
            } else if drop_p > 0.0 {
                &ws.dropped[l - 1]
            } else {
                &ws.a[l - 1]
            };
            let (below, here) = ws.delta.split_at_mut(l);
            // ∂L/∂W⁽ˡ⁾ = δ⁽ˡ⁾(a⁽ˡ⁻¹⁾)ᵀ, ∂L/∂b⁽ˡ⁾ = δ⁽ˡ⁾, and (W⁽ˡ⁾)ᵀδ⁽ˡ⁾ into the layer below's δ
            // (for the first dense layer of a convolutional network, into ∂L/∂a of the
            // convolutional part's output).
            let grad_x = if l > 0 {
                Some(&mut below[l - 1][..])
            } else if nf > 0 {
                Some(&mut ws.feature_g[nf - 1][..])
            } else {
                None
            };
            let mut grad_w = (!skip_weights.get(l).copied().unwrap_or(false)).then_some(&mut grads.weights[l][..]);
            // Where the forward pass skipped the first layer's zero inputs, so does ∂L/∂W, from
            // the same listing.
            if l == 0
                && ws.sparse_listed
                && let Some(gw) = grad_w.take()
            {
                layer.backward_weights_sparse(&here[0], batch, gw, &ws.sparse, first);
            }
            // With `W` held packed, a batch too dense to list takes the dense product into the
            // layer's own layout, packed after.
            let pack_grad = l == 0 && grad_w.is_some() && matches!(first, SparseWeights::Packed);
            if pack_grad {
                ws.first_grad_rows.resize(layer.outputs * layer.inputs, T::zero());
                grad_w = Some(&mut ws.first_grad_rows[..]);
            }
            layer.backward(input, &here[0], batch, grad_w, &mut grads.bias[l], grad_x, ws.threads);
            if pack_grad {
                pack_rows(&ws.first_grad_rows, layer.outputs, layer.inputs, &mut grads.weights[0]);
            }
            if l > 0 {
                let m = batch * layer.inputs;
                let d = &mut ws.delta[l - 1][..m];
                if drop_p > 0.0 {
                    for (di, &mi) in d.iter_mut().zip(&ws.mask[l - 1][..m]) {
                        *di *= mi;
                    }
                }
                // δ⁽ˡ⁻¹⁾ = (W⁽ˡ⁾)ᵀδ⁽ˡ⁾ ⊙ f′(z⁽ˡ⁻¹⁾)
                let below_layer = &self.layers[l - 1];
                below_layer.activation.backprop_rows(&ws.z[l - 1][..m], &ws.a[l - 1][..m], d, below_layer.outputs);
            }
        }
        self.backward_features(x, batch, ws, grads);
        loss
    }

    /// The δ recursion through the convolutional part, from `∂L/∂a` of its output (in `ws`):
    /// for a convolution `δ = ∂L/∂a ⊙ f′(z)`, then `∂L/∂W`, `∂L/∂b` and `∂L/∂a` of the layer below
    /// ([`Conv2d::backward`]); pooling routes `∂L/∂a` to the winners ([`MaxPool2d::backward`]).
    fn backward_features(&self, x: &[T], batch: usize, ws: &mut Workspace<T>, grads: &mut Gradients<T>) {
        let (h, threads) = (batch / 2, ws.threads);
        let mut conv = self.convs().count();
        for k in (0..self.features.len()).rev() {
            let f = &self.features[k];
            let (li, lo) = (f.input().len(), f.output().len());
            let (below, here) = ws.feature_g.split_at_mut(k);
            let g = &mut here[0][..batch * lo];
            let input: &[T] = if k == 0 { x } else { &ws.feature_a[k - 1] };
            let (x0, x1) = input[..batch * li].split_at(h * li);
            let (gx0, gx1) = match below.last_mut() {
                Some(gx) => {
                    let (p, q) = gx[..batch * li].split_at_mut(h * li);
                    (Some(p), Some(q))
                }
                None => (None, None),
            };
            match f {
                Feature::Conv(c) => {
                    conv -= 1;
                    // δ = ∂L/∂a ⊙ f′(z), each half on its own thread, then the half's gradients.
                    let (z0, z1) = ws.feature_z[k][..batch * lo].split_at(h * lo);
                    let (a0, a1) = ws.feature_a[k][..batch * lo].split_at(h * lo);
                    let (g0, g1) = g.split_at_mut(h * lo);
                    let (gw, gb) = (&mut grads.conv_weights[conv], &mut grads.conv_bias[conv]);
                    let (gw1, gb1) = &mut ws.half_grads[k];
                    let [s0, s1] = &mut ws.patches[k];
                    both(
                        threads,
                        || {
                            c.activation.backprop_rows(z0, a0, g0, lo);
                            c.backward(x0, g0, h, gw, gb, gx0, s0)
                        },
                        || {
                            c.activation.backprop_rows(z1, a1, g1, lo);
                            c.backward(x1, g1, batch - h, gw1, gb1, gx1, s1)
                        },
                    );
                    // The halves' sums added in a fixed order: the same bits on one thread or two.
                    for (p, q) in gw.iter_mut().zip(gw1.iter()).chain(gb.iter_mut().zip(gb1.iter())) {
                        *p += *q;
                    }
                }
                Feature::Pool(p) => {
                    if let (Some(gx0), Some(gx1)) = (gx0, gx1) {
                        let (g0, g1) = g.split_at(h * lo);
                        let (w0, w1) = ws.winners[k][..batch * lo].split_at(h * lo);
                        both(threads, || p.backward(g0, w0, h, gx0), || p.backward(g1, w1, batch - h, gx1));
                    }
                }
            }
        }
    }

    /// Outputs for `rows` samples of `x` (allocates; for one-off use, not a training loop).
    pub fn predict(&self, x: &[T], rows: usize) -> Result<Vec<T>> {
        self.check_input(x, rows)?;
        let chunk = rows.clamp(1, 1024);
        let mut ws = Workspace::new(self, chunk, 1);
        let mut out = Vec::with_capacity(rows * self.outputs());
        for xs in x.chunks(chunk * self.inputs()) {
            let b = xs.len() / self.inputs();
            out.extend_from_slice(self.forward(xs, b, &mut ws));
        }
        Ok(out)
    }

    /// Converts every parameter to another precision (e.g. a trained `f32` model to `f64`).
    pub fn cast<U: Float>(&self) -> Network<U> {
        let values = |v: &[T]| v.iter().map(|&w| U::of(w.f64())).collect::<Vec<U>>();
        Network {
            features: self
                .features
                .iter()
                .map(|f| match f {
                    Feature::Conv(c) => Feature::Conv(Conv2d {
                        input: c.input,
                        out_channels: c.out_channels,
                        kernel: c.kernel,
                        padding: c.padding,
                        weights: values(&c.weights),
                        bias: values(&c.bias),
                        activation: c.activation,
                    }),
                    Feature::Pool(p) => Feature::Pool(*p),
                })
                .collect(),
            layers: self
                .layers
                .iter()
                .map(|l| Dense {
                    inputs: l.inputs,
                    outputs: l.outputs,
                    weights: l.weights.iter().map(|&w| U::of(w.f64())).collect(),
                    bias: l.bias.iter().map(|&b| U::of(b.f64())).collect(),
                    activation: l.activation,
                })
                .collect(),
            loss: self.loss,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::architecture::Architecture;
    use rand::Rng as _;

    /// Dropout's 8 rows side by side against each row's own stream, drawn one unit at a time:
    /// f32 (the vector kernel on AVX-512) and f64 (the scalar loop), widths below, at and past a
    /// block of 64 units.
    fn dropout_rows_draw_what_each_row_s_stream_draws<T: Float>() {
        use crate::kernels::xoshiro_step;
        use crate::rng::stream;
        let (p, keep) = (0.3, 1.0 / 0.7);
        let below = (p * (1u64 << 53) as f64).ceil() as u64;
        for (rows, width) in [(1usize, 37), (5, 64), (8, 130), (3, 200)] {
            let ids: Vec<u64> = (0..rows as u64).map(|r| 1000 + 7 * r).collect();
            let mut states = [[0u64; DROPOUT_LANES]; 4];
            for (lane, &id) in ids.iter().enumerate() {
                for (w, v) in states.iter_mut().zip(stream_state(9, &[DROPOUT_KEY, 2, id, 1])) {
                    w[lane] = v;
                }
            }
            let a: Vec<T> = (0..rows * width).map(|i| T::of(i as f64 * 0.5 - 3.0)).collect();
            let (mut mask, mut out) = (vec![T::of(f64::NAN); rows * width], vec![T::of(f64::NAN); rows * width]);
            dropout_rows(&mut states, width, below, T::of(keep), &a, &mut mask, &mut out);
            for (r, &id) in ids.iter().enumerate() {
                let mut g = stream(9, &[DROPOUT_KEY, 2, id, 1]);
                for i in 0..width {
                    let m = if g.random::<f64>() < p { T::zero() } else { T::of(keep) };
                    let at = r * width + i;
                    assert!(mask[at] == m && out[at] == a[at] * m, "row {r} of {rows}, unit {i} of {width}");
                }
                // The state handed back continues the row's stream.
                let mut s = std::array::from_fn(|w| states[w][r]);
                assert_eq!(xoshiro_step(&mut s), g.random::<u64>(), "row {r}: state after {width} draws");
            }
        }
    }

    #[test]
    fn dropout_rows_side_by_side_draw_what_each_row_s_stream_draws() {
        dropout_rows_draw_what_each_row_s_stream_draws::<f32>();
        dropout_rows_draw_what_each_row_s_stream_draws::<f64>();
        // The vector form runs exactly for f32 on AVX-512 (else the scalar loop checked above).
        let mut states = [[1u64; DROPOUT_LANES]; 4];
        let (a, mut mask, mut out) = ([1.0f32; 8], [0.0f32; 8], [0.0f32; 8]);
        let vector = crate::kernels::dropout_rows_vector(&mut states, 4, 1 << 52, 2.0, &a, &mut mask, &mut out);
        assert_eq!(vector, crate::kernels::Isa::detected() == crate::kernels::Isa::Avx512);
        let (a, mut mask, mut out) = ([1.0f64; 8], [0.0f64; 8], [0.0f64; 8]);
        assert!(!crate::kernels::dropout_rows_vector(&mut states, 4, 1 << 52, 2.0, &a, &mut mask, &mut out));
    }

    #[test]
    fn mismatched_layers_are_refused_with_the_layer_named() {
        let l1 = Dense::<f64>::zeros(4, 3, Activation::Relu);
        let l2 = Dense::<f64>::zeros(5, 2, Activation::Softmax);
        let e = Network::from_layers(vec![l1, l2], Loss::CrossEntropy).unwrap_err().to_string();
        assert!(e.contains("layer 2") && e.contains("3 inputs") && e.contains("5 inputs"), "{e}");
    }

    #[test]
    fn wrong_input_width_and_nan_are_refused() {
        let net = Architecture::mlp(&[3, 2], Activation::Identity, Activation::Identity, Loss::HalfMse)
            .init(Init::GlorotUniform)
            .build::<f32>(1)
            .unwrap();
        let e = net.predict(&[1.0, 2.0], 1).unwrap_err().to_string();
        assert!(e.contains("3 values") && e.contains("2 values"), "{e}");
        let e = net.predict(&[1.0, f32::NAN, 2.0], 1).unwrap_err().to_string();
        assert!(e.contains("NaN") && e.contains("column 2"), "{e}");
    }

    #[test]
    fn forward_matches_the_formula_on_a_tiny_net() {
        let layer = Dense::from_rows(&[vec![1.0, 2.0], vec![-1.0, 0.5]], &[0.5, -0.5], Activation::Relu).unwrap();
        let net = Network::from_layers(vec![layer], Loss::HalfMse).unwrap();
        let out = net.predict(&[1.0f64, 1.0, 2.0, -2.0], 2).unwrap();
        // z = Wx + b: [3.5, -1.0] → relu [3.5, 0]; [ -1.5, -3.5 ] → [0, 0]
        assert_eq!(out, vec![3.5, 0.0, 0.0, 0.0]);
    }

    /// A small convolutional network in f64: 1×6×6 → conv 2@3×3 same (tanh) → pool → conv 3@2×2
    /// valid (sigmoid) → dense 4 (tanh) → dense 3 (softmax).
    fn conv_net(seed: u64) -> Network<f64> {
        use crate::conv::Padding;
        let mut rng = crate::rng::rng(seed);
        let mut fill = |v: &mut Vec<f64>| v.iter_mut().for_each(|w| *w = rng.random::<f64>() - 0.5);
        let mut c1 = Conv2d::zeros(Maps::new(1, 6, 6), 2, 3, Padding::Same, Activation::Tanh).unwrap();
        let p = MaxPool2d::new(c1.output()).unwrap();
        let mut c2 = Conv2d::zeros(p.output(), 3, 2, Padding::Valid, Activation::SIGMOID).unwrap();
        fill(&mut c1.weights);
        fill(&mut c1.bias);
        fill(&mut c2.weights);
        fill(&mut c2.bias);
        let flat = c2.output().len();
        let mut d1 = Dense::zeros(flat, 4, Activation::Tanh);
        let mut d2 = Dense::zeros(4, 3, Activation::Softmax);
        for t in [&mut d1.weights, &mut d1.bias, &mut d2.weights, &mut d2.bias] {
            fill(t);
        }
        let features = vec![Feature::Conv(c1), Feature::Pool(p), Feature::Conv(c2)];
        Network::with_features(features, vec![d1, d2], Loss::CrossEntropy).unwrap()
    }

    #[test]
    fn a_convolutional_network_is_checked_and_counted() {
        let net = conv_net(1);
        assert_eq!(net.inputs(), 36);
        assert_eq!(net.input_maps(), Some(Maps::new(1, 6, 6)));
        assert_eq!(net.sizes(), [12, 4, 3]);
        assert_eq!(net.parameter_count(), (2 * 9 + 2) + (3 * 2 * 4 + 3) + (12 * 4 + 4) + (4 * 3 + 3));
        let mut layers = net.layers.clone();
        layers[0] = Dense::zeros(11, 4, Activation::Tanh);
        let e = Network::with_features(net.features.clone(), layers, Loss::CrossEntropy).unwrap_err().to_string();
        assert!(e.contains("12 inputs") && e.contains("3×2×2"), "{e}");
        let mut features = net.features.clone();
        features.swap(0, 1);
        assert!(Network::with_features(features, net.layers.clone(), Loss::CrossEntropy).is_err());
    }

    #[test]
    fn a_convolutional_network_s_gradients_match_finite_differences() {
        let net = conv_net(3);
        let batch = 3;
        let x: Vec<f64> = (0..batch * 36).map(|i| ((i * 7919) % 101) as f64 / 101.0).collect();
        let mut y = vec![0.0; batch * 3];
        for r in 0..batch {
            y[r * 3 + r % 3] = 1.0;
        }
        let mut ws = Workspace::new(&net, batch, 1);
        let mut grads = Gradients::zeros(&net);
        net.loss_and_gradients(&x, &y, batch, &mut ws, &mut grads, None);
        let loss = |n: &Network<f64>| {
            let mut ws = Workspace::new(n, batch, 1);
            let mut g = Gradients::zeros(n);
            n.loss_and_gradients(&x, &y, batch, &mut ws, &mut g, None)
        };
        let analytic: Vec<Vec<f64>> = grads.tensors().cloned().collect();
        let h = 1e-5;
        for (t, a) in analytic.iter().enumerate() {
            for i in 0..a.len() {
                let (mut p, mut m) = (net.clone(), net.clone());
                p.tensors_mut().nth(t).unwrap()[i] += h;
                m.tensors_mut().nth(t).unwrap()[i] -= h;
                let numeric = (loss(&p) - loss(&m)) / (2.0 * h);
                let scale = a[i].abs().max(numeric.abs()).max(1e-4);
                assert!((a[i] - numeric).abs() / scale < 1e-6, "tensor {t} entry {i}: {} vs {numeric}", a[i]);
            }
        }
        // Every tensor was reached: the convolutions' gradients are not all zero.
        assert!(analytic.iter().all(|a| a.iter().any(|&g| g != 0.0)));
    }
}
