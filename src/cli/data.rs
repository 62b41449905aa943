//! Finding the image data: an explicit `--data-dir`, or the MNIST cache (fetched when empty).

use anyhow::{Context, Result};
use neuralnet::data::mnist::{self, IdxDataset};
use std::path::{Path, PathBuf};

/// Loads the four IDX files from `dir`, or from the MNIST cache, fetching MNIST if it is not there.
pub fn load(dir: Option<&Path>) -> Result<(IdxDataset, PathBuf)> {
    let dir = match dir {
        Some(d) => d.to_path_buf(),
        None => {
            let cache = mnist::default_cache_dir();
            if !mnist::is_cached(&cache) {
                eprintln!(
                    "MNIST is not in the cache ({}); fetching it now (set NEURALNET_DATA_DIR or pass --data-dir to use other files)",
                    cache.display()
                );
                std::fs::create_dir_all(&cache).with_context(|| format!("cannot create {}", cache.display()))?;
                mnist::fetch(&cache, &mut |line| eprintln!("{line}"))?;
            }
            cache
        }
    };
    let data = mnist::load_dir(&dir)?;
    Ok((data, dir))
}
