//! A trainer's part in a run over several processes ([`crate::distributed`]): its share of each
//! batch, the one sum per step, and the checks at each epoch's end.
//!
//! Per step, every process computes the mean gradient over its rows `∂Lₚ/∂θ`, scales it by its
//! share of the batch `rowsₚ / B`, and one sum across processes gives every process the batch's
//! mean gradient `Σₚ (rowsₚ / B) · ∂Lₚ/∂θ`; every process then makes the same optimizer update.
//! The batch loss, the count of correct rows and a "stop" flag travel in the same sum.

use crate::dataset::Dataset;
use crate::distributed::{self, Collective, Digest};
use crate::error::{Error, Result};
use crate::kernels::Float;
use crate::metrics;
use crate::network::{Gradients, Network};
use std::ops::Range;
use std::sync::Arc;
use std::time::Instant;

/// Numbers after the gradients in the sum: the loss and the correct count (each as a high and a
/// low part, so that `f32` carries them to `f64` precision) and the stop flag.
const TAIL: usize = 5;

/// The buffers and state of a trainer that is one of several processes.
pub(super) struct Processes<T> {
    comm: Arc<dyn Collective>,
    /// This process's scaled gradients, then the tail; and the sum across processes.
    send: Vec<T>,
    recv: Vec<T>,
    /// Seconds spent in the sums since the last epoch's end.
    pub(super) seconds: f64,
    /// Set before each step: this process has been asked to stop.
    pub(super) want_stop: bool,
    /// After each step, and at an epoch's end: some process has been asked to stop, so all stop.
    pub(super) stop: bool,
}

/// `x` as a high and a low part in `T` whose sum is `x` to about `T`'s precision squared.
fn split_f64<T: Float>(x: f64) -> (T, T) {
    let hi = T::of(x);
    (hi, T::of(x - hi.f64()))
}

impl<T: Float> Processes<T> {
    /// The buffers for training `net` as one of the processes of `comm`.
    pub(super) fn new(comm: Arc<dyn Collective>, net: &Network<T>) -> Self {
        let n = net.parameter_count() + TAIL;
        Self { comm, send: vec![T::zero(); n], recv: vec![T::zero(); n], seconds: 0.0, want_stop: false, stop: false }
    }

    /// The rows of a batch of `b` that this process takes.
    pub(super) fn share(&self, b: usize) -> Range<usize> {
        distributed::share(b, self.comm.rank(), self.comm.size())
    }

    /// Turns this process's mean gradient over `rows` of a batch of `batch` (in `grads`; anything
    /// when `rows` is 0) and its mean `loss` and `correct` count into the batch's, summed over the
    /// processes, in every process. Sets [`Processes::stop`].
    pub(super) fn sum_step(
        &mut self,
        grads: &mut Gradients<T>,
        rows: usize,
        batch: usize,
        loss: f64,
        correct: usize,
    ) -> (f64, usize) {
        let share = rows as f64 / batch as f64;
        let scale = T::of(share);
        let tensors = grads.weights.iter().zip(&grads.bias).flat_map(|(w, b)| [w, b]);
        let mut o = 0;
        for g in tensors {
            let dst = &mut self.send[o..o + g.len()];
            if rows == 0 {
                dst.fill(T::zero());
            } else {
                for (d, &v) in dst.iter_mut().zip(g) {
                    *d = v * scale;
                }
            }
            o += g.len();
        }
        let (lh, ll) = split_f64::<T>(if rows == 0 { 0.0 } else { loss * share });
        let (ch, cl) = split_f64::<T>(correct as f64);
        self.send[o..].copy_from_slice(&[lh, ll, ch, cl, T::of(f64::from(u8::from(self.want_stop)))]);
        let t0 = Instant::now();
        distributed::sum(&*self.comm, &self.send, &mut self.recv, "the gradient sum");
        self.seconds += t0.elapsed().as_secs_f64();
        let mut o = 0;
        for g in grads.weights.iter_mut().zip(grads.bias.iter_mut()).flat_map(|(w, b)| [w, b]) {
            let n = g.len();
            g.copy_from_slice(&self.recv[o..o + n]);
            o += n;
        }
        let t = &self.recv[o..];
        self.stop = t[4] > T::zero();
        (t[0].f64() + t[1].f64(), (t[2].f64() + t[3].f64()).round() as usize)
    }

    /// The validation loss and accuracy, each process evaluating its share of `val`.
    pub(super) fn validate(&self, net: &Network<T>, val: &Dataset<T>, threads: usize) -> Result<(f64, Option<f64>)> {
        let e = metrics::evaluate_across(net, val, 1000, threads, &*self.comm)?;
        Ok((e.loss, e.accuracy))
    }

    /// At the end of epoch `epoch` (from 1): checks that every process holds the same weights, and
    /// agrees whether to stop (any process asked to: `want_stop`), setting [`Processes::stop`].
    pub(super) fn end_epoch(&mut self, net: &Network<T>, epoch: usize, want_stop: bool) -> Result<()> {
        let weights = Digest::default().network(net).finish();
        if let Some(d) = distributed::disagreement(&*self.comm, &[("weights", weights)], "the weight check") {
            return Err(Error::Distributed(format!(
                "after epoch {epoch} process {}{} holds different weights from process 0: the processes no longer make the same updates (a fault in the MPI library, the network or a machine); stopping",
                d.process,
                if d.others > 0 { format!(" (and {} other(s))", d.others) } else { String::new() },
            )));
        }
        let mut all = [0.0];
        self.comm.sum_f64(&[f64::from(u8::from(want_stop))], &mut all, "the agreement to stop");
        self.stop = all[0] > 0.0;
        Ok(())
    }
}
