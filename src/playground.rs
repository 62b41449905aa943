//! A network learning a 2-D data set step by step, every number of it within reach: what
//! `neuralnet playground` runs on the server for each open page.
//!
//! A [`Setup`] names the data set, the inputs computed from each point, the hidden layers and the
//! training settings; [`Session::new`] draws the points and builds the network, and each
//! [`Session::step`] takes one mini-batch of gradient descent with the library's own
//! `loss_and_gradients` and [`Optimizer`]. The session answers what the page shows: the output and
//! every neuron over the plane ([`Session::maps`]), one point's `z`, `a`, `δ` through the reference
//! path ([`Session::point`], the same numbers as `explain`), and one weight's gradient on the next
//! batch with the exact change the next step will make ([`Session::link`]).
//!
//! Classification sets end in one sigmoid output with binary cross-entropy, the regression surface
//! in an identity output with half-MSE; the article's 2-2-1 example is a preset with its own
//! weights, sigmoid on both layers, half-MSE, SGD with η = 0.1 on its one point.

use crate::activation::Activation;
use crate::architecture::Architecture;
use crate::data::toy::{EXTENT, Input, Toy};
use crate::error::{Error, Result};
use crate::init::Init;
use crate::loss::Loss;
use crate::network::{Gradients, Network, Workspace};
use crate::optimizer::{Method, Optimizer, OptimizerState};
use crate::rng::{Rng, rng};
use crate::trace::Trace;
use rand::Rng as _;
use serde::{Deserialize, Serialize};

/// At most this many hidden layers.
pub const MAX_LAYERS: usize = 6;
/// At most this many neurons in a hidden layer.
pub const MAX_NEURONS: usize = 8;
/// At most this many points.
pub const MAX_POINTS: usize = 1000;
/// The loss history keeps at most this many entries (older ones are thinned to every other).
const HISTORY: usize = 600;

/// Everything that defines a session; it fits in a URL, so a setup can be shared.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Setup {
    /// `xor`, `circles`, `spirals`, `gaussians`, `surface`, or `article` (the article's 2-2-1
    /// example: its one point and its weights; the settings below other than the seed are then
    /// the article's).
    pub data: String,
    /// How much the classes blur, 0 to 0.5.
    pub noise: f64,
    /// The fraction of the points held out as the test set, 0 to 0.9.
    pub test_ratio: f64,
    /// Number of points, 10 to [`MAX_POINTS`].
    pub points: usize,
    /// Seed of the points, the initial weights and the batch order.
    pub seed: u64,
    /// The network's inputs, computed from each point.
    pub inputs: Vec<Input>,
    /// Hidden layer widths (up to [`MAX_LAYERS`] layers of 1 to [`MAX_NEURONS`]).
    pub hidden: Vec<usize>,
    /// The hidden layers' activation (`tanh`, `relu`, `sigmoid`, `step`, …).
    pub activation: String,
    /// `sgd`, `momentum`, `nesterov`, `adam` or `adamw`.
    pub optimizer: String,
    /// Learning rate η.
    pub lr: f64,
    /// Points per mini-batch.
    pub batch: usize,
    /// L2 weight decay λ on the weights.
    pub l2: f64,
    /// Weight initialisation (`glorot-uniform`, `he-uniform`, …).
    pub init: String,
}

impl Default for Setup {
    fn default() -> Self {
        Self {
            data: "xor".into(),
            noise: 0.0,
            test_ratio: 0.5,
            points: 400,
            seed: 1,
            inputs: vec![Input::X1, Input::X2],
            hidden: vec![4, 2],
            activation: "tanh".into(),
            optimizer: "sgd".into(),
            lr: 0.03,
            batch: 10,
            l2: 0.0,
            init: "glorot-uniform".into(),
        }
    }
}

