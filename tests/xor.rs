//! What one neuron cannot do and two layers can: XOR.

use neuralnet::metrics::accuracy;
use neuralnet::{Activation, Architecture, Dataset, Init, Loss, Network, TrainConfig, train};

fn xor() -> Dataset<f64> {
    Dataset::classification(vec![0.0, 0.0, 0.0, 1.0, 1.0, 0.0, 1.0, 1.0], 2, vec![0, 1, 1, 0], 2).unwrap()
}

fn xor_values() -> Dataset<f64> {
    neuralnet::xor::data()
}

/// Accuracy of a one-output sigmoid network thresholded at 0.5.
fn binary_accuracy(net: &Network<f64>) -> f64 {
    let d = xor_values();
    let out = net.predict(&d.x, 4).unwrap();
    let want = [0.0, 1.0, 1.0, 0.0];
    out.iter().zip(want).filter(|&(&o, w)| ((o > 0.5) as u8 as f64) == w).count() as f64 / 4.0
}

fn config(seed: u64) -> TrainConfig {
    neuralnet::xor::config(seed)
}

#[test]
fn a_single_neuron_or_layer_cannot_learn_xor() {
    for seed in 0..5 {
        let mut neuron = Architecture::mlp(&[2, 1], Activation::SIGMOID, Activation::SIGMOID, Loss::BinaryCrossEntropy)
            .init(Init::GlorotUniform)
            .build(seed)
            .unwrap();
        train(&mut neuron, &xor_values(), None, &config(seed), &mut ()).unwrap();
        assert!(binary_accuracy(&neuron) <= 0.75, "seed {seed}");
        let mut layer = Architecture::mlp(&[2, 2], Activation::Softmax, Activation::Softmax, Loss::CrossEntropy)
            .init(Init::GlorotUniform)
            .build(seed)
            .unwrap();
        train(&mut layer, &xor(), None, &config(seed), &mut ()).unwrap();
        assert!(accuracy(&layer, &xor()).unwrap() <= 0.75, "seed {seed}");
    }
}

#[test]
fn a_2_2_1_network_learns_xor_from_most_seeds() {
    let learned = (0..10)
        .filter(|&seed| {
            let net = neuralnet::xor::trained(seed).unwrap();
            binary_accuracy(&net) == 1.0
        })
        .count();
    eprintln!("2-2-1 learned XOR from {learned} of 10 seeds");
    assert!(learned >= 9, "learned XOR from only {learned} of 10 seeds");
}
