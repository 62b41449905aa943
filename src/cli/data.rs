//! Finding the image data: an explicit `--data-dir`, or the MNIST cache (fetched when empty).

use super::common::say;
use anyhow::{Context, Result, bail};
use neuralnet::Dataset;
use neuralnet::data::mnist::{self, IdxDataset};
use neuralnet::model_file::Model;
use std::path::{Path, PathBuf};

/// Loads the four IDX files from `dir`, or from the MNIST cache, fetching MNIST if it is not there.
pub fn load(dir: Option<&Path>) -> Result<(IdxDataset, PathBuf)> {
    let dir = match dir {
        Some(d) => d.to_path_buf(),
        None => {
            let cache = mnist::default_cache_dir();
            if !mnist::is_cached(&cache) {
                say!(
                    "MNIST is not in the cache ({}); fetching it now (set NEURALNET_DATA_DIR or pass --data-dir to use other files)",
                    cache.display()
                );
                std::fs::create_dir_all(&cache).with_context(|| format!("cannot create {}", cache.display()))?;
                mnist::fetch(&cache, &mut |line| say!("{line}"))?;
            }
            cache
        }
    };
    let data = mnist::load_dir(&dir)?;
    Ok((data, dir))
}

/// The test images of `dir` (or the MNIST cache) as a data set for `model`, normalised as the model
/// was trained; refuses images of another size or more classes than the model has.
pub fn test_set(model: &Model, model_path: &Path, dir: Option<&Path>) -> Result<Dataset<f32>> {
    let (idx, dir) = load(dir)?;
    let pixels = idx.test_images.rows * idx.test_images.cols;
    let net = &model.network;
    if pixels != net.inputs() || idx.classes > net.outputs() {
        bail!(
            "{} takes {} inputs and has {} classes, but the images in {} have {pixels} pixels and {} classes",
            model_path.display(),
            net.inputs(),
            net.outputs(),
            dir.display(),
            idx.classes
        );
    }
    Ok(Dataset::from_images(
        &idx.test_images.pixels,
        pixels,
        &idx.test_labels,
        net.outputs(),
        &model.info.normalization,
    )?)
}

/// Says on stderr which text columns of `table` hold categories the model never saw in training
/// (such rows get all zeros in that column's one-hot block: the model's guess without it).
pub fn warn_unseen_categories(
    tab: &neuralnet::data::table::Tabular,
    table: &neuralnet::data::table::Table,
    path: &Path,
) {
    for (column, rows, value, line) in tab.unseen_categories(table) {
        eprintln!(
            "warning: {}: column '{column}' has categories not seen in training in {rows} row(s) (first '{value}' on line {line}); they are encoded as none of the known ones",
            path.display()
        );
    }
}
