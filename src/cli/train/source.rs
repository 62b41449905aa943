//! Where a run's rows come from: MNIST-style images or a CSV table, split and encoded, with the
//! network's input and output widths taken from them.

use super::super::common::say;
use super::args::TrainArgs;
use anyhow::{Context, Result, bail};
use neuralnet::Dataset;
use neuralnet::data::table::{self, Column, ColumnNote, Prepared, Table, Tabular, Task};
use neuralnet::dataset::Normalization;
use std::path::{Path, PathBuf};

/// The data of a run, whichever its source.
pub(super) struct Data {
    pub(super) train_set: Dataset<f32>,
    pub(super) val_set: Dataset<f32>,
    /// The test images (a CSV run has none: evaluate with `eval --csv`).
    pub(super) test: Option<Dataset<f32>>,
    pub(super) sizes: Vec<usize>,
    pub(super) norm: Normalization,
    pub(super) input_shape: Option<(usize, usize)>,
    pub(super) classes: Option<Vec<String>>,
    pub(super) data_dir: Option<PathBuf>,
    pub(super) tabular: Option<Tabular>,
}

pub(super) fn image_data(args: &TrainArgs, default_hidden: &[usize]) -> Result<Data> {
    let (idx, data_dir) = super::super::data::load(args.data_dir.as_deref())?;
    let pixels = idx.train_images.rows * idx.train_images.cols;
    let norm = Normalization::pixels();
    let full = Dataset::from_images(&idx.train_images.pixels, pixels, &idx.train_labels, idx.classes, &norm)?;
    let test = Dataset::from_images(&idx.test_images.pixels, pixels, &idx.test_labels, idx.classes, &norm)?;
    let val_size = args.val_size.unwrap_or(5000.min(full.len() / 10));
    if val_size >= full.len() {
        bail!("--val-size {val_size} leaves no training images (the training set has {})", full.len());
    }
    let (train_set, val_set) = full.split_off_end(val_size);

    let sizes = match (&args.layers, &args.hidden) {
        (Some(layers), _) => {
            if layers.first() != Some(&pixels) || layers.last() != Some(&idx.classes) {
                bail!(
                    "--layers {} does not fit the data: the first width must be {pixels} (pixels per image) and the last {} (classes); or use --hidden",
                    layers.iter().map(|s| s.to_string()).collect::<Vec<_>>().join(","),
                    idx.classes
                );
            }
            layers.clone()
        }
        (None, hidden) => {
            let hidden = hidden.clone().unwrap_or_else(|| default_hidden.to_vec());
            std::iter::once(pixels).chain(hidden).chain(std::iter::once(idx.classes)).collect()
        }
    };
    Ok(Data {
        train_set,
        val_set,
        test: Some(test),
        sizes,
        norm,
        input_shape: Some((idx.train_images.rows, idx.train_images.cols)),
        classes: Some((0..idx.classes).map(|c| c.to_string()).collect()),
        data_dir: Some(data_dir),
        tabular: None,
    })
}

/// Reads the table, infers what it can and says so, splits and encodes it.
pub(super) fn prepare_csv(args: &TrainArgs, path: &Path) -> Result<Prepared> {
    let target = args.target.clone().context("--csv needs --target COLUMN (the column to predict)")?;
    let task = args.task.as_deref().map(Task::parse).transpose()?;
    let t0 = std::time::Instant::now();
    let table = Table::read(path)?;
    let val_fraction = match (args.val_fraction, args.val_size) {
        (Some(f), _) => f,
        (None, Some(n)) if n >= table.len() => {
            bail!("--val-size {n} leaves no training rows (the table has {})", table.len())
        }
        (None, Some(n)) => n as f64 / table.len() as f64,
        (None, None) => 0.15,
    };
    let opts = table::Options {
        target,
        task,
        impute: args.impute.unwrap_or(false),
        val_fraction,
        seed: args.seed.unwrap_or(1),
        drop: args.drop.clone().unwrap_or_default(),
        keep: args.keep.clone().unwrap_or_default(),
        max_categories: args.max_categories.unwrap_or(table::MAX_CATEGORIES),
    };
    let p = table::prepare(&table, &opts)?;
    let t = &p.tabular;
    let how = if p.task_inferred { "chosen from the target's values; --task to override" } else { "as asked" };
    let what = match t.task {
        Task::Classify => format!("{} classes: {}", t.classes.len(), t.classes.join(", ")),
        Task::Regress => format!("mean {:.4}, std {:.4}", t.target_mean, t.target_std),
    };
    say!(
        "{}: {} rows; target '{}': {} ({what}) — {how}; read and encoded in {:.2} s",
        path.display(),
        table.len(),
        t.target,
        t.task.name(),
        t0.elapsed().as_secs_f64()
    );
    for note in &p.notes {
        match note {
            ColumnNote::Identifier { column, why } => say!(
                "left out column '{column}': it looks like an identifier ({why}), which the network cannot learn from; --keep {column} to use it"
            ),
            ColumnNote::Dropped { column } => say!("left out column '{column}' (--drop)"),
            ColumnNote::Capped { column, categories, kept, other_rows, rows } => say!(
                "column '{column}' has {categories} categories: one-hot for the {kept} most frequent, the other {} ({other_rows} of {rows} training rows) share one 'other' input; --max-categories to change",
                categories - kept
            ),
        }
    }
    let categorical: Vec<&str> =
        t.columns.iter().filter(|c| matches!(c, Column::Categorical { .. })).map(|c| c.name()).collect();
    say!(
        "{} feature columns ({} numeric, standardised; {} text, one-hot: {}) → {} inputs",
        t.columns.len(),
        t.columns.len() - categorical.len(),
        categorical.len(),
        if categorical.is_empty() { "none".to_string() } else { categorical.join(", ") },
        t.width()
    );
    Ok(p)
}

pub(super) fn csv_data(p: Prepared, hidden: &[usize]) -> Data {
    let hidden: Vec<usize> = hidden.iter().copied().filter(|&h| h > 0).collect();
    let t = p.tabular;
    let sizes = std::iter::once(t.width()).chain(hidden).chain(std::iter::once(t.outputs())).collect();
    Data {
        train_set: p.train,
        val_set: p.val,
        test: None,
        sizes,
        norm: Normalization::default(),
        input_shape: None,
        classes: (t.task == Task::Classify).then(|| t.classes.clone()),
        data_dir: None,
        tabular: Some(t),
    }
}
