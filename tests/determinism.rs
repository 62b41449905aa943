//! The same seed, settings and thread count give the same weights, bit for bit (with data
//! augmentation too).

use neuralnet::{Activation, Architecture, Dataset, Init, Loss, Network, Optimizer, TrainConfig, train};

fn run(threads: usize, seed: u64, augment: bool) -> Network<f32> {
    let rows = 512;
    let features = 300;
    let x: Vec<f32> = (0..rows * features).map(|i| ((i * 2654435761usize) % 1000) as f32 / 1000.0).collect();
    let labels: Vec<u32> = (0..rows).map(|i| ((i * 7) % 4) as u32).collect();
    let data = Dataset::classification(x, features, labels, 4).unwrap();
    let mut net = Architecture::mlp(&[features, 256, 64, 4], Activation::Relu, Activation::Softmax, Loss::CrossEntropy)
        .init(Init::HeUniform)
        .build(seed)
        .unwrap();
    let config = TrainConfig {
        epochs: 3,
        batch_size: 64,
        optimizer: Optimizer::adam(1e-3),
        dropout: 0.2,
        seed,
        threads,
        // The rows as 20×15 images, distorted afresh each epoch.
        augment: augment
            .then(|| neuralnet::data::augment::Augment::parse("affine,elastic", 20, 15, 0.0).unwrap())
            .flatten(),
        ..TrainConfig::default()
    };
    train(&mut net, &data, None, &config, &mut ()).unwrap();
    net
}

#[test]
fn same_seed_and_threads_give_the_same_bits() {
    for (threads, augment) in [(1, false), (2, false), (1, true), (2, true)] {
        let a = run(threads, 11, augment);
        let b = run(threads, 11, augment);
        for (la, lb) in a.layers.iter().zip(&b.layers) {
            assert!(la.weights.iter().zip(&lb.weights).all(|(x, y)| x.to_bits() == y.to_bits()), "{threads} thread(s)");
            assert!(la.bias.iter().zip(&lb.bias).all(|(x, y)| x.to_bits() == y.to_bits()), "{threads} thread(s)");
        }
        assert_ne!(a, run(threads, 12, augment), "a different seed should give different weights");
        if augment {
            assert_ne!(a, run(threads, 11, false), "augmentation should change the weights");
        }
    }
}