impl Setup {
    /// The article's 2-2-1 example (§4): x = (0.5, 0.1), y = 1, sigmoid on both layers, half-MSE,
    /// SGD with η = 0.1, batch 1, no test split.
    pub fn article() -> Self {
        Self {
            data: "article".into(),
            noise: 0.0,
            test_ratio: 0.0,
            points: 1,
            seed: 1,
            inputs: vec![Input::X1, Input::X2],
            hidden: vec![2],
            activation: "sigmoid".into(),
            optimizer: "sgd".into(),
            lr: crate::article::LR,
            batch: 1,
            l2: 0.0,
            init: "glorot-uniform".into(),
        }
    }

    /// Whether this is the article's example.
    pub fn is_article(&self) -> bool {
        self.data == "article"
    }

    fn invalid(what: &str, message: String) -> Error {
        Error::InvalidValue { what: format!("playground setup: {what}"), message }
    }

    /// Checks every limit, naming the setting at fault.
    pub fn validate(&self) -> Result<()> {
        if self.is_article() {
            return Ok(());
        }
        Toy::parse(&self.data)?;
        let range = |what: &str, v: f64, lo: f64, hi: f64| {
            if v.is_finite() && (lo..=hi).contains(&v) {
                Ok(())
            } else {
                Err(Self::invalid(what, format!("{v} is outside {lo}..={hi}")))
            }
        };
        range("noise", self.noise, 0.0, 0.5)?;
        range("test_ratio", self.test_ratio, 0.0, 0.9)?;
        range("lr", self.lr, 1e-6, 10.0)?;
        range("l2", self.l2, 0.0, 1.0)?;
        if !(10..=MAX_POINTS).contains(&self.points) {
            return Err(Self::invalid("points", format!("{} is outside 10..={MAX_POINTS}", self.points)));
        }
        if self.inputs.is_empty() {
            return Err(Self::invalid("inputs", "at least one input is needed".into()));
        }
        if let Some(i) = Input::ALL.iter().find(|i| self.inputs.iter().filter(|j| j == i).count() > 1) {
            return Err(Self::invalid("inputs", format!("{} is given twice", i.label())));
        }
        if self.hidden.len() > MAX_LAYERS || self.hidden.iter().any(|&w| w == 0 || w > MAX_NEURONS) {
            return Err(Self::invalid(
                "hidden",
                format!("{:?}: at most {MAX_LAYERS} layers of 1 to {MAX_NEURONS} neurons", self.hidden),
            ));
        }
        let train = self.points - (self.points as f64 * self.test_ratio).round() as usize;
        if self.batch == 0 || self.batch > train {
            return Err(Self::invalid("batch", format!("{} is outside 1..={train} (the training points)", self.batch)));
        }
        let act = Activation::parse(&self.activation)?;
        if !act.is_elementwise() {
            return Err(Self::invalid("activation", format!("{act} is not element-wise")));
        }
        Method::parse(&self.optimizer, 0.9)?;
        Init::parse(&self.init)?;
        Ok(())
    }
}

/// Points with their inputs and targets.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Points {
    /// The points `(x₁, x₂)`.
    pub xy: Vec<[f64; 2]>,
    /// The network's inputs, one row per point.
    pub x: Vec<f64>,
    /// The targets (labels 0/1, or real values).
    pub y: Vec<f64>,
}

impl Points {
    fn of(points: &[([f64; 2], f64)], inputs: &[Input]) -> Self {
        Self {
            xy: points.iter().map(|p| p.0).collect(),
            x: points.iter().flat_map(|(p, _)| inputs.iter().map(|i| i.of(*p))).collect(),
            y: points.iter().map(|p| p.1).collect(),
        }
    }

    /// Number of points.
    pub fn len(&self) -> usize {
        self.y.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.y.is_empty()
    }
}

/// The losses after some number of steps.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct LossPoint {
    /// Mini-batches taken.
    pub step: u64,
    /// Mean loss over the training points.
    pub train: f64,
    /// Mean loss over the test points (`None` without a test set).
    pub test: Option<f64>,
}

