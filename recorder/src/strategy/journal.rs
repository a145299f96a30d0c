//! The schedule journal of a worker process (`racetrace_formats::journal`):
//! while one is open, every controlled run's strategy is wrapped so that
//! each step chosen is written to it before the actor takes it. A worker
//! that crashes in the middle of an execution thus leaves the schedule
//! that crashed for the process that started it.

use std::path::Path;
use std::sync::Mutex;

use racetrace_formats::journal::ScheduleJournal;
use racetrace_formats::Event;

use super::{Choice, Decision, Scheduler};

static JOURNAL: Mutex<Option<ScheduleJournal>> = Mutex::new(None);

fn journal() -> std::sync::MutexGuard<'static, Option<ScheduleJournal>> {
    JOURNAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// Opens the journal of this process (replacing any), with room for
/// `capacity` steps.
pub fn open(path: &Path, capacity: usize) -> std::io::Result<()> {
    *journal() = Some(ScheduleJournal::create(path, capacity)?);
    Ok(())
}

/// `strategy`, journaled when a journal is open.
pub fn wrap(strategy: Box<dyn Scheduler>) -> Box<dyn Scheduler> {
    if journal().is_some() {
        Box::new(Journaled(strategy))
    } else {
        strategy
    }
}

struct Journaled(Box<dyn Scheduler>);

impl Scheduler for Journaled {
    fn new_execution(&mut self) {
        if let Some(j) = journal().as_mut() {
            j.begin_execution();
        }
        self.0.new_execution()
    }
    fn next(&mut self, d: &Decision<'_>) -> Choice {
        let c = self.0.next(d);
        if let Choice::Actor(a) = c {
            if let Some(j) = journal().as_mut() {
                j.set(d.step, a);
            }
        }
        c
    }
    fn executed(&mut self, ev: &Event) {
        self.0.executed(ev)
    }
    fn end_execution(&mut self, blocked: &[Event]) {
        self.0.end_execution(blocked)
    }
    fn name(&self) -> &'static str {
        self.0.name()
    }
}
