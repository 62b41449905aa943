//! What several subcommands share: the output format flag and the thread-pool size.

use clap::ValueEnum;

/// Output format for commands that print results.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Human-readable text.
    #[default]
    Text,
    /// One JSON object on stdout (messages go to stderr).
    Json,
}

/// Sizes the thread pool the matrix products use (once per process).
pub fn set_threads(threads: usize) -> usize {
    let n = if threads == 0 { std::thread::available_parallelism().map_or(1, |n| n.get()) } else { threads };
    let _ = rayon::ThreadPoolBuilder::new().num_threads(n).build_global();
    n
}