/// What the page draws over the plane, on an `n × n` grid from (−6, 6) at the top left to (6, −6)
/// at the bottom right, row by row.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PlaneMaps {
    /// Grid side.
    pub n: usize,
    /// Each input's value.
    pub inputs: Vec<Vec<f64>>,
    /// Each hidden and output neuron's `a`, by layer.
    pub neurons: Vec<Vec<Vec<f64>>>,
}

/// One weight `W⁽ˡ⁾ⱼᵢ` (or bias `b⁽ˡ⁾ⱼ`) and what the next step does to it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Link {
    /// Its value now.
    pub value: f64,
    /// `∂L/∂w` on the next mini-batch (the batch-mean loss, L2 not included).
    pub grad: f64,
    /// The next step's exact change `w_after − w`.
    pub change: f64,
    /// Its value after the next step.
    pub after: f64,
    /// The optimizer's memory of it: velocity or first moment (`None` for plain SGD).
    pub m: Option<f64>,
    /// Adam's second moment.
    pub v: Option<f64>,
    /// Steps taken so far (Adam's `t` before the next step).
    pub steps: u64,
    /// The training points in the next mini-batch.
    pub batch: Vec<usize>,
}

/// One page's network, data and training state.
pub struct Session {
    setup: Setup,
    net: Network<f64>,
    optimizer: Optimizer,
    state: OptimizerState<f64>,
    train: Points,
    test: Points,
    order: Vec<usize>,
    cursor: usize,
    shuffle: Rng,
    steps: u64,
    epochs: u64,
    history: Vec<LossPoint>,
    ws: Workspace<f64>,
    grads: Gradients<f64>,
}

impl Session {
    /// Draws the points, builds the network and takes no step yet.
    pub fn new(setup: Setup) -> Result<Self> {
        setup.validate()?;
        let (net, train, test, optimizer) = if setup.is_article() {
            let point = [(crate::article::X, crate::article::Y)];
            let train = Points::of(&point, &[Input::X1, Input::X2]);
            (crate::article::network(), train, Points::default(), Optimizer::sgd(crate::article::LR))
        } else {
            let toy = Toy::parse(&setup.data)?;
            let all = toy.points(setup.points, setup.noise, setup.seed);
            let n_test = (setup.points as f64 * setup.test_ratio).round() as usize;
            // The points come in alternating labels; a seeded shuffle picks the test set.
            let mut idx: Vec<usize> = (0..all.len()).collect();
            let mut r = rng(setup.seed ^ 0x7e57);
            for i in (1..idx.len()).rev() {
                idx.swap(i, r.random_range(0..=i));
            }
            let pick = |ids: &[usize]| ids.iter().map(|&i| all[i]).collect::<Vec<_>>();
            let test = Points::of(&pick(&idx[..n_test]), &setup.inputs);
            let train = Points::of(&pick(&idx[n_test..]), &setup.inputs);
            let (output, loss) = if toy.is_regression() {
                (Activation::Identity, Loss::HalfMse)
            } else {
                (Activation::SIGMOID, Loss::BinaryCrossEntropy)
            };
            let mut sizes = vec![setup.inputs.len()];
            sizes.extend(&setup.hidden);
            sizes.push(1);
            let arch = Architecture::mlp(&sizes, Activation::parse(&setup.activation)?, output, loss)
                .init(Init::parse(&setup.init)?);
            let mut optimizer = Optimizer::sgd(setup.lr);
            optimizer.method = Method::parse(&setup.optimizer, 0.9)?;
            optimizer.weight_decay = setup.l2;
            (arch.build(setup.seed)?, train, test, optimizer)
        };
        let state = optimizer.state(&net);
        let batch = setup.batch.min(train.len()).max(1);
        let mut s = Self {
            ws: Workspace::new(&net, batch.max(train.len()).max(test.len()), 1),
            grads: Gradients::zeros(&net),
            order: (0..train.len()).collect(),
            shuffle: rng(setup.seed ^ 0xba7c),
            cursor: 0,
            steps: 0,
            epochs: 0,
            history: Vec::new(),
            setup,
            net,
            optimizer,
            state,
            train,
            test,
        };
        s.reshuffle();
        s.record();
        Ok(s)
    }

