//! A progress line on stderr for long passes over a trace.
//!
//! Shown only when stderr is a terminal and the trace is large enough for
//! the wait to be noticeable; otherwise (pipes, files, CI) it prints
//! nothing at all.

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

/// Below this many events a pass is quick: no progress line.
const MIN_EVENTS: u64 = 2_000_000;
/// Events between clock checks (a power of two).
const CHECK_EVERY: u64 = 1 << 16;
const REDRAW: Duration = Duration::from_millis(200);

pub struct Progress {
    label: &'static str,
    total: u64,
    done: u64,
    enabled: bool,
    drawn: bool,
    last: Instant,
}

impl Progress {
    pub fn new(label: &'static str, total: u64) -> Progress {
        Progress {
            label,
            total,
            done: 0,
            enabled: total >= MIN_EVENTS && std::io::stderr().is_terminal(),
            drawn: false,
            last: Instant::now(),
        }
    }

    /// Counts one event.
    #[inline]
    pub fn tick(&mut self) {
        self.done += 1;
        if self.enabled && self.done & (CHECK_EVERY - 1) == 0 {
            self.draw();
        }
    }

    fn draw(&mut self) {
        if self.last.elapsed() < REDRAW {
            return;
        }
        self.last = Instant::now();
        let pct = self.done.saturating_mul(100) / self.total.max(1);
        let width = 30usize;
        let filled = (pct.min(100) as usize * width) / 100;
        let mut err = std::io::stderr().lock();
        let _ = write!(
            err,
            "\r{} [{}{}] {:>3}% {}/{} events",
            self.label,
            "#".repeat(filled),
            " ".repeat(width - filled),
            pct.min(100),
            self.done,
            self.total
        );
        let _ = err.flush();
        self.drawn = true;
    }

    /// Erases the progress line, if one was drawn.
    pub fn finish(&mut self) {
        if self.drawn {
            let mut err = std::io::stderr().lock();
            let _ = write!(err, "\r\x1b[2K");
            let _ = err.flush();
            self.drawn = false;
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.finish();
    }
}
