//! # neuralnet — neural networks from the neuron to deep learning
//!
//! Notation (the article's, used throughout):
//!
//! * a neuron: `z = wᵀx + b`, `a = f(z)`;
//! * a layer: `z = Wx + b` with `W` of shape outputs × inputs (row `j` = neuron `j`'s weights);
//! * a network of `L` layers: `z⁽ˡ⁾ = W⁽ˡ⁾a⁽ˡ⁻¹⁾ + b⁽ˡ⁾`, `a⁽ˡ⁾ = f(z⁽ˡ⁾)`, `a⁽⁰⁾ = x`;
//! * backpropagation: `δ⁽ᴸ⁾ = ∂L/∂z⁽ᴸ⁾`, `δ⁽ˡ⁾ = (W⁽ˡ⁺¹⁾)ᵀδ⁽ˡ⁺¹⁾ ⊙ f′(z⁽ˡ⁾)`,
//!   `∂L/∂W⁽ˡ⁾ = δ⁽ˡ⁾(a⁽ˡ⁻¹⁾)ᵀ`, `∂L/∂b⁽ˡ⁾ = δ⁽ˡ⁾`.
//!
//! Batch layout: a batch is stored row-major, **one sample per row** (batch × features), so the fast
//! path computes `Z = X·Wᵀ + 𝟙bᵀ`, the transpose of the article's column form, with the same `W`.
//! The [`trace`] module is the article's column-vector form, one sample at a time, in plain loops.
//! Layer `l` of the article is `layers[l − 1]` in code (indices start at 0). [`playground`] is a
//! network learning a 2-D data set ([`data::toy`]) step by step, every number of it within reach.
//!
//! ```
//! use neuralnet::{Activation, Architecture, Init, Loss, Network, Optimizer, TrainConfig, Dataset, train};
//! // XOR: what one neuron cannot do and two layers can.
//! let x = vec![0.0, 0.0, 0.0, 1.0, 1.0, 0.0, 1.0, 1.0];
//! let data = Dataset::classification(x, 2, vec![0, 1, 1, 0], 2).unwrap();
//! // The network's one description: 2 inputs, a hidden layer of 4 tanh neurons, a softmax output,
//! // cross-entropy; built from seed 1.
//! let arch = Architecture::new(2)
//!     .dense(4, Activation::Tanh)
//!     .dense(2, Activation::Softmax)
//!     .loss(Loss::CrossEntropy)
//!     .init(Init::GlorotUniform);
//! let mut net: Network<f64> = arch.build(1).unwrap();
//! let config = TrainConfig { epochs: 500, batch_size: 4, optimizer: Optimizer::adam(0.05), ..TrainConfig::default() };
//! train(&mut net, &data, None, &config, &mut ()).unwrap();
//! assert_eq!(neuralnet::metrics::accuracy(&net, &data).unwrap(), 1.0);
//! ```

#![warn(missing_docs)]
// Every `unsafe` of the library is in `kernels`.
#![deny(unsafe_code)]

pub mod activation;
pub mod architecture;
pub mod article;
pub mod conv;
pub mod data;
pub mod dataset;
pub mod distributed;
pub mod error;
pub mod explain;
pub mod export;
pub mod init;
#[allow(unsafe_code)]
#[warn(clippy::undocumented_unsafe_blocks)]
pub mod kernels;
pub mod layer;
pub mod loss;
pub mod metrics;
pub mod model_file;
pub mod network;
pub mod optimizer;
pub mod playground;
pub mod plot;
pub mod pool;
pub mod predictor;
pub mod rng;
pub mod split;
pub mod trace;
pub mod train;
pub mod xor;

pub use activation::Activation;
pub use architecture::{Architecture, LayerSpec};
pub use dataset::{Dataset, Targets};
pub use error::{Error, Result};
pub use init::Init;
pub use kernels::Float;
pub use layer::Dense;
pub use loss::Loss;
pub use network::{Gradients, Network, Workspace};
pub use optimizer::{Method, Optimizer, Schedule};
pub use predictor::Predictor;
pub use train::{EpochReport, Progress, TrainConfig, TrainSummary, train};
