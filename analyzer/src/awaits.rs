//! Atomicity violations across an `await`, between the asyncio tasks of
//! one event loop.
//!
//! A task's code between two suspension points runs whole: no other task
//! of its loop can come between (the happens-before tracker orders the
//! loop's steps one after the other, so tasks never race in the data-race
//! sense). What can go wrong is a task that reads a key, suspends at an
//! `await`, and writes the key in a later step after another task wrote it
//! meanwhile: the check and the act were split by the await (a lost
//! update, a check-then-act). Reported with the read, the await it resumed
//! from, the other task's write in between, and the write; code with no
//! await between its read and its write is never reported.
//!
//! One pass in trace order; memory per task, per (task, key) read and per
//! key, never per event (but one location per step of each task, to name
//! the await).

use std::collections::HashMap;

use racetrace_formats::{ActorId, ActorKind, Event, EventKind, KeyId, LocId, Tables};
use serde::Serialize;

#[derive(Clone, Copy)]
struct Read {
    step: u32,
    index: u64,
    loc: LocId,
}

#[derive(Clone, Copy)]
struct Write {
    index: u64,
    actor: ActorId,
    loc: LocId,
}

/// Finds [`AwaitViolation`]s, push-style (see the module docs).
#[derive(Default)]
pub struct AwaitChecker {
    is_task: Vec<bool>,
    /// Per task: where each of its steps began (the `await` it resumed
    /// from), by step number.
    switches: Vec<Vec<LocId>>,
    reads: HashMap<(u32, u32), Read>,
    writes: HashMap<u32, Write>,
    found: Vec<Found>,
    seen: HashMap<(LocId, LocId, LocId), usize>,
}

/// A violation as found (rendered by `finish`).
struct Found {
    key: u32,
    actor: ActorId,
    read: Read,
    split: LocId,
    other: Write,
    write_index: u64,
    write_loc: LocId,
    occurrences: u64,
}

/// One atomicity violation across an await (see the module docs).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AwaitViolation {
    pub key: KeyId,
    pub key_name: String,
    /// The task whose check and act were split.
    pub actor_name: String,
    pub read_event: u64,
    pub read_location: String,
    /// Where the task resumed after the read (the `await` that split it).
    pub await_location: String,
    pub other_name: String,
    pub other_event: u64,
    pub other_location: String,
    pub write_event: u64,
    pub write_location: String,
    /// Times this (read, write, other write) location triple was seen.
    pub occurrences: u64,
}

impl AwaitChecker {
    pub fn new(tables: &Tables) -> Self {
        AwaitChecker {
            is_task: tables
                .actors
                .iter()
                .map(|a| a.kind == ActorKind::Task)
                .collect(),
            ..AwaitChecker::default()
        }
    }

    #[inline]
    fn task(&self, a: ActorId) -> bool {
        self.is_task.get(a.index()).copied().unwrap_or(false)
    }

    /// The next event of the trace, at `index`.
    pub fn on_event(&mut self, index: u64, ev: &Event) {
        if !self.task(ev.actor) {
            return;
        }
        let a = ev.actor.index();
        if self.switches.len() <= a {
            self.switches.resize_with(a + 1, Vec::new);
        }
        match ev.kind {
            EventKind::TaskSwitch => self.switches[a].push(ev.loc),
            EventKind::Read | EventKind::IoRead => {
                let step = self.switches[a].len() as u32;
                self.reads.insert(
                    (ev.actor.0, ev.target),
                    Read {
                        step,
                        index,
                        loc: ev.loc,
                    },
                );
            }
            EventKind::Write | EventKind::IoWrite => {
                let step = self.switches[a].len() as u32;
                let key = ev.target;
                if let (Some(r), Some(w)) =
                    (self.reads.get(&(ev.actor.0, key)), self.writes.get(&key))
                {
                    if r.step < step
                        && w.index > r.index
                        && w.actor != ev.actor
                        && self.task(w.actor)
                    {
                        let (r, w) = (*r, *w);
                        let split = self.switches[a]
                            .get(r.step as usize)
                            .copied()
                            .unwrap_or(ev.loc);
                        self.report(ev, index, key, r, split, w);
                    }
                }
                self.writes.insert(
                    key,
                    Write {
                        index,
                        actor: ev.actor,
                        loc: ev.loc,
                    },
                );
            }
            _ => {}
        }
    }

    fn report(&mut self, ev: &Event, index: u64, key: u32, r: Read, split: LocId, w: Write) {
        let triple = (r.loc, ev.loc, w.loc);
        if let Some(&i) = self.seen.get(&triple) {
            self.found[i].occurrences += 1;
            return;
        }
        self.seen.insert(triple, self.found.len());
        self.found.push(Found {
            key,
            actor: ev.actor,
            read: r,
            split,
            other: w,
            write_index: index,
            write_loc: ev.loc,
            occurrences: 1,
        });
    }

    /// The violations found, in order of first detection, with names
    /// resolved from `tables`.
    pub fn finish(&self, tables: &Tables) -> Vec<AwaitViolation> {
        self.found
            .iter()
            .map(|f| AwaitViolation {
                key: KeyId(f.key),
                key_name: tables.key_display(KeyId(f.key)),
                actor_name: tables.actor_display(f.actor),
                read_event: f.read.index,
                read_location: tables.loc_display(f.read.loc),
                await_location: tables.loc_display(f.split),
                other_name: tables.actor_display(f.other.actor),
                other_event: f.other.index,
                other_location: tables.loc_display(f.other.loc),
                write_event: f.write_index,
                write_location: tables.loc_display(f.write_loc),
                occurrences: f.occurrences,
            })
            .collect()
    }
}