    fn reshuffle(&mut self) {
        for i in (1..self.order.len()).rev() {
            self.order.swap(i, self.shuffle.random_range(0..=i));
        }
        self.cursor = 0;
    }

    /// The setup it was made from.
    pub fn setup(&self) -> &Setup {
        &self.setup
    }

    /// The network as it is now.
    pub fn network(&self) -> &Network<f64> {
        &self.net
    }

    /// The training and test points.
    pub fn points(&self) -> (&Points, &Points) {
        (&self.train, &self.test)
    }

    /// Mini-batches and whole passes over the training points so far.
    pub fn progress(&self) -> (u64, u64) {
        (self.steps, self.epochs)
    }

    /// Train and test loss over the steps (thinned as it grows).
    pub fn history(&self) -> &[LossPoint] {
        &self.history
    }

    /// Whether training has diverged: the training loss is no longer a finite number (too large
    /// a learning rate, or an activation that overflows). Steps then do nothing, until a reset.
    pub fn diverged(&self) -> bool {
        self.history.last().is_some_and(|h| !h.train.is_finite())
    }

    /// The training points of the next mini-batch.
    pub fn next_batch(&self) -> &[usize] {
        let b = self.setup.batch.min(self.order.len()).max(1);
        &self.order[self.cursor..(self.cursor + b).min(self.order.len())]
    }

    fn batch_rows(&self, ids: &[usize]) -> (Vec<f64>, Vec<f64>) {
        let k = self.net.inputs();
        let x = ids.iter().flat_map(|&i| self.train.x[i * k..(i + 1) * k].iter().copied()).collect();
        let y = ids.iter().map(|&i| self.train.y[i]).collect();
        (x, y)
    }

    /// The gradients of the batch-mean loss on the next mini-batch, into `self.grads`.
    fn next_gradients(&mut self) {
        let ids = self.next_batch().to_vec();
        let (x, y) = self.batch_rows(&ids);
        self.net.loss_and_gradients(&x, &y, ids.len(), &mut self.ws, &mut self.grads, None);
    }

    /// One mini-batch of gradient descent: `∂L/∂θ` by backpropagation on the next batch, then the
    /// optimizer's update. A new pass begins, reshuffled, when the points run out.
    pub fn step(&mut self) {
        // A diverged network stays as it is, for the page to show why (see `diverged`).
        if self.diverged() {
            return;
        }
        self.next_gradients();
        self.optimizer.step(&mut self.state, &mut self.net, &self.grads, self.optimizer.lr);
        self.steps += 1;
        self.cursor += self.next_batch().len();
        if self.cursor >= self.order.len() {
            self.epochs += 1;
            self.reshuffle();
        }
        self.record();
    }

    /// The mean loss of the network over `points` (`None` when there are none).
    pub fn loss(&mut self, test: bool) -> Option<f64> {
        let p = if test { &self.test } else { &self.train };
        if p.is_empty() {
            return None;
        }
        let out = self.net.forward(&p.x, p.len(), &mut self.ws).to_vec();
        let last = self.net.layers.len() - 1;
        let z = self.ws.z(last)[..p.len()].to_vec();
        Some(self.net.loss.value(self.net.layers[last].activation, &z, &out, &p.y, 1))
    }

    fn record(&mut self) {
        let (train, test) = (self.loss(false).unwrap_or(f64::NAN), self.loss(true));
        self.history.push(LossPoint { step: self.steps, train, test });
        if self.history.len() > HISTORY {
            // Keep the first and every other one after it: the curve's shape at half the points.
            let thinned = self.history.iter().copied().enumerate().filter(|(i, _)| i % 2 == 0).map(|(_, p)| p);
            self.history = thinned.collect();
        }
    }

