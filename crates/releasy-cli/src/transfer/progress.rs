//! Progress for transfers: an indicatif bar (bytes, rate, time left) when standard
//! error is a terminal, plain lines when it is not (a summary line per transfer, plus a
//! start line and one per quarter for large ones), or nothing with `--quiet`.

use std::io::IsTerminal;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use indicatif::{HumanBytes, HumanDuration, ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::output::print_stderr;

/// How progress is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProgressMode {
    /// A live bar on a terminal.
    Bar,
    /// Plain lines, for CI logs and pipes.
    Lines,
    /// Nothing.
    Off,
}

impl ProgressMode {
    /// Off with `quiet`, a bar when standard error is a terminal, lines otherwise.
    pub fn detect(quiet: bool) -> Self {
        if quiet {
            Self::Off
        } else if std::io::stderr().is_terminal() {
            Self::Bar
        } else {
            Self::Lines
        }
    }
}

/// The progress of one transfer; clones share it.
#[derive(Debug, Clone)]
pub struct Progress {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    bar: Option<ProgressBar>,
    lines: bool,
    detailed: bool,
    label: String,
    total: u64,
    initial: u64,
    position: AtomicU64,
    quarters_reported: AtomicU64,
    started: Instant,
}

/// In line mode, transfers from this size on also get start and quarter lines.
const LINES_DETAIL_FROM: u64 = 4 * 1024 * 1024;

const BAR_TEMPLATE: &str =
    "{msg} [{bar:30}] {bytes}/{total_bytes} {binary_bytes_per_sec} ETA {eta}";

impl Progress {
    /// Starts showing `label` (such as `upload app.tar.gz`) for `total` bytes, of which
    /// `initial` are already done (a resumed download).
    pub fn start(mode: ProgressMode, label: impl Into<String>, total: u64, initial: u64) -> Self {
        let label = label.into();
        let bar = (mode == ProgressMode::Bar).then(|| {
            let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
            let style = ProgressStyle::with_template(BAR_TEMPLATE)
                .map(|s| s.progress_chars("=> "))
                .unwrap_or_else(|_| ProgressStyle::default_bar());
            bar.set_style(style);
            bar.set_message(label.clone());
            bar.set_position(initial);
            bar.reset_eta();
            bar
        });
        let lines = mode == ProgressMode::Lines;
        let detailed = lines && total >= LINES_DETAIL_FROM;
        if detailed {
            if initial > 0 {
                print_stderr(&format!(
                    "{label}: {} of {} already here, continuing",
                    HumanBytes(initial),
                    HumanBytes(total)
                ));
            } else {
                print_stderr(&format!("{label}: {}", HumanBytes(total)));
            }
        }
        Self {
            inner: Arc::new(Inner {
                bar,
                lines,
                detailed,
                label,
                total,
                initial,
                position: AtomicU64::new(initial),
                quarters_reported: AtomicU64::new(initial.saturating_mul(4) / total.max(1)),
                started: Instant::now(),
            }),
        }
    }

    /// `n` more bytes are done.
    pub fn advance(&self, n: u64) {
        let inner = &self.inner;
        let position = inner.position.fetch_add(n, Ordering::Relaxed) + n;
        if let Some(bar) = &inner.bar {
            bar.set_position(position);
        }
        if inner.detailed && inner.total > 0 {
            let quarters = position.saturating_mul(4) / inner.total;
            let reported = inner.quarters_reported.load(Ordering::Relaxed);
            if (1..4).contains(&quarters)
                && quarters > reported
                && inner
                    .quarters_reported
                    .compare_exchange(reported, quarters, Ordering::Relaxed, Ordering::Relaxed)
                    .is_ok()
            {
                print_stderr(&format!(
                    "{}: {}% ({} of {})",
                    inner.label,
                    quarters * 25,
                    HumanBytes(position),
                    HumanBytes(inner.total)
                ));
            }
        }
    }

    /// `n` bytes counted done are not (a failed request's, to be sent again).
    pub fn retract(&self, n: u64) {
        let inner = &self.inner;
        let before = inner
            .position
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |p| {
                Some(p.saturating_sub(n))
            })
            .unwrap_or_default();
        if let Some(bar) = &inner.bar {
            bar.set_position(before.saturating_sub(n));
        }
    }

    /// Prints `message` on its own line (above the bar, which stays), unless progress
    /// is off.
    pub fn note(&self, message: &str) {
        let inner = &self.inner;
        match &inner.bar {
            Some(bar) => bar.println(format!("{}: {message}", inner.label)),
            None if inner.lines => print_stderr(&format!("{}: {message}", inner.label)),
            None => {}
        }
    }

    /// The transfer is complete: clears the bar and prints one summary line.
    pub fn finish(&self) {
        let inner = &self.inner;
        if let Some(bar) = &inner.bar {
            bar.finish_and_clear();
        }
        if inner.bar.is_some() || inner.lines {
            let elapsed = inner.started.elapsed();
            let moved = inner
                .position
                .load(Ordering::Relaxed)
                .saturating_sub(inner.initial);
            let rate = moved as f64 / elapsed.as_secs_f64().max(0.001);
            print_stderr(&format!(
                "{}: done, {} in {} ({}/s)",
                inner.label,
                HumanBytes(moved),
                HumanDuration(elapsed),
                HumanBytes(rate as u64)
            ));
        }
    }

    /// The transfer failed: stops the bar where it is.
    pub fn abandon(&self) {
        if let Some(bar) = &self.inner.bar {
            bar.abandon();
        }
    }
}
