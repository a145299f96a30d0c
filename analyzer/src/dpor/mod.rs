//! Dynamic partial-order reduction: run every meaningfully different
//! interleaving of a program exactly once.
//!
//! Two executions are *equivalent* (the same Mazurkiewicz trace) when one
//! can be turned into the other by swapping adjacent independent events
//! ([`dependent`] says which are not). The [`Explorer`] implements optimal
//! DPOR (Abdulla, Aronis, Jonsson, Sagonas, POPL 2014 / JACM 2017): from
//! each finished execution, every reversible race gives a sequence of events
//! that reverses it; sequences are kept in *wakeup trees* at the scheduling
//! point where they diverge, and with *sleep sets* (what is explored already
//! from a point) each equivalence class is run exactly once, with no
//! execution wasted on a class seen before.
//!
//! # Driving the engine (a scheduler, or a simulated program)
//!
//! ```text
//! let mut dpor = Explorer::new(DporConfig::default());
//! while dpor.begin_execution() {
//!     reset the program to its initial state;
//!     loop {
//!         enabled = actors able to run, each with its next operation;
//!         if enabled is empty { break }          // finished, or deadlock
//!         match dpor.choose(&enabled) {
//!             Some(actor) => { run actor up to its next scheduling point;
//!                              dpor.executed(&event_it_performed, &tables) }
//!             None => { stop the program; break } // redundant execution
//!         }
//!     }
//!     dpor.end_execution(&blocked_actors_pending_ops);
//! }
//! ```
//!
//! - Every visible operation is a scheduling point; the schedule is the
//!   actor chosen at each ([`Explorer::schedule`], an `rts1:` schedule).
//! - **Blocking**: the scheduler only offers enabled actors. A race whose
//!   reversal would run an operation before the one that enables it (a
//!   release before its acquire, a join before the exit, a wait before the
//!   only set) is not reversed; lock acquires race with the previous acquire
//!   of the lock instead, so both orders of two critical sections are run.
//! - **Deadlock**: an execution where actors remain but none is enabled is
//!   complete. Pass the blocked actors' pending operations to
//!   `end_execution`: they race like events appended at the end (that is
//!   how the other lock order of a lock-order inversion is found).
//! - **Dynamic actors**: actors created during an execution are numbered by
//!   creation order along the schedule, so a replayed prefix gives the same
//!   ids. Creations (`Spawn`, `TaskCreate`) are mutually dependent — the
//!   order of two creations decides which child gets which id.
//! - **Atomic steps** ([`Explorer::executed_step`]): a step of several
//!   events that no other actor can come between (an asyncio task from one
//!   suspension point to the next) is chosen once and reported whole; it
//!   is one transition whose footprint is the union of its events', and a
//!   step that a waiting actor could take only once another step readied
//!   it (set the future it awaited) is ordered after that *waker*, never
//!   before. The schedule repeats the step's actor once per event.
//! - **Preemption bound** ([`DporConfig::preemption_bound`]): limits
//!   switches away from an actor that could go on. With a bound the result
//!   is *not* exhaustive over all classes.
//! - Ids of keys, objects and actors must denote the same things in every
//!   execution of one exploration (intern them for the whole exploration;
//!   number objects by who created them rather than by first sight).
//!
//! Offline, [`backtrack_points`] computes the same race reversals for a
//! recorded trace, as schedule prefixes.
//!
//! A complete driver for two actors that each write one key (two classes:
//! either write first):
//!
//! ```
//! use racetrace_analyzer::dpor::{DporConfig, Explorer};
//! use racetrace_formats::{ActorId, Event, EventKind, LocId, Tables};
//!
//! let op = |actor: u32, step: usize| Event {
//!     actor: ActorId(actor),
//!     kind: if step == 0 { EventKind::Write } else { EventKind::ActorExit },
//!     loc: LocId(0),
//!     target: if step == 0 { 0 } else { actor },
//!     aux: 0,
//! };
//! let tables = Tables::default();
//! let mut dpor = Explorer::new(DporConfig::default());
//! let mut schedules = Vec::new();
//! while dpor.begin_execution() {
//!     let mut pc = [0usize; 2]; // each actor: its write, then its exit
//!     loop {
//!         let enabled: Vec<Event> =
//!             (0..2).filter(|&a| pc[a] < 2).map(|a| op(a as u32, pc[a])).collect();
//!         if enabled.is_empty() {
//!             break;
//!         }
//!         let a = dpor.choose(&enabled).expect("never redundant without a bound");
//!         dpor.executed(&op(a.0, pc[a.index()]), &tables);
//!         pc[a.index()] += 1;
//!     }
//!     dpor.end_execution(&[]);
//!     schedules.push(dpor.schedule().to_text());
//! }
//! assert_eq!(schedules, ["rts1:0*2,1*2", "rts1:1*2,0*2"]);
//! assert_eq!(dpor.stats().executions, 2);
//! assert_eq!(dpor.stats().sleep_blocked, 0);
//! ```

mod backtrack;
mod execution;
mod explorer;
mod footprint;
mod op;
mod wakeup;

pub use backtrack::{backtrack_points, Backtrack};
pub use explorer::{DporConfig, Explorer, PendingOp, Stats};
pub use op::{dependent, only_gives_up, Op, TIMEOUT_STEP};
