//! How a run shows itself: a progress bar or a line per epoch, the metrics log, and Ctrl-C (finish
//! the batch, write a checkpoint, stop).

use super::super::common::{quiet, say};
use anyhow::{Context, Result};
use indicatif::{ProgressBar, ProgressStyle};
use neuralnet::{EpochReport, Progress};
use std::io::{IsTerminal, Write};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

/// Set by the first Ctrl-C: finish the batch, write a checkpoint, stop.
static STOP: AtomicBool = AtomicBool::new(false);

pub(super) fn install_interrupt_handler() {
    let _ = ctrlc::set_handler(|| {
        if STOP.swap(true, Ordering::SeqCst) {
            eprintln!("\nsecond interrupt: exiting now");
            std::process::exit(130);
        }
        say!("\ninterrupt: finishing the current batch, then writing a checkpoint (Ctrl-C again quits at once)");
    });
}

/// A progress bar per epoch on a terminal, one plain line per epoch otherwise; metrics to a file.
pub(super) struct CliProgress {
    bar: Option<ProgressBar>,
    epochs: usize,
    /// The metrics log and its path.
    metrics: Option<(std::fs::File, std::path::PathBuf)>,
    /// Asked once: a system call per batch shows in runs with tiny batches.
    terminal: bool,
}

impl CliProgress {
    pub(super) fn new(epochs: usize, metrics: Option<&Path>, append: bool) -> Result<Self> {
        let metrics = match metrics {
            Some(p) => {
                let file =
                    std::fs::OpenOptions::new().create(true).write(true).append(append).truncate(!append).open(p);
                Some((file.with_context(|| format!("cannot create metrics file {}", p.display()))?, p.to_path_buf()))
            }
            None => None,
        };
        Ok(Self { bar: None, epochs, metrics, terminal: std::io::stderr().is_terminal() && !quiet() })
    }

    pub(super) fn finish(&mut self) {
        if let Some(b) = self.bar.take() {
            b.finish_and_clear();
        }
    }
}

impl Progress for CliProgress {
    fn should_stop(&mut self) -> bool {
        STOP.load(Ordering::SeqCst)
    }

    fn batch(&mut self, epoch: usize, done: usize, total: usize, loss: f64) {
        if !self.terminal {
            return;
        }
        let bar = self.bar.get_or_insert_with(|| {
            let b = ProgressBar::new(total as u64);
            b.set_style(
                ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} {msg} {per_sec}")
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("=> "),
            );
            b
        });
        if done == 1 {
            bar.reset();
            bar.set_length(total as u64);
            bar.set_prefix(format!("epoch {epoch}/{}", self.epochs));
        }
        if done.is_multiple_of(20) || done == total {
            bar.set_message(format!("loss {loss:.4}"));
            bar.set_position(done as u64);
        }
    }

    fn epoch(&mut self, r: &EpochReport) {
        let mut line = format!("epoch {}/{}: train loss {:.4}", r.epoch, self.epochs, r.train_loss);
        if let Some(a) = r.train_accuracy {
            line += &format!(" acc {:.2}%", a * 100.0);
        }
        if let Some(l) = r.val_loss {
            line += &format!(" | val loss {l:.4}");
        }
        if let Some(a) = r.val_accuracy {
            line += &format!(" acc {:.2}%", a * 100.0);
        }
        line += &format!(" | lr {:.3e} | {:.2} s", r.lr, r.seconds);
        if let Some(c) = r.comm_seconds {
            line += &format!(" ({c:.2} s summing gradients)");
        }
        line += &format!(", {:.0} img/s", r.samples_per_sec);
        match &self.bar {
            Some(b) => b.println(line),
            None => say!("{line}"),
        }
        if let Some((f, path)) = &mut self.metrics
            && let Ok(json) = serde_json::to_string(r)
            && let Err(e) = writeln!(f, "{json}").and_then(|()| f.flush())
        {
            // Training goes on (the model is what the run is for), but not silently without its log.
            eprintln!("warning: cannot write the metrics file {} ({e}); no more metrics are written", path.display());
            self.metrics = None;
        }
    }
}
