//! Backpropagation checked two ways: against finite differences for every activation × loss, and
//! against the separate one-sample reference path (`trace`).

mod common;

use common::*;
use neuralnet::rng::rng;
use neuralnet::{Gradients, Workspace};

/// |analytic − numeric| ≤ 1e-6·max(1, |numeric|) for every parameter, depths 1–4, batch 1 and 3.
#[test]
fn finite_differences_agree_for_every_activation_and_loss() {
    let mut rng = rng(2024);
    let mut checked = 0;
    for (out, loss) in accepted_pairs() {
        for hidden in all_activations() {
            for depth in 1..=4 {
                if depth == 1 && hidden != all_activations()[0] {
                    continue; // no hidden layer: the hidden activation does not matter
                }
                for batch in [1, 3] {
                    let (net, x, y) = loop {
                        let net = random_net(&mut rng, depth, hidden, out, loss);
                        let (x, y) = random_batch(&mut rng, &net, batch);
                        if !near_kink(&net, &x, batch, 1e-3) {
                            break (net, x, y);
                        }
                    };
                    let mut ws = Workspace::new(&net, batch, 1);
                    let mut grads = Gradients::zeros(&net);
                    net.loss_and_gradients(&x, &y, batch, &mut ws, &mut grads, None);
                    let h = 1e-6;
                    for l in 0..net.layers.len() {
                        for (which, n) in [(0, net.layers[l].weights.len()), (1, net.layers[l].bias.len())] {
                            for i in 0..n {
                                let mut plus = net.clone();
                                let mut minus = net.clone();
                                let (p, m) = if which == 0 {
                                    (&mut plus.layers[l].weights[i], &mut minus.layers[l].weights[i])
                                } else {
                                    (&mut plus.layers[l].bias[i], &mut minus.layers[l].bias[i])
                                };
                                *p += h;
                                *m -= h;
                                let numeric =
                                    (batch_loss(&plus, &x, &y, batch) - batch_loss(&minus, &x, &y, batch)) / (2.0 * h);
                                let analytic = if which == 0 { grads.weights[l][i] } else { grads.bias[l][i] };
                                assert!(
                                    (analytic - numeric).abs() <= 1e-6 * numeric.abs().max(1.0),
                                    "{hidden} hidden, {out} output, {loss}, depth {depth}, batch {batch}: \
                                     layer {} {} [{i}]: analytic {analytic} vs numeric {numeric}",
                                    l + 1,
                                    if which == 0 { "W" } else { "b" }
                                );
                                checked += 1;
                            }
                        }
                    }
                }
            }
        }
    }
    eprintln!("finite-difference check: {checked} parameters, all within 1e-6");
    assert!(checked > 1000, "only {checked} parameters checked");
}

/// The batched GEMM path and the plain-loop reference agree to 1e-12·max(1, |value|).
#[test]
fn fast_path_equals_reference_path() {
    let mut rng = rng(7);
    for (out, loss) in accepted_pairs() {
        for hidden in all_activations() {
            for depth in 1..=4 {
                let batch = 1 + (depth * 2) % 5;
                let net = random_net(&mut rng, depth, hidden, out, loss);
                let (x, y) = random_batch(&mut rng, &net, batch);
                let mut ws = Workspace::new(&net, batch, 1);
                let mut grads = Gradients::zeros(&net);
                let fast_loss = net.loss_and_gradients(&x, &y, batch, &mut ws, &mut grads, None);
                let xs: Vec<Vec<f64>> = x.chunks(net.inputs()).map(<[f64]>::to_vec).collect();
                let ys: Vec<Vec<f64>> = y.chunks(net.outputs()).map(<[f64]>::to_vec).collect();
                let t = neuralnet::trace::trace(&net, &xs, &ys, 0.1).unwrap();
                let close = |a: f64, b: f64| (a - b).abs() <= 1e-12 * b.abs().max(1.0);
                assert!(close(fast_loss, t.loss), "loss {fast_loss} vs {}", t.loss);
                for l in 0..net.layers.len() {
                    let flat: Vec<f64> = t.grad_w[l].concat();
                    for (a, b) in grads.weights[l].iter().zip(&flat) {
                        assert!(close(*a, *b), "{hidden}/{out}/{loss} layer {l}: dW {a} vs {b}");
                    }
                    for (a, b) in grads.bias[l].iter().zip(&t.grad_b[l]) {
                        assert!(close(*a, *b), "{hidden}/{out}/{loss} layer {l}: db {a} vs {b}");
                    }
                    let w = net.layers[l].outputs;
                    for (s, sample) in t.samples.iter().enumerate() {
                        for (a, b) in ws.delta(l)[s * w..(s + 1) * w].iter().zip(&sample.delta[l]) {
                            assert!(close(*a, *b), "δ layer {l} sample {s}: {a} vs {b}");
                        }
                    }
                }
            }
        }
    }
}
