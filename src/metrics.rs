//! Measures of how well a network does: loss, accuracy, confusion matrix, precision and recall;
//! macro-F1 for classes and RMSE, MAE and R² for predicted values.

use crate::dataset::{Dataset, Targets};
use crate::distributed::{self, Collective};
use crate::error::Result;
use crate::kernels::Float;
use crate::network::{Network, Workspace};
use serde::Serialize;

/// Index of the largest entry of a row (the predicted class); the first one on ties.
pub fn argmax<T: Float>(row: &[T]) -> usize {
    let mut best = 0;
    for (i, &v) in row.iter().enumerate() {
        if v > row[best] {
            best = i;
        }
    }
    best
}

/// Rows whose largest output is where the one-hot target `y` has its 1.
pub fn count_correct<T: Float>(out: &[T], y: &[T], width: usize) -> usize {
    out.chunks_exact(width).zip(y.chunks_exact(width)).filter(|(o, t)| argmax(o) == argmax(t)).count()
}

/// Loss (and accuracy, for classification) of `net` on `data`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Evaluation {
    /// Mean loss over all rows.
    pub loss: f64,
    /// Fraction classified correctly (classification only).
    pub accuracy: Option<f64>,
    /// Confusion matrix, rows = true class, columns = predicted (classification only).
    pub confusion: Option<Vec<Vec<usize>>>,
}

/// Runs `net` over `data` in batches of `batch` rows.
pub fn evaluate<T: Float>(net: &Network<T>, data: &Dataset<T>, batch: usize, threads: usize) -> Result<Evaluation> {
    let n = data.len();
    let batch = batch.clamp(1, n.max(1));
    let mut ws = Workspace::new(net, batch, threads);
    let width = net.outputs();
    let mut yb = vec![T::zero(); batch * width];
    let mut xb = vec![T::zero(); batch * data.features];
    let labels = data.labels();
    let mut confusion = labels.map(|_| vec![vec![0usize; width]; width]);
    let mut loss_sum = 0.0;
    let idx: Vec<usize> = (0..n).collect();
    let last = net.layers.len() - 1;
    for chunk in idx.chunks(batch) {
        let b = chunk.len();
        data.gather(chunk, &mut xb, &mut yb);
        let out = net.forward(&xb[..b * data.features], b, &mut ws);
        let out_act = net.layers[last].activation;
        let m = b * width;
        if let (Some(conf), Some(labels)) = (confusion.as_mut(), labels) {
            for (row, &i) in out.chunks_exact(width).zip(chunk) {
                conf[labels[i] as usize][argmax(row)] += 1;
            }
        }
        loss_sum += net.loss.value(out_act, &ws.z(last)[..m], &ws.a(last)[..m], &yb[..m], width) * b as f64;
    }
    let accuracy = confusion.as_ref().map(|c| (0..width).map(|k| c[k][k]).sum::<usize>() as f64 / n.max(1) as f64);
    Ok(Evaluation { loss: loss_sum / n.max(1) as f64, accuracy, confusion })
}

/// [`evaluate`] with the rows shared between the processes of `c`: each evaluates its share
/// ([`distributed::share`]) and the sums of losses and of the confusion matrix are added up, so
/// that every process gets the whole set's result.
pub fn evaluate_across<T: Float>(
    net: &Network<T>,
    data: &Dataset<T>,
    batch: usize,
    threads: usize,
    c: &dyn Collective,
) -> Result<Evaluation> {
    if c.size() == 1 {
        return evaluate(net, data, batch, threads);
    }
    let rows: Vec<usize> = distributed::share(data.len(), c.rank(), c.size()).collect();
    let mine = evaluate(net, &data.select(&rows), batch, threads)?;
    let k = net.outputs();
    let mut sums = vec![mine.loss * rows.len() as f64];
    if let Some(conf) = &mine.confusion {
        sums.extend(conf.iter().flatten().map(|&n| n as f64));
    }
    let mut all = vec![0.0; sums.len()];
    c.sum_f64(&sums, &mut all, "the evaluation");
    let n = data.len().max(1) as f64;
    let confusion = mine.confusion.map(|_| {
        all[1..].chunks_exact(k).map(|r| r.iter().map(|&v| v as usize).collect()).collect::<Vec<Vec<usize>>>()
    });
    let accuracy = confusion.as_ref().map(|c| (0..k).map(|i| c[i][i]).sum::<usize>() as f64 / n);
    Ok(Evaluation { loss: all[0] / n, accuracy, confusion })
}

