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
//! A convolutional network has a convolutional part first ([`FeatureSpec`], on input maps of a
//! given shape), written as `--arch` writes it: `conv:32:5:same,pool:2,conv:64:5:same,pool:2,
//! dense:1024,dense:10` ([`Architecture::parse_spec`]).

use crate::activation::Activation;
use crate::conv::{Conv2d, Maps, Padding, output_of};
use crate::error::{Error, Result};
use crate::init::Init;
use crate::kernels::Float;
use crate::loss::Loss;
use crate::network::{Feature, Network};
use crate::pool::{MaxPool2d, POOL};
use crate::rng::rng;
use serde::{Deserialize, Serialize};

/// The most parameters (weights and biases) a network may have: 2³², 16 GiB in f32, more than a
/// CPU trains. A description past it is refused before anything is allocated
/// ([`Architecture::check_size`]), so that a mistyped width or a doctored model file gives an
/// error rather than an allocation that fails and aborts.
pub const MAX_PARAMETERS: u128 = 1 << 32;

/// The most values one layer's output may hold for one sample (C·H·W, or a dense layer's width):
/// 2²⁶, 256 MiB in f32. Training and inference keep several such buffers per row of a batch.
pub const MAX_LAYER_VALUES: u128 = 1 << 26;

/// How large a network is ([`Architecture::check_size`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Size {
    /// Weights and biases.
    pub parameters: u128,
    /// The input and every layer's output for one sample: what one row of a batch holds in each
    /// of a pass's buffers.
    pub values_per_sample: u128,
}

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

/// One layer of a convolutional part.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum FeatureSpec {
    /// A convolution with `channels` kernels of `kernel × kernel`, stride 1.
    Conv {
        /// Output channels.
        channels: usize,
        /// Kernel side.
        kernel: usize,
        /// Border treatment.
        padding: Padding,
        /// Its `f`.
        activation: Activation,
    },
    /// 2×2 max pooling.
    Pool,
}

impl FeatureSpec {
    /// As `--arch` writes it: `conv:32:5:same` (with `:ACTIVATION` when it is not `hidden`), `pool:2`.
    pub fn spec(&self, hidden: Activation) -> String {
        match *self {
            FeatureSpec::Conv { channels, kernel, padding, activation } => {
                let pad = if padding == Padding::Same { "same" } else { "valid" };
                let f = if activation == hidden { String::new() } else { format!(":{activation}") };
                format!("conv:{channels}:{kernel}:{pad}{f}")
            }
            FeatureSpec::Pool => format!("pool:{POOL}"),
        }
    }
}

