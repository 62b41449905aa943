//! Data in memory: rows of features (batch-major, one sample per row) and their targets.
//!
//! Validated once when built (shapes, finiteness, label range), so the training loop need not.

use crate::error::{Error, Result, check_finite, shape_error};
use crate::kernels::Float;
use serde::{Deserialize, Serialize};

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
    /// Features, rows × `features`, row-major.
    pub x: Vec<T>,
    /// Width of a row.
    pub features: usize,
    /// Targets.
    pub targets: Targets<T>,
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
        Ok(Self { x, features, targets: Targets::Classes { labels, classes } })
    }

    /// A set with explicit real-valued targets `y` (rows × `width`).
    pub fn regression(x: Vec<T>, features: usize, y: Vec<T>, width: usize) -> Result<Self> {
        if width == 0 || !y.len().is_multiple_of(width) {
            return Err(shape_error("targets", format!("rows of {width} values"), format!("{} values", y.len()), None));
        }
        check_rows(&x, features, y.len() / width)?;
        check_finite("features", &x, features)?;
        check_finite("targets", &y, width)?;
        Ok(Self { x, features, targets: Targets::Values { y, width } })
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.x.len().checked_div(self.features).unwrap_or(0)
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
        let x_tail = self.x.split_off(keep * self.features);
        let tail_targets = match &mut self.targets {
            Targets::Classes { labels, classes } => {
                Targets::Classes { labels: labels.split_off(keep), classes: *classes }
            }
            Targets::Values { y, width } => Targets::Values { y: y.split_off(keep * *width), width: *width },
        };
        let tail = Self { x: x_tail, features: self.features, targets: tail_targets };
        (self, tail)
    }

    /// A new set of the rows `idx` (in that order), e.g. one fold of a cross-validation.
    pub fn select(&self, idx: &[usize]) -> Self {
        let f = self.features;
        let x = idx.iter().flat_map(|&i| self.x[i * f..(i + 1) * f].iter().copied()).collect();
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
        Self { x, features: f, targets }
    }

    /// Copies rows `idx` into `xb` and their targets (one-hot for classes) into `yb`.
    pub fn gather(&self, idx: &[usize], xb: &mut [T], yb: &mut [T]) {
        let f = self.features;
        for (k, &i) in idx.iter().enumerate() {
            xb[k * f..(k + 1) * f].copy_from_slice(&self.x[i * f..(i + 1) * f]);
        }
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
