//! XOR, what one neuron cannot learn and a 2-2-1 network can (the tutorial's §5): its four points,
//! the network and the training settings that the example, `plot boundary` and the tests share.

use crate::activation::Activation;
use crate::architecture::Architecture;
use crate::dataset::Dataset;
use crate::error::Result;
use crate::init::Init;
use crate::loss::Loss;
use crate::network::Network;
use crate::optimizer::Optimizer;
use crate::train::config::TrainConfig;
use crate::train::trainer::train;

/// The four inputs (0,0), (0,1), (1,0), (1,1), rows of `x`.
pub const INPUTS: [f64; 8] = [0.0, 0.0, 0.0, 1.0, 1.0, 0.0, 1.0, 1.0];
/// Their XOR.
pub const TARGETS: [f64; 4] = [0.0, 1.0, 1.0, 0.0];

/// XOR as a one-output data set (targets 0 and 1, for a sigmoid output).
pub fn data() -> Dataset<f64> {
    Dataset::regression(INPUTS.to_vec(), 2, TARGETS.to_vec(), 1).expect("four finite rows of two")
}

/// The 2-2-1 network: tanh hidden layer, sigmoid output, binary cross-entropy, Glorot init.
pub fn network(seed: u64) -> Result<Network<f64>> {
    Architecture::mlp(&[2, 2, 1], Activation::Tanh, Activation::SIGMOID, Loss::BinaryCrossEntropy)
        .init(Init::GlorotUniform)
        .build(seed)
}

/// Full-batch Adam (η = 0.05) for 2,000 epochs: a few milliseconds.
pub fn config(seed: u64) -> TrainConfig {
    TrainConfig { epochs: 2000, batch_size: 4, optimizer: Optimizer::adam(0.05), seed, ..TrainConfig::default() }
}

/// [`network`] trained on [`data`] with [`config`].
pub fn trained(seed: u64) -> Result<Network<f64>> {
    let mut net = network(seed)?;
    train(&mut net, &data(), None, &config(seed), &mut ())?;
    Ok(net)
}
