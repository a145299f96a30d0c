//! A progress bar on stderr for long passes over a trace (indicatif).
//!
//! Shown only when stderr is a terminal and the trace is large enough for
//! the wait to be noticeable; otherwise (pipes, files, CI) it prints
//! nothing at all, and costs one counter increment per event.

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Below this many events a pass is quick: no progress bar.
const MIN_EVENTS: u64 = 2_000_000;
/// Events between updates of the bar (a power of two).
const UPDATE_EVERY: u64 = 1 << 16;

pub struct Progress {
    bar: Option<ProgressBar>,
    done: u64,
}

fn bar(label: &'static str, total: u64) -> Option<ProgressBar> {
    if total < MIN_EVENTS || !std::io::stderr().is_terminal() {
        return None;
    }
    let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
    let style = ProgressStyle::with_template(
        // The bar takes what the terminal's width leaves, so the line
        // never wraps.
        "{msg} [{wide_bar}] {percent:>3}% {human_pos}/{human_len} events",
    )
    .map(|s| s.progress_chars("#> "))
    .unwrap_or_else(|_| ProgressStyle::default_bar());
    bar.set_style(style);
    bar.set_message(label);
    Some(bar)
}

impl Progress {
    pub fn new(label: &'static str, total: u64) -> Progress {
        Progress {
            bar: bar(label, total),
            done: 0,
        }
    }

    /// Counts one event.
    #[inline]
    pub fn tick(&mut self) {
        self.done += 1;
        if self.done & (UPDATE_EVERY - 1) == 0 {
            if let Some(b) = &self.bar {
                b.set_position(self.done);
            }
        }
    }

    /// Erases the bar, if one was drawn.
    pub fn finish(&mut self) {
        if let Some(b) = self.bar.take() {
            b.finish_and_clear();
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.finish();
    }
}

/// Progress of a command made of several passes, each named: a new bar
/// per pass (`update(pass, done, total)` is called every 2^16 events).
pub struct Phases {
    current: Option<(&'static str, Progress)>,
}

impl Phases {
    pub fn new() -> Phases {
        Phases { current: None }
    }

    pub fn update(&mut self, phase: &'static str, done: u64, total: u64) {
        let same = matches!(&self.current, Some((p, _)) if *p == phase);
        if !same {
            self.current = Some((phase, Progress::new(phase, total)));
        }
        if let Some((_, p)) = &mut self.current {
            if let Some(b) = &p.bar {
                b.set_position(done);
            }
            if done >= total {
                p.finish();
            }
        }
    }
}