/// Fraction of `data`'s rows that `net` classifies correctly.
pub fn accuracy<T: Float>(net: &Network<T>, data: &Dataset<T>) -> Result<f64> {
    Ok(evaluate(net, data, 1000, 1)?.accuracy.unwrap_or(0.0))
}

/// Per-class precision and recall from a confusion matrix (rows = true, columns = predicted);
/// a class never predicted (or never present) gets 0.
pub fn precision_recall(confusion: &[Vec<usize>]) -> Vec<(f64, f64)> {
    let k = confusion.len();
    (0..k)
        .map(|c| {
            let tp = confusion[c][c] as f64;
            let predicted: usize = (0..k).map(|r| confusion[r][c]).sum();
            let actual: usize = confusion[c].iter().sum();
            let p = if predicted > 0 { tp / predicted as f64 } else { 0.0 };
            let r = if actual > 0 { tp / actual as f64 } else { 0.0 };
            (p, r)
        })
        .collect()
}

/// How close predicted values are to the true ones.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct RegressionMetrics {
    /// Root mean squared error.
    pub rmse: f64,
    /// Mean absolute error.
    pub mae: f64,
    /// Coefficient of determination, `1 − SS_res / SS_tot` (1 is perfect, 0 is the mean's score).
    pub r2: f64,
}

/// RMSE, MAE and R² of `predicted` against `truth` (same length, at least one value).
pub fn regression_metrics(predicted: &[f64], truth: &[f64]) -> RegressionMetrics {
    // The sums run on the values times a power of two that brings the largest to [1/2, 1]: exact
    // (the same bits as unscaled where nothing over- or underflows), but the squares of targets
    // past 1e154 or under 1e-154 would otherwise overflow to ∞ or vanish.
    let largest = predicted.iter().chain(truth).map(|v| v.abs()).filter(|v| v.is_finite()).fold(0.0, f64::max);
    let e = if largest > 0.0 { (largest.log2().ceil() as i32).clamp(-1020, 1020) } else { 0 };
    let (down, up) = (2f64.powi(-e), 2f64.powi(e));
    let n = truth.len().max(1) as f64;
    let mean = truth.iter().map(|t| t * down).sum::<f64>() / n;
    let (mut se, mut ae, mut tot) = (0.0, 0.0, 0.0);
    for (p, t) in predicted.iter().zip(truth) {
        let (p, t) = (p * down, t * down);
        se += (p - t) * (p - t);
        ae += (p - t).abs();
        tot += (t - mean) * (t - mean);
    }
    let r2 = if tot > 0.0 {
        1.0 - se / tot
    } else if se == 0.0 {
        1.0
    } else {
        0.0
    };
    RegressionMetrics { rmse: (se / n).sqrt() * up, mae: ae / n * up, r2 }
}

/// How well a network does on held-out rows, in the units the user knows.
#[derive(Clone, Debug, PartialEq)]
pub enum Score {
    /// Classification: the share of rows whose largest output is the label.
    Accuracy(f64),
    /// Regression: R², RMSE and MAE of the outputs mapped back to the target's units by `unscale`.
    Regression(RegressionMetrics),
}

