//! The `neuralnet` command: parses arguments, calls the library, prints. Errors end as one line.

#![deny(unsafe_code)]

mod cli;

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    // Rust ignores SIGPIPE, turning a closed pipe into a panic on the next print; a command-line
    // tool should just stop, as `cat` does.
    #[cfg(unix)]
    #[allow(unsafe_code)]
    // SAFETY: called before any other thread exists; SIG_DFL is a valid disposition for SIGPIPE.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    std::panic::set_hook(Box::new(|info| {
        eprintln!("internal error (a bug in neuralnet, please report it): {info}");
    }));
    let args = cli::Cli::parse();
    match cli::run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", one_line(&e));
            ExitCode::from(1)
        }
    }
}

/// The error and its causes on one line, `a: b: c`, leaving out a cause the line already ends
/// with (an I/O error's message names its cause, which is also its source).
fn one_line(e: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if line.is_empty() {
            line = text;
        } else if !line.ends_with(&text) {
            line = format!("{line}: {text}");
        }
    }
    line
}
