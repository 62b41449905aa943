//! Data in memory: rows of features (batch-major, one sample per row) and their targets.
//!
//! Validated once when built (shapes, finiteness, label range), so the training loop need not.

use crate::error::{Error, Result, check_finite, shape_error};
use crate::kernels::{Float, prefetch};
use serde::{Deserialize, Serialize};

/// How many rows ahead a gather asks for its next rows ([`prefetch`]).
const GATHER_AHEAD: usize = 4;

/// How raw inputs become the network's `x`: `x = (raw / divide − mean) / std` (stored in the model
/// file, so that `eval` and `predict` scale new inputs as training did).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Normalization {
    /// Raw values are divided by this first (255 for 8-bit pixels).
    pub divide: f64,
    /// Subtracted after dividing.
    pub mean: f64,
    /// Divided by last.
    pub std: f64,
}

impl Default for Normalization {
    fn default() -> Self {
        Self { divide: 1.0, mean: 0.0, std: 1.0 }
    }
}

impl Normalization {
    /// Pixels 0–255 scaled to 0–1, as the training data was.
    pub fn pixels() -> Self {
        Self { divide: 255.0, mean: 0.0, std: 1.0 }
    }

    /// Applies the normalisation to one raw value.
    pub fn apply(&self, raw: f64) -> f64 {
        (raw / self.divide - self.mean) / self.std
    }
}

/// What a data set's rows are to be mapped to.
#[derive(Clone, Debug, PartialEq)]
pub enum Targets<T> {
    /// One class index per row, `0..classes`; the network's target is the one-hot vector.
    Classes {
        /// Class index of each row.
        labels: Vec<u32>,
        /// Number of classes (the output width).
        classes: usize,
    },
    /// A real-valued target vector per row (regression, or any explicit target).
    Values {
        /// Targets, rows × width.
        y: Vec<T>,
        /// Target width (the output width).
        width: usize,
    },
}

/// Rows of features with their targets, in memory, validated once.
#[derive(Clone, Debug, PartialEq)]
pub struct Dataset<T> {
    /// Features, rows × `features`, row-major; with `blocks`, only the inputs outside them.
    pub x: Vec<T>,
    /// Width of a row (the network's inputs).
    pub features: usize,
    /// Targets.
    pub targets: Targets<T>,
    /// One-hot blocks kept as one index per row (a table's text columns), if any.
    pub blocks: Option<Blocks>,
}

/// One-hot inputs kept as category indices: a row's inputs are its values in [`Dataset::x`] with,
/// at each block's place, `width` inputs all 0 but the indexed one, which is 1. Memory grows with
/// rows × columns, not rows × categories; a batch is expanded as it is gathered, and the first
/// layer's sparse kernels skip the zeros.
#[derive(Clone, Debug, PartialEq)]
pub struct Blocks {
    /// Each block's first input and width, in input order.
    pub at: Vec<(usize, usize)>,
    /// Rows × blocks: the index of the block's 1, or [`Blocks::NONE`] for all zeros.
    pub hot: Vec<u32>,
}

impl Blocks {
    /// No input of the block is 1 (a category not seen in training).
    pub const NONE: u32 = u32::MAX;

    /// Inputs in all blocks.
    pub fn width(&self) -> usize {
        self.at.iter().map(|b| b.1).sum()
    }

    /// Writes a row's inputs into `out` (the row's width) from its values outside the blocks and
    /// its indices.
    fn expand<T: Float>(&self, dense: &[T], hot: &[u32], out: &mut [T]) {
        let (mut d, mut o) = (0, 0);
        for (&(start, width), &h) in self.at.iter().zip(hot) {
            let n = start - o;
            out[o..start].copy_from_slice(&dense[d..d + n]);
            d += n;
            let block = &mut out[start..start + width];
            block.fill(T::zero());
            if h != Self::NONE {
                block[h as usize] = T::one();
            }
            o = start + width;
        }
        out[o..].copy_from_slice(&dense[d..]);
    }
}

