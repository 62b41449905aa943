//! `neuralnet fetch mnist`: download, verify and cache MNIST.

use anyhow::{Result, bail};
use clap::Args;
use neuralnet::data::mnist;
use std::path::PathBuf;

/// Arguments of `fetch`.
#[derive(Args, Debug)]
pub struct FetchArgs {
    /// Data set to fetch (only `mnist`).
    #[arg(default_value = "mnist")]
    dataset: String,
    /// Where to put it (default: the cache, $NEURALNET_DATA_DIR or ~/.cache/neuralnet/mnist).
    #[arg(long)]
    dir: Option<PathBuf>,
}

pub fn run(args: FetchArgs) -> Result<()> {
    if !args.dataset.eq_ignore_ascii_case("mnist") {
        bail!("unknown data set '{}'; only 'mnist' can be fetched", args.dataset);
    }
    let dir = args.dir.unwrap_or_else(mnist::default_cache_dir);
    std::fs::create_dir_all(&dir)?;
    if mnist::is_cached(&dir) {
        eprintln!("MNIST already in {} (checksums verified)", dir.display());
        return Ok(());
    }
    mnist::fetch(&dir, &mut |line| eprintln!("{line}"))?;
    Ok(())
}
