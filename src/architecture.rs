//! One description of a network: its input width, its layers (kind, width, activation `f`), its
//! loss and how its weights start. The network is built from it ([`Architecture::build`]), a
//! model file records it, and the CLI resolves its flags into it.
//!
//! ```
//! use neuralnet::{Activation, Architecture, Init, Loss, Network};
//! // The article's 2-2-1 network: z⁽ˡ⁾ = W⁽ˡ⁾a⁽ˡ⁻¹⁾ + b⁽ˡ⁾, a⁽ˡ⁾ = σ(z⁽ˡ⁾), half squared error.
//! let arch = Architecture::new(2)
//!     .dense(2, Activation::SIGMOID)
//!     .dense(1, Activation::SIGMOID)
//!     .loss(Loss::HalfMse)
//!     .init(Init::GlorotUniform);
//! let net: Network<f64> = arch.build(7).unwrap();
//! assert_eq!(net.sizes(), [2, 2, 1]);
//! assert_eq!(Architecture::of(&net).sizes(), arch.sizes());
//! ```
//!
//! Only fully connected (dense) layers exist today; [`LayerSpec`] is where other kinds join.

use crate::activation::Activation;
use crate::error::Result;
use crate::init::Init;
use crate::kernels::Float;
use crate::loss::Loss;
use crate::network::Network;
use crate::rng::rng;
use serde::{Deserialize, Serialize};

/// One layer of a description.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum LayerSpec {
    /// A fully connected layer, `z = Wx + b`, `a = f(z)`, with `outputs` neurons.
    Dense {
        /// Its width (neurons).
        outputs: usize,
        /// Its `f`.
        activation: Activation,
    },
}

impl LayerSpec {
    /// The layer's output width.
    pub fn outputs(&self) -> usize {
        match *self {
            LayerSpec::Dense { outputs, .. } => outputs,
        }
    }

    /// The layer's activation.
    pub fn activation(&self) -> Activation {
        match *self {
            LayerSpec::Dense { activation, .. } => activation,
        }
    }
}

/// A network's description, built up layer by layer (see the module example).
///
/// Stored as `{"sizes": [...], "activations": [...], "loss": ..., "init": ...}` (`init` only when
/// set), the form model files have always used.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "Stored", into = "Stored")]
pub struct Architecture {
    /// Width of the input `x`.
    pub inputs: usize,
    /// The layers, first to last.
    pub layers: Vec<LayerSpec>,
    /// The loss `L` the output is trained with.
    pub loss: Loss,
    /// How the weights start; `None`: He for ReLU-like hidden layers, Glorot otherwise
    /// ([`Architecture::default_init`]).
    pub init: Option<Init>,
}

impl Architecture {
    /// A description with `inputs` inputs and no layer yet, cross-entropy loss, default init.
    pub fn new(inputs: usize) -> Self {
        Self { inputs, layers: Vec::new(), loss: Loss::CrossEntropy, init: None }
    }

    /// The multi-layer perceptron of the article: widths `sizes` (input first), `hidden` on every
    /// hidden layer and `output` on the last.
    pub fn mlp(sizes: &[usize], hidden: Activation, output: Activation, loss: Loss) -> Self {
        let n = sizes.len().saturating_sub(1);
        let activations: Vec<Activation> = (0..n).map(|i| if i + 1 == n { output } else { hidden }).collect();
        Self::from_widths(sizes, &activations, loss)
    }

    /// Widths `sizes` (input first) with one activation per layer.
    pub fn from_widths(sizes: &[usize], activations: &[Activation], loss: Loss) -> Self {
        let layers = sizes
            .iter()
            .skip(1)
            .zip(activations)
            .map(|(&outputs, &activation)| LayerSpec::Dense { outputs, activation })
            .collect();
        Self { inputs: sizes.first().copied().unwrap_or(0), layers, loss, init: None }
    }

    /// The description of an existing network (its initialisation unknown: `None`).
    pub fn of<T: Float>(net: &Network<T>) -> Self {
        let activations: Vec<Activation> = net.layers.iter().map(|l| l.activation).collect();
        Self::from_widths(&net.sizes(), &activations, net.loss)
    }

    /// Adds a fully connected layer of `outputs` neurons with activation `f`.
    pub fn dense(mut self, outputs: usize, activation: Activation) -> Self {
        self.layers.push(LayerSpec::Dense { outputs, activation });
        self
    }

    /// Sets the loss.
    pub fn loss(mut self, loss: Loss) -> Self {
        self.loss = loss;
        self
    }

    /// Sets the initialisation.
    pub fn init(mut self, init: Init) -> Self {
        self.init = Some(init);
        self
    }

