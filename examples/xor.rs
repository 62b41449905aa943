//! XOR, the function one neuron cannot compute: a 2-2-1 network learns it by backpropagation.
//!
//! Run: `cargo run --release --example xor`

use neuralnet::{Activation, Dataset, Init, Loss, Network, Optimizer, TrainConfig, train};

fn main() -> neuralnet::Result<()> {
    let x = vec![0.0, 0.0, 0.0, 1.0, 1.0, 0.0, 1.0, 1.0];
    let y = vec![0.0, 1.0, 1.0, 0.0];
    let data = Dataset::regression(x.clone(), 2, y, 1)?;
    let mut net: Network<f64> = Network::new(
        &[2, 2, 1],
        Activation::Tanh,
        Activation::SIGMOID,
        Loss::BinaryCrossEntropy,
        Init::GlorotUniform,
        1,
    )?;
    let config =
        TrainConfig { epochs: 2000, batch_size: 4, optimizer: Optimizer::adam(0.05), ..TrainConfig::default() };
    train(&mut net, &data, None, &config, &mut ())?;
    for (input, out) in x.chunks(2).zip(net.predict(&x, 4)?) {
        println!("{input:?} → {out:.3}");
    }
    Ok(())
}