    /// The output and every neuron (and input) over an `n × n` grid of the plane.
    pub fn maps(&self, n: usize) -> PlaneMaps {
        let n = n.clamp(2, 100);
        let step = 2.0 * EXTENT / (n - 1) as f64;
        let points: Vec<[f64; 2]> =
            (0..n * n).map(|i| [-EXTENT + (i % n) as f64 * step, EXTENT - (i / n) as f64 * step]).collect();
        let inputs = if self.setup.is_article() { vec![Input::X1, Input::X2] } else { self.setup.inputs.clone() };
        let x: Vec<f64> = points.iter().flat_map(|p| inputs.iter().map(|i| i.of(*p))).collect();
        let mut ws = Workspace::new(&self.net, n * n, 1);
        self.net.forward(&x, n * n, &mut ws);
        let k = inputs.len();
        let neurons = self
            .net
            .layers
            .iter()
            .enumerate()
            .map(|(l, layer)| {
                let a = ws.a(l);
                (0..layer.outputs).map(|j| (0..n * n).map(|r| a[r * layer.outputs + j]).collect()).collect()
            })
            .collect();
        PlaneMaps { n, inputs: (0..k).map(|c| (0..n * n).map(|r| x[r * k + c]).collect()).collect(), neurons }
    }

    /// Every number of one point's forward and backward pass (the point alone, as a batch of one):
    /// the reference path `explain` prints, with the step it would take at the current η.
    pub fn point(&self, test: bool, i: usize) -> Result<Trace> {
        let p = if test { &self.test } else { &self.train };
        if i >= p.len() {
            return Err(Error::InvalidValue {
                what: "point".into(),
                message: format!("{i} is not one of the {} {} points", p.len(), if test { "test" } else { "training" }),
            });
        }
        let k = self.net.inputs();
        crate::trace::trace(&self.net, &[p.x[i * k..(i + 1) * k].to_vec()], &[vec![p.y[i]]], self.optimizer.lr)
    }