impl<T: Float> Dataset<T> {
    /// A classification set: `x` (rows × `features`), one label per row in `0..classes`.
    pub fn classification(x: Vec<T>, features: usize, labels: Vec<u32>, classes: usize) -> Result<Self> {
        check_rows(&x, features, labels.len())?;
        if let Some((i, &l)) = labels.iter().enumerate().find(|&(_, &l)| l as usize >= classes) {
            return Err(Error::InvalidValue {
                what: "labels".into(),
                message: format!("row {} has label {l} but there are only {classes} classes", i + 1),
            });
        }
        check_finite("features", &x, features)?;
        Ok(Self { x, features, targets: Targets::Classes { labels, classes }, blocks: None })
    }

    /// A set with explicit real-valued targets `y` (rows × `width`).
    pub fn regression(x: Vec<T>, features: usize, y: Vec<T>, width: usize) -> Result<Self> {
        if width == 0 || !y.len().is_multiple_of(width) {
            return Err(shape_error("targets", format!("rows of {width} values"), format!("{} values", y.len()), None));
        }
        check_rows(&x, features, y.len() / width)?;
        check_finite("features", &x, features)?;
        check_finite("targets", &y, width)?;
        Ok(Self { x, features, targets: Targets::Values { y, width }, blocks: None })
    }

    /// A set of rows of `features` inputs whose one-hot inputs are kept as indices (see
    /// [`Blocks`]): `dense` holds each row's inputs outside the blocks, `targets` one per row.
    pub fn with_blocks(dense: Vec<T>, features: usize, blocks: Blocks, targets: Targets<T>) -> Result<Self> {
        let rows = match &targets {
            Targets::Classes { labels, .. } => labels.len(),
            Targets::Values { y, width } => y.len() / (*width).max(1),
        };
        let bad = |m: String| Err(shape_error("one-hot blocks", m, String::new(), None));
        let Some(outside) = features.checked_sub(blocks.width()) else {
            return bad(format!("blocks within {features} inputs"));
        };
        if dense.len() != rows * outside || blocks.hot.len() != rows * blocks.at.len() || features == 0 {
            return bad(format!("{rows} rows of {outside} values and {} indices", blocks.at.len()));
        }
        let mut end = 0;
        for &(start, width) in &blocks.at {
            if start < end || width == 0 || start + width > features {
                return bad(format!("blocks in order within {features} inputs"));
            }
            end = start + width;
        }
        for (i, &h) in blocks.hot.iter().enumerate() {
            if h != Blocks::NONE && h as usize >= blocks.at[i % blocks.at.len()].1 {
                return bad(format!("an index below its block's width in row {}", i / blocks.at.len() + 1));
            }
        }
        check_finite("features", &dense, outside.max(1))?;
        if let Targets::Values { y, width } = &targets {
            check_finite("targets", y, *width)?;
        }
        Ok(Self { x: dense, features, targets, blocks: Some(blocks) })
    }

    /// Inputs per row kept in [`Dataset::x`].
    fn stored(&self) -> usize {
        self.features - self.blocks.as_ref().map_or(0, Blocks::width)
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        match &self.targets {
            Targets::Classes { labels, .. } => labels.len(),
            Targets::Values { y, width } => y.len() / (*width).max(1),
        }
    }

