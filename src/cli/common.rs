//! What several subcommands share: the output format flag, the thread-pool size, [`say!`], and
//! how the pages of `serve` and `playground` send their embedded files ([`asset`]).

use clap::ValueEnum;
use std::sync::atomic::{AtomicBool, Ordering};

/// Set in the processes of a distributed run other than the first: they keep quiet.
static QUIET: AtomicBool = AtomicBool::new(false);

/// Silences [`say!`] from now on.
pub fn set_quiet(quiet: bool) {
    QUIET.store(quiet, Ordering::Relaxed);
}

/// Whether [`say!`] is silenced.
pub fn quiet() -> bool {
    QUIET.load(Ordering::Relaxed)
}

/// `eprintln!` for what a run tells its user, which only one process of a distributed run says.
macro_rules! say {
    ($($t:tt)*) => {
        if !$crate::cli::common::quiet() {
            eprintln!($($t)*)
        }
    };
}
pub(crate) use say;

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

/// An embedded file of a page, with the headers that keep the page to this server (no CDN, works
/// offline: the content security policy allows nothing from elsewhere).
pub fn asset(content_type: &'static str, body: &'static str) -> axum::response::Response {
    use axum::http::{HeaderValue, header};
    use axum::response::IntoResponse;
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'self'; img-src 'self' data: blob:; style-src 'self'"),
    );
    response
}