    /// Weight `W⁽ˡ⁾[j][i]` (layer `l` from 0; `i = None` for the bias `b⁽ˡ⁾[j]`): its gradient on the
    /// next mini-batch and the exact change the next step makes, found by taking that step on a
    /// copy (the optimizer's state included).
    pub fn link(&mut self, l: usize, j: usize, i: Option<usize>) -> Result<Link> {
        let layer = self.net.layers.get(l).ok_or_else(|| Error::InvalidValue {
            what: "layer".into(),
            message: format!("{l} is not one of the {} layers (counted from 0)", self.net.layers.len()),
        })?;
        if j >= layer.outputs || i.is_some_and(|i| i >= layer.inputs) {
            return Err(Error::InvalidValue {
                what: "weight".into(),
                message: format!("({j}, {i:?}) is outside layer {l}'s {} × {} weights", layer.outputs, layer.inputs),
            });
        }
        let (slot, at) = match i {
            Some(i) => (2 * l, j * layer.inputs + i),
            None => (2 * l + 1, j),
        };
        self.next_gradients();
        let grad = self.grads.tensors().nth(slot).map_or(f64::NAN, |g| g[at]);
        let (mut net, mut state) = (self.net.clone(), self.state.clone());
        self.optimizer.step(&mut state, &mut net, &self.grads, self.optimizer.lr);
        let value = self.net.tensors().nth(slot).map_or(f64::NAN, |t| t[at]);
        let after = net.tensors().nth(slot).map_or(f64::NAN, |t| t[at]);
        Ok(Link {
            value,
            grad,
            change: after - value,
            after,
            m: self.state.m.get(slot).map(|m| m[at]),
            v: self.state.v.get(slot).map(|v| v[at]),
            steps: self.state.steps,
            batch: self.next_batch().to_vec(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_article_preset_takes_the_article_s_step() {
        let mut s = Session::new(Setup::article()).unwrap();
        let before = s.point(false, 0).unwrap();
        let expected = crate::explain::Problem::article().trace().unwrap();
        assert_eq!(before, expected);
        let link = s.link(1, 0, Some(0)).unwrap();
        assert_eq!(link.after, expected.updated_w[1][0][0]);
        assert_eq!(link.grad, expected.grad_w[1][0][0]);
        s.step();
        assert_eq!(s.network().layers[1].weights[0], expected.updated_w[1][0][0]);
        assert_eq!(s.network().layers[0].bias, expected.updated_b[0]);
        assert_eq!(s.progress(), (1, 1));
    }

    #[test]
    fn a_small_network_learns_xor() {
        // The browser test's setup: 2-4-1 tanh, SGD η = 0.3, batch 10, seed 1 (below 0.1 at step 746).
        let setup = Setup { hidden: vec![4], lr: 0.3, batch: 10, ..Setup::default() };
        let mut s = Session::new(setup).unwrap();
        let first = s.history()[0].test.unwrap();
        let below = (1..=1000).find(|_| {
            s.step();
            s.history().last().unwrap().test.unwrap() < 0.1
        });
        // 746 on the AMD machine; other CPUs may sum in another order and differ by a few steps.
        assert!(below.is_some(), "test loss from {first}: {:?}", s.history().last());
        let maps = s.maps(20);
        assert_eq!(maps.neurons.len(), 2);
        assert_eq!(maps.neurons[0].len(), 4);
        assert_eq!(maps.neurons[1][0].len(), 400);
        // Top left (−6, 6) and top right (6, 6) fall on opposite sides of XOR.
        let out = &maps.neurons[1][0];
        assert!((out[0] < 0.5) && (out[19] > 0.5), "{} {}", out[0], out[19]);
    }

    #[test]
    fn every_optimizer_s_next_change_is_what_the_step_does() {
        for opt in ["sgd", "momentum", "nesterov", "adam", "adamw"] {
            let setup = Setup { optimizer: opt.into(), l2: 0.01, data: "circles".into(), ..Setup::default() };
            let mut s = Session::new(setup).unwrap();
            for _ in 0..3 {
                s.step();
            }
            let link = s.link(0, 1, Some(0)).unwrap();
            let bias = s.link(2, 0, None).unwrap();
            s.step();
            assert_eq!(s.network().layers[0].weights[s.network().layers[0].inputs], link.after, "{opt}");
            assert_eq!(s.network().layers[2].bias[0], bias.after, "{opt}");
            assert_eq!(link.steps, 3);
            assert_eq!(link.m.is_some(), opt != "sgd");
        }
    }

    #[test]
    fn bad_setups_are_refused_by_name() {
        let cases = [
            (Setup { hidden: vec![9], ..Setup::default() }, "hidden"),
            (Setup { hidden: vec![2; 7], ..Setup::default() }, "hidden"),
            (Setup { points: 5000, ..Setup::default() }, "points"),
            (Setup { inputs: vec![], ..Setup::default() }, "inputs"),
            (Setup { inputs: vec![Input::X1, Input::X1], ..Setup::default() }, "given twice"),
            (Setup { lr: f64::NAN, ..Setup::default() }, "lr"),
            (Setup { batch: 0, ..Setup::default() }, "batch"),
            (Setup { data: "moons".into(), ..Setup::default() }, "moons"),
            (Setup { activation: "softmax".into(), ..Setup::default() }, "element-wise"),
        ];
        for (setup, wanted) in cases {
            let e = Session::new(setup).err().expect(wanted).to_string();
            assert!(e.contains(wanted), "{e}");
        }
    }

    #[test]
    fn regression_and_features_build_the_right_network() {
        let setup = Setup {
            data: "surface".into(),
            inputs: vec![Input::X1, Input::X2, Input::X1X2, Input::SinX1],
            hidden: vec![3, 3, 2],
            ..Setup::default()
        };
        let mut s = Session::new(setup).unwrap();
        assert_eq!(s.network().sizes(), vec![4, 3, 3, 2, 1]);
        assert_eq!(s.network().loss, Loss::HalfMse);
        assert_eq!(s.points().0.len() + s.points().1.len(), 400);
        s.step();
        assert!(s.history().iter().all(|h| h.train.is_finite()));
        assert!(s.point(true, 0).is_ok() && s.point(true, 10_000).is_err());
        assert!(s.link(5, 0, None).is_err() && s.link(0, 0, Some(4)).is_err());
    }
}