/// A network's description, built up layer by layer (see the module example).
///
/// Stored as `{"sizes": [...], "activations": [...], "loss": ..., "init": ...}` (`init` only when
/// set), the form model files have always used; a convolutional part adds `"input_maps": [C, H,
/// W]` and `"features": ["conv:32:5:same:relu", "pool:2", …]`, and `sizes` then starts at its
/// flattened output.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "Stored", into = "Stored")]
pub struct Architecture {
    /// Width of the input `x` (C·H·W with a convolutional part).
    pub inputs: usize,
    /// The shape of the input maps when the network starts with a convolutional part.
    pub input_maps: Option<Maps>,
    /// The convolutional part, first to last (empty without one).
    pub features: Vec<FeatureSpec>,
    /// The dense layers, first to last.
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
        Self {
            inputs,
            input_maps: None,
            features: Vec::new(),
            layers: Vec::new(),
            loss: Loss::CrossEntropy,
            init: None,
        }
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
        Self {
            inputs: sizes.first().copied().unwrap_or(0),
            input_maps: None,
            features: Vec::new(),
            layers,
            loss,
            init: None,
        }
    }

    /// The description of an existing network (its initialisation unknown: `None`).
    pub fn of<T: Float>(net: &Network<T>) -> Self {
        let activations: Vec<Activation> = net.layers.iter().map(|l| l.activation).collect();
        let dense = Self::from_widths(&net.sizes(), &activations, net.loss);
        let features = net
            .features
            .iter()
            .map(|f| match f {
                Feature::Conv(c) => FeatureSpec::Conv {
                    channels: c.out_channels,
                    kernel: c.kernel,
                    padding: c.padding,
                    activation: c.activation,
                },
                Feature::Pool(_) => FeatureSpec::Pool,
            })
            .collect();
        Self { inputs: net.inputs(), input_maps: net.input_maps(), features, ..dense }
    }

    /// A description from `--arch`'s comma-separated layers on inputs of shape `input`:
    /// `conv:CHANNELS:K[:valid|same][:ACTIVATION]`, `pool:2`, `dense:WIDTH[:ACTIVATION]`; the
    /// convolutions and pooling come first, then at least one dense layer. Without an activation
    /// a layer has `hidden`, the last dense layer `output`.
    pub fn parse_spec(spec: &str, input: Maps, hidden: Activation, output: Activation, loss: Loss) -> Result<Self> {
        let bad = |message: String| Error::InvalidValue { what: format!("--arch '{spec}'"), message };
        let mut arch = Architecture::new(input.len()).loss(loss);
        // A piece that does not start a layer belongs to the one before: an activation's own comma
        // (`sigmoid:2,0.5`).
        let mut parts: Vec<String> = Vec::new();
        for piece in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let starts_layer = ["conv", "pool", "dense"].iter().any(|k| piece.split(':').next() == Some(*k));
            match parts.last_mut() {
                Some(last) if !starts_layer => {
                    last.push(',');
                    last.push_str(piece);
                }
                _ => parts.push(piece.to_string()),
            }
        }
        let dense_count = parts.iter().filter(|p| p.split(':').next() == Some("dense")).count();
        if dense_count == 0 {
            return Err(bad("it needs at least one dense layer at the end (e.g. …,dense:10)".into()));
        }
        let number = |part: &str, text: Option<&str>, what: &str| -> Result<usize> {
            text.and_then(|t| t.parse::<usize>().ok()).filter(|&n| n > 0).ok_or_else(|| {
                bad(format!(
                    "'{part}': {what} must be a whole number ≥ 1 (conv:CHANNELS:K[:valid|same], pool:2, dense:WIDTH)"
                ))
            })
        };
        let mut shape = input;
        let mut dense_seen = 0;
        for part in &parts {
            let part = part.as_str();
            let mut fields = part.split(':');
            let kind = fields.next().unwrap_or("");
            let rest: Vec<&str> = fields.collect();
            // The activation, when given, is the rest from `from` on (it may hold its own ':').
            let activation_from = |from: usize| -> Result<Option<Activation>> {
                if rest.len() > from { Activation::parse(&rest[from..].join(":")).map(Some) } else { Ok(None) }
            };
            match kind {
                "conv" => {
                    if dense_seen > 0 {
                        return Err(bad(format!(
                            "'{part}' comes after a dense layer; convolutions and pooling come first"
                        )));
                    }
                    let channels = number(part, rest.first().copied(), "CHANNELS")?;
                    let kernel = number(part, rest.get(1).copied(), "K")?;
                    let (padding, from) = match rest.get(2) {
                        Some(&"same") => (Padding::Same, 3),
                        Some(&"valid") => (Padding::Valid, 3),
                        _ => (Padding::Valid, 2),
                    };
                    let activation = activation_from(from)?.unwrap_or(hidden);
                    Conv2d::<f32>::check(shape, channels, kernel, padding, activation)
                        .map_err(|e| bad(format!("'{part}' on {shape} maps: {e}")))?;
                    shape = output_of(shape, channels, kernel, padding);
                    arch.features.push(FeatureSpec::Conv { channels, kernel, padding, activation });
                }
                "pool" => {
                    if dense_seen > 0 {
                        return Err(bad(format!(
                            "'{part}' comes after a dense layer; convolutions and pooling come first"
                        )));
                    }
                    if rest.first().is_some_and(|s| *s != "2") || rest.len() > 1 {
                        return Err(bad(format!("'{part}': only 2×2 max pooling is supported (pool:2)")));
                    }
                    let pool = MaxPool2d::new(shape).map_err(|e| bad(format!("'{part}': {e}")))?;
                    shape = pool.output();
                    arch.features.push(FeatureSpec::Pool);
                }
                "dense" => {
                    dense_seen += 1;
                    let width = number(part, rest.first().copied(), "WIDTH")?;
                    let activation = match activation_from(1)? {
                        Some(f) => f,
                        None if dense_seen == dense_count => output,
                        None => hidden,
                    };
                    arch.layers.push(LayerSpec::Dense { outputs: width, activation });
                }
                other => {
                    return Err(bad(format!("unknown layer kind '{other}' in '{part}' (conv, pool or dense)")));
                }
            }
        }
        if !arch.features.is_empty() {
            arch.input_maps = Some(input);
        }
        Ok(arch)
    }

    /// In words for a reader: the widths for a fully connected network (`784-1024-10`), else the
    /// input maps and the layers as `--arch` takes them (`1×28×28 → conv:32:5:same,pool:2,…,dense:10`,
    /// each layer's activation written where it is not the hidden layers' or the output's).
    pub fn describe(&self) -> String {
        let Some(maps) = self.input_maps else {
            return self.sizes().iter().map(|s| s.to_string()).collect::<Vec<_>>().join("-");
        };
        let hidden = if self.layers.len() > 1 { self.layers[0].activation() } else { Activation::Relu };
        let n = self.layers.len();
        let dense = self.layers.iter().enumerate().map(|(i, l)| {
            let usual = if i + 1 == n { Activation::Softmax } else { hidden };
            let f = if l.activation() == usual { String::new() } else { format!(":{}", l.activation()) };
            format!("dense:{}{f}", l.outputs())
        });
        let layers: Vec<String> = self.features.iter().map(|f| f.spec(hidden)).chain(dense).collect();
        format!("{maps} → {}", layers.join(","))
    }

    /// The number of parameters (weights and biases), or an error naming the first layer where
    /// they pass [`MAX_PARAMETERS`] or where one sample's output passes [`MAX_LAYER_VALUES`].
    /// Counted without overflow, before anything is allocated: [`Architecture::build`] and
    /// reading a model file check it first.
    pub fn check_size(&self) -> Result<Size> {
        let too_big = |what: String, message: String| Err(Error::InvalidValue { what, message });
        let check_values = |layer: String, values: u128| {
            if values > MAX_LAYER_VALUES {
                return too_big(
                    layer,
                    format!(
                        "its output holds {values} values per sample; at most {MAX_LAYER_VALUES} (2²⁶) are allowed"
                    ),
                );
            }
            Ok(())
        };
        let mut params: u128 = 0;
        let mut values: u128 = 0;
        let mut add = |layer: String, count: u128| {
            params += count;
            if params > MAX_PARAMETERS {
                return too_big(
                    layer,
                    format!(
                        "the network has {params} parameters up to here; at most {MAX_PARAMETERS} (2³², 16 GiB in f32) are allowed"
                    ),
                );
            }
            Ok(())
        };
        let wide = |v: usize| v as u128;
        check_values("the input".into(), wide(self.inputs))?;
        if let Some(mut shape) = self.input_maps {
            check_values("the input".into(), wide(shape.channels) * wide(shape.height) * wide(shape.width))?;
            for (k, f) in self.features.iter().enumerate() {
                let name = format!("feature layer {} ({})", k + 1, f.spec(Activation::Identity));
                if let FeatureSpec::Conv { channels, kernel, .. } = *f {
                    let weights = wide(channels) * wide(shape.channels) * wide(kernel) * wide(kernel);
                    add(name.clone(), weights + wide(channels))?;
                }
                shape = match *f {
                    FeatureSpec::Conv { channels, kernel, padding, .. } => output_of(shape, channels, kernel, padding),
                    FeatureSpec::Pool => MaxPool2d { input: shape }.output(),
                };
                let out = wide(shape.channels) * wide(shape.height) * wide(shape.width);
                check_values(name, out)?;
                values += out;
            }
        }
        let mut inputs = wide(self.dense_inputs());
        for (i, l) in self.layers.iter().enumerate() {
            let (name, outputs) = (format!("dense layer {} ({} neurons)", i + 1, l.outputs()), wide(l.outputs()));
            check_values(name.clone(), outputs)?;
            add(name, inputs * outputs + outputs)?;
            values += outputs;
            inputs = outputs;
        }
        Ok(Size { parameters: params, values_per_sample: wide(self.inputs) + values })
    }

    /// The flattened width the first dense layer takes: the convolutional part's output, or the
    /// input.
    pub fn dense_inputs(&self) -> usize {
        match self.input_maps {
            Some(maps) => self.feature_shapes(maps).last().map_or(self.inputs, Maps::len),
            None => self.inputs,
        }
    }

    /// The shape after each layer of the convolutional part, from `input`.
    fn feature_shapes(&self, input: Maps) -> Vec<Maps> {
        let mut shape = input;
        self.features
            .iter()
            .map(|f| {
                shape = match *f {
                    FeatureSpec::Conv { channels, kernel, padding, .. } => output_of(shape, channels, kernel, padding),
                    FeatureSpec::Pool => MaxPool2d { input: shape }.output(),
                };
                shape
            })
            .collect()
    }

    /// The convolutional part's layers with zero weights, every shape checked (the start of
    /// [`Architecture::build`] and of reading a model file). Empty without one.
    pub fn feature_layers<T: Float>(&self) -> Result<Vec<Feature<T>>> {
        let Some(mut shape) = self.input_maps else { return Ok(Vec::new()) };
        self.check_size()?;
        let mut layers = Vec::with_capacity(self.features.len());
        for f in &self.features {
            let layer = match *f {
                FeatureSpec::Conv { channels, kernel, padding, activation } => {
                    Feature::Conv(Conv2d::zeros(shape, channels, kernel, padding, activation)?)
                }
                FeatureSpec::Pool => Feature::Pool(MaxPool2d::new(shape)?),
            };
            shape = layer.output();
            layers.push(layer);
        }
        Ok(layers)
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

    /// The dense layers' widths, their input first (`[784, 128, 10]`; with a convolutional part
    /// the first is its flattened output).
    pub fn sizes(&self) -> Vec<usize> {
        std::iter::once(self.dense_inputs()).chain(self.layers.iter().map(LayerSpec::outputs)).collect()
    }

    /// One activation per layer.
    pub fn activations(&self) -> Vec<Activation> {
        self.layers.iter().map(LayerSpec::activation).collect()
    }

    /// The initialisation when none is set: [`Init::default_for`] the first layer's activation (He
    /// for ReLU-like, Glorot otherwise — what each was derived for).
    pub fn default_init(&self) -> Init {
        let first = self.features.iter().find_map(|f| match *f {
            FeatureSpec::Conv { activation, .. } => Some(activation),
            FeatureSpec::Pool => None,
        });
        match first.or_else(|| self.layers.first().map(LayerSpec::activation)) {
            Some(f) => Init::default_for(f),
            None => Init::GlorotUniform,
        }
    }

    /// The initialisation used by [`Architecture::build`].
    pub fn resolved_init(&self) -> Init {
        self.init.unwrap_or_else(|| self.default_init())
    }

    /// The network, its weights drawn from `seed` (the same seed gives the same bits); a shape or
    /// loss that does not fit is an error naming it.
    pub fn build<T: Float>(&self, seed: u64) -> Result<Network<T>> {
        self.check_size()?;
        let init = self.resolved_init();
        let mut rng = rng(seed);
        if self.input_maps.is_none() {
            return Network::with_activations(&self.sizes(), &self.activations(), self.loss, init, &mut rng);
        }
        // The convolutional part's weights are drawn first, each with fan-in C·k·k and fan-out
        // O·k·k (as PyTorch counts them for nn.Conv2d), then the dense layers'.
        let mut features = self.feature_layers::<T>()?;
        for f in &mut features {
            if let Feature::Conv(c) = f {
                let kk = c.kernel * c.kernel;
                init.fill(c.input.channels * kk, c.out_channels * kk, &mut c.weights, &mut c.bias, &mut rng);
            }
        }
        let dense: Network<T> =
            Network::with_activations(&self.sizes(), &self.activations(), self.loss, init, &mut rng)?;
        Network::with_features(features, dense.layers, self.loss)
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
    #[serde(default, skip_serializing_if = "Option::is_none")]
    input_maps: Option<[usize; 3]>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    features: Vec<String>,
}

impl From<Architecture> for Stored {
    fn from(a: Architecture) -> Self {
        // Each convolution's activation written out, whatever the hidden layers have.
        let features = a.features.iter().map(|f| f.spec(Activation::Identity)).collect();
        Stored {
            sizes: a.sizes(),
            activations: a.activations(),
            loss: a.loss,
            init: a.init,
            input_maps: a.input_maps.map(|m| [m.channels, m.height, m.width]),
            features,
        }
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
        let dense = Architecture::from_widths(&s.sizes, &s.activations, s.loss);
        let Some([c, h, w]) = s.input_maps else {
            if !s.features.is_empty() {
                return Err("convolutional layers without \"input_maps\" (the input's channels, height, width)".into());
            }
            return Ok(Architecture { init: s.init, ..dense });
        };
        let input = Maps::new(c, h, w);
        // The convolutional part is read back through the --arch parser, which checks every shape.
        let spec: Vec<String> = s.features.iter().cloned().chain(std::iter::once("dense:1".to_string())).collect();
        let parsed =
            Architecture::parse_spec(&spec.join(","), input, Activation::Identity, Activation::Identity, s.loss)
                .map_err(|e| e.to_string())?;
        let arch = Architecture {
            inputs: input.len(),
            input_maps: Some(input),
            features: parsed.features,
            init: s.init,
            ..dense
        };
        if arch.dense_inputs() != dense.inputs {
            return Err(format!(
                "the convolutional part gives {} values but the first dense layer takes {}",
                arch.dense_inputs(),
                dense.inputs
            ));
        }
        Ok(arch)
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

    /// `--arch SPEC` on MNIST's 1 × 28 × 28 maps, ReLU hidden, softmax and cross-entropy.
    fn on_digits(spec: &str) -> Result<Architecture> {
        Architecture::parse_spec(spec, Maps::new(1, 28, 28), Activation::Relu, Activation::Softmax, Loss::CrossEntropy)
    }

    #[test]
    fn sizes_past_any_machine_are_refused_before_anything_is_allocated() {
        let mlp = |sizes: &[usize]| Architecture::mlp(sizes, Activation::Relu, Activation::Softmax, Loss::CrossEntropy);
        // 784·1024 + 1024 + 1024·10 + 10 parameters.
        assert_eq!(
            mlp(&[784, 1024, 10]).check_size().unwrap(),
            Size { parameters: 814_090, values_per_sample: 784 + 1024 + 10 }
        );
        let e = mlp(&[784, 1_000_000_000_000, 10]).build::<f32>(1).unwrap_err().to_string();
        assert!(e.contains("dense layer 1") && e.contains("1000000000000") && e.contains("2²⁶"), "{e}");
        let e = mlp(&[784, 10_000_000, 10]).build::<f32>(1).unwrap_err().to_string();
        assert!(e.contains("dense layer 1") && e.contains("7850000000 parameters") && e.contains("2³²"), "{e}");
        // Products that would wrap around in 64 bits are counted exactly.
        assert!(mlp(&[usize::MAX, usize::MAX]).check_size().is_err());
        let lenet = |spec: &str| on_digits(spec).unwrap();
        let size = lenet("conv:32:5:same,pool:2,dense:10").check_size().unwrap();
        assert_eq!(size.parameters, 32 * 25 + 32 + 32 * 14 * 14 * 10 + 10);
        assert_eq!(size.values_per_sample, 784 + 32 * 28 * 28 + 32 * 14 * 14 + 10);
        // Few parameters, but a huge output per sample; and a kernel count past any machine.
        let e = lenet("conv:100000:5:same,dense:10").feature_layers::<f32>().unwrap_err().to_string();
        assert!(e.contains("feature layer 1") && e.contains("78400000 values per sample"), "{e}");
        let e = lenet("conv:1000000000000:5,dense:10").feature_layers::<f32>().unwrap_err().to_string();
        assert!(e.contains("feature layer 1") && e.contains("parameters"), "{e}");
    }

    #[test]
    fn an_arch_spec_gives_the_lenet_like_network() {
        let lenet = "conv:32:5:same,pool:2,conv:64:5:same,pool:2,dense:1024,dense:10";
        let input = Maps::new(1, 28, 28);
        let arch =
            Architecture::parse_spec(lenet, input, Activation::Relu, Activation::Softmax, Loss::CrossEntropy).unwrap();
        assert_eq!(arch.input_maps, Some(input));
        assert_eq!(arch.inputs, 784);
        assert_eq!(arch.sizes(), [3136, 1024, 10]);
        assert_eq!(arch.activations(), [Activation::Relu, Activation::Softmax]);
        assert_eq!(arch.resolved_init(), Init::HeUniform);
        let net: Network<f32> = arch.build(1).unwrap();
        assert_eq!(
            net.parameter_count(),
            (32 * 25 + 32) + (64 * 32 * 25 + 64) + (3136 * 1024 + 1024) + (1024 * 10 + 10)
        );
        assert_eq!(net.inputs(), 784);
        assert_eq!(Architecture::of(&net), arch);
        assert_eq!(arch.build::<f32>(1).unwrap(), net, "the same seed gives the same bits");
        // Stored in a model file's metadata and read back, parametrised activations included.
        let odd = "conv:4:3:leaky_relu:0.1,pool:2,conv:2:3:same:sigmoid:2,0.5,dense:8,dense:3:softmax";
        for arch in [
            arch,
            Architecture::parse_spec(
                odd,
                Maps::new(2, 9, 8),
                Activation::Tanh,
                Activation::Softmax,
                Loss::CrossEntropy,
            )
            .unwrap(),
        ] {
            let json = serde_json::to_value(&arch).unwrap();
            assert_eq!(json["input_maps"].as_array().unwrap().len(), 3);
            assert_eq!(serde_json::from_value::<Architecture>(json).unwrap(), arch);
        }
        // A dense description is stored as it always was.
        let dense =
            serde_json::to_value(Architecture::mlp(&[4, 3], Activation::Relu, Activation::Softmax, Loss::CrossEntropy))
                .unwrap();
        assert!(dense.get("input_maps").is_none() && dense.get("features").is_none());
    }

    #[test]
    fn bad_arch_specs_are_refused_naming_the_layer() {
        let parse = |spec: &str| on_digits(spec).unwrap_err().to_string();
        assert!(parse("conv:32:4:same,dense:10").contains("odd kernel"));
        assert!(parse("conv:8:3").contains("at least one dense layer"));
        assert!(parse("dense:10,conv:8:3").contains("comes after a dense layer"));
        assert!(parse("conv:8:x,dense:10").contains("'conv:8:x'"));
        assert!(parse("conv:8:3,pool:3,dense:10").contains("only 2×2"));
        assert!(parse("lstm:8,dense:10").contains("unknown layer kind 'lstm'"));
        assert!(parse("conv:8:29,dense:10").contains("does not fit"));
        assert!(parse("conv:8:3:swish,dense:10").contains("swish"));
    }
}
