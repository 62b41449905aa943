//! The article's own examples: the one-neuron festival decision and the worked 2-2-1 sigmoid
//! network, with expected values computed here from the formulas (the article's printed numbers
//! carry an arithmetic slip: its z₁ = [0.17, 0.35] should be [0.17, 0.39]).

mod common;

use common::close;
use neuralnet::{Activation, Dense, Gradients, Loss, Network, Optimizer, Workspace};

fn sigma(z: f64) -> f64 {
    1.0 / (1.0 + (-z).exp())
}

fn article_net() -> Network<f64> {
    let l1 = Dense::from_rows(&[vec![0.1, 0.2], vec![0.3, 0.4]], &[0.1, 0.2], Activation::SIGMOID).unwrap();
    let l2 = Dense::from_rows(&[vec![0.5, 0.6]], &[0.3], Activation::SIGMOID).unwrap();
    Network::from_layers(vec![l1, l2], Loss::HalfMse).unwrap()
}

#[test]
fn worked_2_2_1_example_number_by_number() {
    // Independent hand computation from the formulas.
    let x = [0.5, 0.1];
    let z1 = [0.1 * x[0] + 0.2 * x[1] + 0.1, 0.3 * x[0] + 0.4 * x[1] + 0.2];
    assert!(close(z1[0], 0.17, 1e-12) && close(z1[1], 0.39, 1e-12));
    let a1 = [sigma(z1[0]), sigma(z1[1])];
    let z2 = 0.5 * a1[0] + 0.6 * a1[1] + 0.3;
    let a2 = sigma(z2);
    let l = 0.5 * (a2 - 1.0) * (a2 - 1.0);
    let d2 = (a2 - 1.0) * a2 * (1.0 - a2);
    let d1 = [0.5 * d2 * a1[0] * (1.0 - a1[0]), 0.6 * d2 * a1[1] * (1.0 - a1[1])];
    let dw2 = [d2 * a1[0], d2 * a1[1]];
    let dw1 = [[d1[0] * x[0], d1[0] * x[1]], [d1[1] * x[0], d1[1] * x[1]]];

    // The true values stated in the issue agree with the hand computation.
    assert!(close(l, 0.04008243439950183, 1e-12));
    assert!(close(d2, -0.05746746786772299, 1e-12));
    assert!(close(d1[0], -0.007131782143378306, 1e-12) && close(d1[1], -0.008300473773525954, 1e-12));
    assert!(close(dw2[0], -0.031170236232969134, 1e-12) && close(dw2[1], -0.03426685686191729, 1e-12));

    // The reference path.
    let net = article_net();
    let t = neuralnet::trace::trace(&net, &[x.to_vec()], &[vec![1.0]], 0.1).unwrap();
    let s = &t.samples[0];
    assert!(close(s.z[0][0], z1[0], 1e-12) && close(s.z[0][1], z1[1], 1e-12));
    assert!(close(s.a[0][0], a1[0], 1e-12) && close(s.a[0][1], a1[1], 1e-12));
    assert!(close(s.z[1][0], z2, 1e-12) && close(s.a[1][0], a2, 1e-12));
    assert!(close(t.loss, l, 1e-12));
    assert!(close(s.delta[1][0], d2, 1e-12));
    assert!(close(s.delta[0][0], d1[0], 1e-12) && close(s.delta[0][1], d1[1], 1e-12));
    assert!(close(t.grad_w[1][0][0], dw2[0], 1e-12) && close(t.grad_w[1][0][1], dw2[1], 1e-12));
    for i in 0..2 {
        for j in 0..2 {
            assert!(close(t.grad_w[0][i][j], dw1[i][j], 1e-12));
        }
    }
    assert!(close(t.updated_w[1][0][0], 0.5031170236232969, 1e-12));
    assert!(close(t.updated_w[1][0][1], 0.6034266856861917, 1e-12));
    assert!(close(t.updated_b[1][0], 0.30574674678677227, 1e-12));

    // The batched fast path plus one SGD step gives the same update.
    let mut fast = article_net();
    let mut ws = Workspace::new(&fast, 1, 1);
    let mut grads = Gradients::zeros(&fast);
    let loss = fast.loss_and_gradients(&x, &[1.0], 1, &mut ws, &mut grads, None);
    assert!(close(loss, l, 1e-12));
    let opt = Optimizer::sgd(0.1);
    let mut st = opt.state(&fast);
    opt.step(&mut st, &mut fast, &grads, 0.1);
    assert!(close(fast.layers[1].weights[0], 0.5031170236232969, 1e-12));
    assert!(close(fast.layers[1].weights[1], 0.6034266856861917, 1e-12));
    assert!(close(fast.layers[1].bias[0], 0.30574674678677227, 1e-12));
    assert!(close(fast.layers[0].weights[1], 0.2 - 0.1 * dw1[0][1], 1e-12));
    assert!(close(fast.layers[0].bias[1], 0.2 - 0.1 * d1[1], 1e-12));
}

/// The festival decision: w = [6, 2, 2], b = 1, a step at 5.
#[test]
fn one_neuron_decision() {
    let step = Activation::Step { threshold: 5.0 };
    let neuron = Dense::from_rows(&[vec![6.0, 2.0, 2.0]], &[1.0], step).unwrap();
    let net = Network::from_layers(vec![neuron], Loss::HalfMse).unwrap();
    let t = neuralnet::trace::trace(&net, &[vec![1.0, 0.0, 0.0]], &[vec![1.0]], 0.1).unwrap();
    assert_eq!(t.samples[0].z[0][0], 7.0);
    assert_eq!(t.samples[0].a[0][0], 1.0);
    // All 8 combinations: go exactly when the weather is good (6 + 1 > 5); companion and transit
    // together give only 2 + 2 + 1 = 5, not above the threshold.
    for bits in 0..8u32 {
        let x = [(bits >> 2 & 1) as f64, (bits >> 1 & 1) as f64, (bits & 1) as f64];
        let z = 6.0 * x[0] + 2.0 * x[1] + 2.0 * x[2] + 1.0;
        let out = net.predict(&x, 1).unwrap()[0];
        assert_eq!(out, if z > 5.0 { 1.0 } else { 0.0 }, "x = {x:?}");
        assert_eq!(out, x[0], "x = {x:?}");
        // A steep sigmoid (k = 100, centre 5) agrees with the step away from the threshold.
        let sig = Activation::Sigmoid { k: 100.0, c: 5.0 };
        if (z - 5.0).abs() >= 0.1 {
            assert!((sig.value(z) - step.value(z)).abs() <= 1e-3);
        }
    }
}
