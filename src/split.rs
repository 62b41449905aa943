//! Seeded splits of rows `0..n`, stratified by class when labels are given: the validation split of
//! a table ([`holdout`]) and the folds of cross-validation ([`folds`]).
//!
//! Both stratify the same way, through [`by_class`]: a class's rows keep the order they arrive in,
//! so "the rows of each class, in a random order" is a shuffle before grouping ([`folds`]: one
//! shuffle of all rows) or after it ([`holdout`]: one shuffle per class, in class order). The two
//! keep their own order of random draws so that a seed chooses the rows it always chose.

use crate::rng::rng;
use rand::seq::SliceRandom;

/// The rows of `order` grouped by class, `labels[row]`, for every class from 0 to the largest label:
/// each group in the order its rows come in `order` (a class without rows has an empty group).
pub fn by_class(order: impl IntoIterator<Item = usize>, labels: &[u32]) -> Vec<Vec<usize>> {
    let classes = labels.iter().map(|&l| l as usize + 1).max().unwrap_or(0);
    let mut groups = vec![Vec::new(); classes];
    for i in order {
        groups[labels[i] as usize].push(i);
    }
    groups
}

/// A seeded split of rows `0..n` into (training, validation) with about `n_val` validation rows:
/// per class in proportion when `labels` are given (each class keeps a training row), else at random.
/// Both lists are sorted.
pub fn holdout(labels: Option<&[u32]>, n: usize, n_val: usize, seed: u64) -> (Vec<usize>, Vec<usize>) {
    let mut r = rng(seed);
    let mut train = Vec::with_capacity(n);
    let mut val = Vec::with_capacity(n_val);
    match labels {
        None => {
            let mut order: Vec<usize> = (0..n).collect();
            order.shuffle(&mut r);
            let k = n_val.min(n);
            val.extend_from_slice(&order[..k]);
            train.extend_from_slice(&order[k..]);
        }
        Some(labels) => {
            let fraction = n_val as f64 / n.max(1) as f64;
            for mut rows in by_class(0..n, labels) {
                rows.shuffle(&mut r);
                let k = ((rows.len() as f64 * fraction).round() as usize).min(rows.len().saturating_sub(1));
                val.extend_from_slice(&rows[..k]);
                train.extend_from_slice(&rows[k..]);
            }
        }
    }
    train.sort_unstable();
    val.sort_unstable();
    (train, val)
}

/// `k` folds of rows `0..n` for cross-validation, seeded: stratified by class when `labels` are
/// given (each class dealt round-robin over the folds after a shuffle), else a shuffled deal.
pub fn folds(labels: Option<&[u32]>, n: usize, k: usize, seed: u64) -> Vec<Vec<usize>> {
    let mut order: Vec<usize> = (0..n).collect();
    order.shuffle(&mut rng(seed));
    if let Some(labels) = labels {
        // Grouping keeps the shuffle within each class.
        order = by_class(order, labels).concat();
    }
    let k = k.clamp(1, n.max(1));
    let mut folds = vec![Vec::with_capacity(n / k + 1); k];
    for (j, &i) in order.iter().enumerate() {
        folds[j % k].push(i);
    }
    folds
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stratified_holdout_is_seeded_and_proportional() {
        let labels: Vec<u32> = (0..100).map(|i| u32::from(i % 4 == 0)).collect();
        let (train, val) = holdout(Some(&labels), 100, 20, 7);
        assert_eq!(val.len(), 20);
        assert_eq!(val.iter().filter(|&&i| labels[i] == 1).count(), 5);
        assert_eq!(train.len() + val.len(), 100);
        assert_eq!(holdout(Some(&labels), 100, 20, 7), (train, val.clone()));
        assert_ne!(holdout(Some(&labels), 100, 20, 8).1, val);
    }

    #[test]
    fn folds_partition_the_rows_and_keep_class_proportions() {
        let labels: Vec<u32> = (0..50).map(|i| if i < 40 { 0 } else { 1 }).collect();
        let f = folds(Some(&labels), 50, 5, 7);
        assert_eq!(f.len(), 5);
        let mut all: Vec<usize> = f.iter().flatten().copied().collect();
        all.sort_unstable();
        assert_eq!(all, (0..50).collect::<Vec<_>>());
        for fold in &f {
            assert_eq!(fold.len(), 10);
            assert_eq!(fold.iter().filter(|&&i| labels[i] == 1).count(), 2, "{fold:?}");
        }
        // Seeded: the same seed deals the same folds, another seed others.
        assert_eq!(f, folds(Some(&labels), 50, 5, 7));
        assert_ne!(f, folds(Some(&labels), 50, 5, 8));
        // Regression rows, and more folds than rows.
        assert_eq!(folds(None, 3, 5, 1).iter().map(Vec::len).sum::<usize>(), 3);
    }

    /// The splits as they were written before they shared [`by_class`]: the same rows for every seed.
    #[test]
    fn grouping_draws_as_the_former_splitters_did() {
        fn old_holdout(labels: &[u32], n: usize, n_val: usize, seed: u64) -> (Vec<usize>, Vec<usize>) {
            let mut r = rng(seed);
            let (mut train, mut val) = (Vec::new(), Vec::new());
            let classes = labels.iter().map(|&l| l as usize + 1).max().unwrap_or(0);
            let fraction = n_val as f64 / n.max(1) as f64;
            for c in 0..classes {
                let mut rows: Vec<usize> = (0..n).filter(|&i| labels[i] as usize == c).collect();
                rows.shuffle(&mut r);
                let k = ((rows.len() as f64 * fraction).round() as usize).min(rows.len().saturating_sub(1));
                val.extend_from_slice(&rows[..k]);
                train.extend_from_slice(&rows[k..]);
            }
            train.sort_unstable();
            val.sort_unstable();
            (train, val)
        }
        fn old_order(labels: &[u32], n: usize, seed: u64) -> Vec<usize> {
            let mut order: Vec<usize> = (0..n).collect();
            order.shuffle(&mut rng(seed));
            order.sort_by_key(|&i| labels[i]);
            order
        }
        for seed in 0..20 {
            // Three classes, one of them (1) absent, uneven sizes.
            let labels: Vec<u32> = (0..97u32).map(|i| [0, 2, 3][(i * 7 % 11 % 3) as usize]).collect();
            assert_eq!(holdout(Some(&labels), 97, 30, seed), old_holdout(&labels, 97, 30, seed));
            let mut order: Vec<usize> = (0..97).collect();
            order.shuffle(&mut rng(seed));
            assert_eq!(by_class(order, &labels).concat(), old_order(&labels, 97, seed));
        }
    }
}