    /// Every row's inputs, rows × `features` (a copy, expanded, when there are blocks).
    pub fn inputs(&self) -> std::borrow::Cow<'_, [T]> {
        match &self.blocks {
            None => std::borrow::Cow::Borrowed(&self.x),
            Some(_) => {
                let f = self.features;
                let mut out = vec![T::zero(); self.len() * f];
                let ids: Vec<usize> = (0..self.len()).collect();
                for (chunk, rows) in out.chunks_mut(1024 * f).zip(ids.chunks(1024)) {
                    self.gather_inputs(rows, chunk);
                }
                std::borrow::Cow::Owned(out)
            }
        }
    }

    /// Rows `idx`' inputs into `xb`.
    fn gather_inputs(&self, idx: &[usize], xb: &mut [T]) {
        let f = self.features;
        match &self.blocks {
            None => {
                for (k, &i) in idx.iter().enumerate() {
                    // Shuffled rows come from memory: ask for the one GATHER_AHEAD on while copying.
                    if let Some(&ahead) = idx.get(k + GATHER_AHEAD) {
                        prefetch(&self.x[ahead * f..(ahead + 1) * f]);
                    }
                    xb[k * f..(k + 1) * f].copy_from_slice(&self.x[i * f..(i + 1) * f]);
                }
            }
            Some(b) => {
                let (s, n) = (self.stored(), b.at.len());
                for (k, &i) in idx.iter().enumerate() {
                    b.expand(&self.x[i * s..(i + 1) * s], &b.hot[i * n..(i + 1) * n], &mut xb[k * f..(k + 1) * f]);
                }
            }
        }
    }

    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The width the network's output must have.
    pub fn target_width(&self) -> usize {
        match &self.targets {
            Targets::Classes { classes, .. } => *classes,
            Targets::Values { width, .. } => *width,
        }
    }

    /// Class labels, if this is a classification set.
    pub fn labels(&self) -> Option<&[u32]> {
        match &self.targets {
            Targets::Classes { labels, .. } => Some(labels),
            Targets::Values { .. } => None,
        }
    }

    /// Splits off the last `n` rows (e.g. a validation set held out from the end).
    pub fn split_off_end(mut self, n: usize) -> (Self, Self) {
        let keep = self.len().saturating_sub(n);
        let x_tail = self.x.split_off(keep * self.stored());
        let blocks_tail =
            self.blocks.as_mut().map(|b| Blocks { at: b.at.clone(), hot: b.hot.split_off(keep * b.at.len()) });
        let tail_targets = match &mut self.targets {
            Targets::Classes { labels, classes } => {
                Targets::Classes { labels: labels.split_off(keep), classes: *classes }
            }
            Targets::Values { y, width } => Targets::Values { y: y.split_off(keep * *width), width: *width },
        };
        let tail = Self { x: x_tail, features: self.features, targets: tail_targets, blocks: blocks_tail };
        (self, tail)
    }

    /// A new set of the rows `idx` (in that order), e.g. one fold of a cross-validation.
    pub fn select(&self, idx: &[usize]) -> Self {
        let s = self.stored();
        let x = idx.iter().flat_map(|&i| self.x[i * s..(i + 1) * s].iter().copied()).collect();
        let blocks = self.blocks.as_ref().map(|b| {
            let n = b.at.len();
            Blocks {
                at: b.at.clone(),
                hot: idx.iter().flat_map(|&i| b.hot[i * n..(i + 1) * n].iter().copied()).collect(),
            }
        });
        let targets = match &self.targets {
            Targets::Classes { labels, classes } => {
                Targets::Classes { labels: idx.iter().map(|&i| labels[i]).collect(), classes: *classes }
            }
            Targets::Values { y, width } => {
                let w = *width;
                Targets::Values {
                    y: idx.iter().flat_map(|&i| y[i * w..(i + 1) * w].iter().copied()).collect(),
                    width: w,
                }
            }
        };
        Self { x, features: self.features, targets, blocks }
    }

    /// Copies rows `idx` into `xb` and their targets (one-hot for classes) into `yb`.
    pub fn gather(&self, idx: &[usize], xb: &mut [T], yb: &mut [T]) {
        self.gather_inputs(idx, xb);
        match &self.targets {
            Targets::Classes { labels, classes } => {
                let c = *classes;
                yb[..idx.len() * c].fill(T::zero());
                for (k, &i) in idx.iter().enumerate() {
                    yb[k * c + labels[i] as usize] = T::one();
                }
            }
            Targets::Values { y, width } => {
                let w = *width;
                for (k, &i) in idx.iter().enumerate() {
                    yb[k * w..(k + 1) * w].copy_from_slice(&y[i * w..(i + 1) * w]);
                }
            }
        }
    }
}