    /// All widths, input first (`[784, 128, 10]`).
    pub fn sizes(&self) -> Vec<usize> {
        std::iter::once(self.inputs).chain(self.layers.iter().map(LayerSpec::outputs)).collect()
    }

    /// One activation per layer.
    pub fn activations(&self) -> Vec<Activation> {
        self.layers.iter().map(LayerSpec::activation).collect()
    }

    /// The initialisation when none is set: [`Init::default_for`] the first layer's activation (He
    /// for ReLU-like, Glorot otherwise — what each was derived for).
    pub fn default_init(&self) -> Init {
        self.layers.first().map_or(Init::GlorotUniform, |l| Init::default_for(l.activation()))
    }

    /// The initialisation used by [`Architecture::build`].
    pub fn resolved_init(&self) -> Init {
        self.init.unwrap_or_else(|| self.default_init())
    }

    /// The network, its weights drawn from `seed` (the same seed gives the same bits); a shape or
    /// loss that does not fit is an error naming it.
    pub fn build<T: Float>(&self, seed: u64) -> Result<Network<T>> {
        Network::with_activations(&self.sizes(), &self.activations(), self.loss, self.resolved_init(), &mut rng(seed))
    }
}

/// The stored form: flat lists, as model files have always had them.
#[derive(Serialize, Deserialize)]
struct Stored {
    sizes: Vec<usize>,
    activations: Vec<Activation>,
    loss: Loss,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    init: Option<Init>,
}

impl From<Architecture> for Stored {
    fn from(a: Architecture) -> Self {
        Stored { sizes: a.sizes(), activations: a.activations(), loss: a.loss, init: a.init }
    }
}

impl TryFrom<Stored> for Architecture {
    type Error = String;
    fn try_from(s: Stored) -> std::result::Result<Self, String> {
        if s.sizes.len() != s.activations.len() + 1 {
            return Err(format!(
                "{} layer sizes and {} activations; need one activation per layer after the input",
                s.sizes.len(),
                s.activations.len()
            ));
        }
        Ok(Architecture { init: s.init, ..Architecture::from_widths(&s.sizes, &s.activations, s.loss) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn build_matches_the_network_constructor_bit_for_bit() {
        let arch = Architecture::mlp(&[5, 4, 3], Activation::Relu, Activation::Softmax, Loss::CrossEntropy)
            .init(Init::HeNormal);
        let a: Network<f32> = arch.build(11).unwrap();
        let b = Network::<f32>::with_activations(
            &[5, 4, 3],
            &[Activation::Relu, Activation::Softmax],
            Loss::CrossEntropy,
            Init::HeNormal,
            &mut rng(11),
        )
        .unwrap();
        assert_eq!(a, b);
        assert_eq!(Architecture::of(&a), Architecture { init: None, ..arch });
    }

    #[test]
    fn stored_form_is_the_flat_lists_and_round_trips() {
        let arch = Architecture::new(2).dense(2, Activation::Tanh).dense(1, Activation::SIGMOID).loss(Loss::HalfMse);
        let json = serde_json::to_value(&arch).unwrap();
        assert_eq!(json["sizes"], serde_json::json!([2, 2, 1]));
        assert!(json.get("init").is_none());
        assert_eq!(serde_json::from_value::<Architecture>(json).unwrap(), arch);
        let with_init = arch.clone().init(Init::Nielsen);
        assert_eq!(
            serde_json::from_value::<Architecture>(serde_json::to_value(&with_init).unwrap()).unwrap(),
            with_init
        );
        let bad = serde_json::json!({"sizes": [2, 1], "activations": [], "loss": "half_mse"});
        assert!(
            serde_json::from_value::<Architecture>(bad).unwrap_err().to_string().contains("one activation per layer")
        );
    }

    #[test]
    fn default_init_is_he_for_relu_hidden_layers_else_glorot() {
        let relu = Architecture::mlp(&[4, 8, 2], Activation::Relu, Activation::Softmax, Loss::CrossEntropy);
        assert_eq!(relu.resolved_init(), Init::HeUniform);
        let tanh = Architecture::mlp(&[4, 8, 2], Activation::Tanh, Activation::Softmax, Loss::CrossEntropy);
        assert_eq!(tanh.resolved_init(), Init::GlorotUniform);
        assert_eq!(tanh.init(Init::Nielsen).resolved_init(), Init::Nielsen);
    }

    #[test]
    fn a_bad_description_is_refused_when_built() {
        assert!(Architecture::new(3).build::<f32>(1).is_err());
        let zero = Architecture::new(3).dense(0, Activation::Relu).dense(2, Activation::Softmax);
        assert!(zero.build::<f32>(1).is_err());
        let wrong_loss = Architecture::new(3).dense(2, Activation::Relu).loss(Loss::CrossEntropy);
        assert!(wrong_loss.build::<f32>(1).is_err());
    }
}
