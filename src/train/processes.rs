//! A trainer's part in a run over several processes ([`crate::distributed`]): its share of each
//! batch, the sums of each step, and the checks at each epoch's end.
//!
//! Per step, every process computes the mean gradient over its rows `∂Lₚ/∂θ` scaled by its share
//! of the batch `rowsₚ / B` (by scaling `δ⁽ᴸ⁾`, which every gradient is linear in), and a sum
//! across processes gives every process the batch's mean gradient `Σₚ (rowsₚ / B) · ∂Lₚ/∂θ`;
//! every process then makes the same optimizer update. The sum goes tensor by tensor from the
//! gradients into a second set, which then takes their place: no copy. The batch loss, the count
//! of correct rows and a "stop" flag follow in one more, small sum.

use crate::dataset::Dataset;
use crate::distributed::{self, Collective, Digest};
use crate::error::{Error, Result};
use crate::kernels::Float;
use crate::metrics;
use crate::network::{Gradients, Network};
use std::ops::Range;
use std::sync::Arc;
use std::time::Instant;

/// The buffers and state of a trainer that is one of several processes.
pub(super) struct Processes<T> {
    comm: Arc<dyn Collective>,
    /// The sum across processes arrives here, then takes the place of the trainer's gradients.
    sum: Gradients<T>,
    /// Seconds spent in the sums since the last epoch's end.
    pub(super) seconds: f64,
    /// Set before each step: this process has been asked to stop.
    pub(super) want_stop: bool,
    /// After each step, and at an epoch's end: some process has been asked to stop, so all stop.
    pub(super) stop: bool,
}

impl<T: Float> Processes<T> {
    /// The buffers for training `net` as one of the processes of `comm`.
    pub(super) fn new(comm: Arc<dyn Collective>, net: &Network<T>) -> Self {
        Self { comm, sum: Gradients::zeros(net), seconds: 0.0, want_stop: false, stop: false }
    }

    /// The rows of a batch of `b` that this process takes.
    pub(super) fn share(&self, b: usize) -> Range<usize> {
        distributed::share(b, self.comm.rank(), self.comm.size())
    }

    /// Turns this process's share of the batch's gradient (in `grads`: its `rows` rows' mean
    /// gradient × rows / batch, already scaled; anything when `rows` is 0), of its loss and its
    /// count of correct rows into the batch's, summed over the processes, in every process. Sets
    /// [`Processes::stop`]. One sum per tensor, straight from the gradients (no copy), and one for
    /// the numbers.
    pub(super) fn sum_step(
        &mut self,
        grads: &mut Gradients<T>,
        rows: usize,
        loss: f64,
        correct: usize,
    ) -> (f64, usize) {
        if rows == 0 {
            grads.tensors_mut().for_each(|g| g.fill(T::zero()));
        }
        let t0 = Instant::now();
        let c = &*self.comm;
        let mine = grads.tensors();
        let all = self.sum.tensors_mut();
        for (g, s) in mine.zip(all) {
            distributed::sum(c, g, s, "the gradient sum");
        }
        let mut numbers = [0.0; 3];
        c.sum_f64(&[loss, correct as f64, f64::from(u8::from(self.want_stop))], &mut numbers, "the gradient sum");
        self.seconds += t0.elapsed().as_secs_f64();
        std::mem::swap(grads, &mut self.sum);
        self.stop = numbers[2] > 0.0;
        (numbers[0], numbers[1].round() as usize)
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
