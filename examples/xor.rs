//! XOR, the function one neuron cannot compute: a 2-2-1 network learns it by backpropagation.
//!
//! Run: `cargo run --release --example xor`

use neuralnet::xor;

fn main() -> neuralnet::Result<()> {
    // Tanh hidden layer, sigmoid output, binary cross-entropy; full-batch Adam, 2,000 epochs.
    let net = xor::trained(1)?;
    for (input, out) in xor::INPUTS.chunks(2).zip(net.predict(&xor::INPUTS, 4)?) {
        println!("{input:?} → {out:.3}");
    }
    Ok(())
}