fn check_rows<T>(x: &[T], features: usize, rows: usize) -> Result<()> {
    if features == 0 || x.len() != rows * features {
        return Err(shape_error(
            "features",
            format!("{rows} rows × {features} columns = {} values", rows * features),
            format!("{} values", x.len()),
            None,
        ));
    }
    Ok(())
}

impl Dataset<f32> {
    /// Images (`count` × `pixels_per_image` bytes) with labels, normalised by `norm`.
    pub fn from_images(
        pixels: &[u8],
        pixels_per_image: usize,
        labels: &[u8],
        classes: usize,
        norm: &Normalization,
    ) -> Result<Self> {
        let table: Vec<f32> = (0..=255u8).map(|v| norm.apply(v as f64) as f32).collect();
        let x = pixels.iter().map(|&p| table[p as usize]).collect();
        Dataset::classification(x, pixels_per_image, labels.iter().map(|&l| l as u32).collect(), classes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::architecture::Architecture;
    use crate::train::{TrainConfig, train};
    use crate::{Activation, Loss, Optimizer};

    /// 60 rows: a value, a block of 3, a value, a block of 4 (some rows with no 1 in it).
    fn both() -> (Dataset<f64>, Dataset<f64>) {
        let blocks = Blocks {
            at: vec![(1, 3), (5, 4)],
            hot: (0..60)
                .flat_map(|i| [(i % 3) as u32, if i % 7 == 0 { Blocks::NONE } else { (i % 4) as u32 }])
                .collect(),
        };
        let dense: Vec<f64> = (0..60 * 2).map(|i| ((i * 13) % 17) as f64 / 17.0 - 0.5).collect();
        let labels: Vec<u32> = (0..60).map(|i| ((i % 3 + i % 4) % 2) as u32).collect();
        let compact =
            Dataset::with_blocks(dense, 9, blocks, Targets::Classes { labels: labels.clone(), classes: 2 }).unwrap();
        let full = Dataset::classification(compact.inputs().into_owned(), 9, labels, 2).unwrap();
        (compact, full)
    }

    #[test]
    fn one_hot_blocks_expand_to_their_rows() {
        let (compact, full) = both();
        let row = |d: &Dataset<f64>, i: usize| d.inputs()[i * 9..(i + 1) * 9].to_vec();
        // Row 7: value, block 1 → index 1, value, block 2 → none (7 % 7 == 0).
        assert_eq!(&row(&full, 7)[1..4], &[0.0, 1.0, 0.0]);
        assert_eq!(&row(&full, 7)[5..], &[0.0; 4]);
        assert_eq!(compact.len(), 60);
        let idx = [5, 0, 59, 31];
        assert_eq!(compact.select(&idx).inputs(), full.select(&idx).inputs());
        let ((a, b), (c, d)) = (compact.clone().split_off_end(13), full.clone().split_off_end(13));
        assert_eq!((a.inputs(), b.inputs()), (c.inputs(), d.inputs()));
        let bad = Blocks { at: vec![(1, 3)], hot: vec![3] };
        assert!(
            Dataset::<f64>::with_blocks(vec![0.0], 4, bad, Targets::Classes { labels: vec![0], classes: 1 }).is_err()
        );
    }

    #[test]
    fn a_set_kept_as_indices_trains_as_its_dense_copy() {
        let (compact, full) = both();
        let arch = Architecture::mlp(&[9, 6, 2], Activation::Relu, Activation::Softmax, Loss::CrossEntropy);
        let config = TrainConfig { epochs: 4, batch_size: 8, optimizer: Optimizer::adam(0.01), ..Default::default() };
        let run = |d: &Dataset<f64>| {
            let mut net = arch.build::<f64>(3).unwrap();
            train(&mut net, d, None, &config, &mut ()).unwrap();
            net
        };
        assert_eq!(run(&compact), run(&full));
    }
}
