//! What several subcommands share: the output format flag, the thread-pool size, [`say!`], and
//! what the servers of `serve` and `playground` share ([`serve_http`], [`asset`]).

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

/// A metric in the target's units with `places` decimals, in scientific notation where the
/// decimals would hide it or run to hundreds of digits (targets of 1e-9 or 1e200).
pub fn metric(x: f64, places: usize) -> String {
    if x != 0.0 && x.is_finite() && !(1e-3..1e9).contains(&x.abs()) {
        format!("{x:.places$e}")
    } else {
        format!("{x:.places$}")
    }
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

/// Serves the router `app` makes (inside the runtime, so that it may start tasks) on `host:port`
/// until Ctrl-C, with at most `blocking` threads for blocking work (a few threads, a few allocator
/// arenas); `banner` is what to print once listening, given the address.
pub fn serve_http(
    host: &str,
    port: u16,
    blocking: usize,
    banner: impl FnOnce(std::net::SocketAddr) -> String,
    app: impl FnOnce() -> axum::Router,
) -> anyhow::Result<()> {
    use anyhow::Context;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .max_blocking_threads(blocking)
        .enable_all()
        .build()
        .context("cannot start the runtime")?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind((host, port))
            .await
            .with_context(|| format!("cannot listen on {host}:{port}"))?;
        eprintln!("{}", banner(listener.local_addr()?));
        axum::serve(listener, app())
            .with_graceful_shutdown(async {
                let _ = tokio::signal::ctrl_c().await;
            })
            .await
            .context("the server stopped")
    })
}

#[cfg(test)]
mod tests {
    use super::metric;

    #[test]
    fn metrics_read_in_ordinary_and_extreme_units() {
        assert_eq!(metric(0.123456789, 4), "0.1235");
        assert_eq!(metric(1234.5, 4), "1234.5000");
        assert_eq!(metric(0.0, 6), "0.000000");
        assert_eq!(metric(5.0747e200, 4), "5.0747e200");
        assert_eq!(metric(2.5e-9, 6), "2.500000e-9");
        assert_eq!(metric(f64::INFINITY, 4), "inf");
    }
}