/// The [`Score`] of `net` on `data` (classes: accuracy; values: regression metrics after `unscale`,
/// which undoes the target's standardisation).
pub fn score(net: &Network<f32>, data: &Dataset<f32>, unscale: impl Fn(f64) -> f64) -> Result<Score> {
    let out = net.predict(&data.inputs(), data.len())?;
    Ok(match &data.targets {
        Targets::Classes { labels, .. } => {
            let k = net.outputs();
            let right = out.chunks(k).zip(labels).filter(|(o, l)| argmax(o) == **l as usize).count();
            Score::Accuracy(right as f64 / labels.len() as f64)
        }
        Targets::Values { y, .. } => {
            let p: Vec<f64> = out.iter().map(|&v| unscale(v.f64())).collect();
            let y: Vec<f64> = y.iter().map(|&v| unscale(v.f64())).collect();
            Score::Regression(regression_metrics(&p, &y))
        }
    })
}

/// The mean over classes of F1 = 2PR/(P+R), from a confusion matrix (rows true, columns predicted);
/// a class absent from both truth and predictions is left out.
pub fn macro_f1(confusion: &[Vec<usize>]) -> f64 {
    let pr = precision_recall(confusion);
    let k = confusion.len();
    let mut sum = 0.0;
    let mut count = 0;
    for c in 0..k {
        let present = confusion[c].iter().sum::<usize>() + (0..k).map(|r| confusion[r][c]).sum::<usize>() > 0;
        if !present {
            continue;
        }
        let (p, r) = pr[c];
        sum += if p + r > 0.0 { 2.0 * p * r / (p + r) } else { 0.0 };
        count += 1;
    }
    if count == 0 { 0.0 } else { sum / count as f64 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn precision_and_recall_from_confusion() {
        let c = vec![vec![3, 1], vec![0, 2]];
        let pr = precision_recall(&c);
        assert!((pr[0].0 - 1.0).abs() < 1e-12 && (pr[0].1 - 0.75).abs() < 1e-12);
        assert!((pr[1].0 - 2.0 / 3.0).abs() < 1e-12 && (pr[1].1 - 1.0).abs() < 1e-12);
        assert_eq!(argmax(&[0.1f32, 0.7, 0.7]), 1);
    }

    #[test]
    fn regression_metrics_and_macro_f1() {
        let m = regression_metrics(&[1.0, 2.0, 3.0], &[1.0, 2.0, 5.0]);
        assert!((m.rmse - (4.0f64 / 3.0).sqrt()).abs() < 1e-12);
        assert!((m.mae - 2.0 / 3.0).abs() < 1e-12);
        assert!((m.r2 - (1.0 - 4.0 / (78.0 / 9.0))).abs() < 1e-12);
        assert!((macro_f1(&[vec![2, 0], vec![0, 2]]) - 1.0).abs() < 1e-12);
    }

    #[test]
    fn regression_metrics_hold_for_targets_whose_squares_leave_f64() {
        let m = regression_metrics(&[1.0, 2.0, 3.0], &[1.0, 2.0, 5.0]);
        for scale in [1e200, 1e300, 1e-200, 1e-300] {
            let (p, t) = ([1.0 * scale, 2.0 * scale, 3.0 * scale], [1.0 * scale, 2.0 * scale, 5.0 * scale]);
            let big = regression_metrics(&p, &t);
            assert!((big.rmse / scale - m.rmse).abs() < 1e-9 * m.rmse, "{scale}: {big:?}");
            assert!((big.mae / scale - m.mae).abs() < 1e-9 * m.mae, "{scale}: {big:?}");
            assert!((big.r2 - m.r2).abs() < 1e-9, "{scale}: {big:?}");
        }
        // Values in the ordinary range give the bits of the plain sums.
        let (p, t) = ([0.3, -1.7, 2.9, 4.1], [0.1, -2.0, 3.3, 4.0]);
        let plain_se: f64 = p.iter().zip(&t).map(|(p, t)| (p - t) * (p - t)).sum();
        assert_eq!(regression_metrics(&p, &t).rmse.to_bits(), (plain_se / 4.0).sqrt().to_bits());
    }
}
