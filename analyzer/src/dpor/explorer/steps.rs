//! Atomic steps: a step of several events that no other actor can come
//! between (an asyncio task runs from one suspension point to the next
//! while the other tasks of its loop wait). The scheduler chooses once for
//! the whole step and reports its events together; DPOR treats the step as
//! one transition whose footprint is the union of its events' (see
//! `footprint`), so each class of step orders is run once.
//!
//! A task that waits (on a future, a lock, another task) is simply not
//! ready; the step that readied it (set the future's result, released the
//! lock) is its *waker*. The step cannot go before its waker: the explorer
//! orders it after the waker and never reverses that pair.

use racetrace_formats::{Event, Tables};

use super::{Explorer, Phase};
use crate::dpor::execution::WAKE_ALL;
use crate::dpor::footprint::dependent_in;
use crate::dpor::op::{Op, NONE};

impl Explorer {
    /// Added to the `woken_by` of a step that could only come after every
    /// step up to its waker, not only after the waker (a task woken by a
    /// timer, which fires only once no task is ready).
    pub const AFTER_ALL: usize = 1 << 31;

    /// Reports the atomic step the chosen actor took: `events` in order
    /// (at least one, all of that actor). `woken_by`: the index (among the
    /// steps of this execution, from 0) of the step that made this one
    /// ready, if it waited (plus [`Explorer::AFTER_ALL`] when every step up
    /// to that one must precede it). The schedule repeats the actor once
    /// per event.
    pub fn executed_step(&mut self, events: &[Event], woken_by: Option<usize>, tables: &Tables) {
        assert_eq!(self.phase, Phase::Running, "executed outside an execution");
        assert!(!events.is_empty(), "a step has at least one event");
        let k = self.step;
        debug_assert!(events.iter().all(|e| e.actor.0 == self.points[k].actor));
        let wake = match woken_by {
            Some(w) if (w & !Self::AFTER_ALL) < k => w as u32,
            _ => NONE,
        };
        debug_assert_eq!(Self::AFTER_ALL as u32, WAKE_ALL);
        self.atomic = true;
        let op = self.exec.push_step(events, tables, wake);
        self.after_step(k, op, events.len() as u32);
    }

    /// Reports one event of the chosen actor that an earlier step made
    /// ready (`woken_by`, as for [`Explorer::executed_step`]): the event
    /// that begins an asyncio task's step when the steps are split into
    /// their events (a thread may come between them).
    pub fn executed_woken(&mut self, ev: &Event, woken_by: Option<usize>, tables: &Tables) {
        assert_eq!(self.phase, Phase::Running, "executed outside an execution");
        let k = self.step;
        debug_assert_eq!(ev.actor.0, self.points[k].actor);
        let wake = match woken_by {
            Some(w) if (w & !Self::AFTER_ALL) < k => w as u32,
            _ => NONE,
        };
        let op = self.exec.push_woken(ev, tables, wake);
        self.after_step(k, op, 1);
    }

    /// After step `k` (footprint `op`, `events` events) was pushed: checks
    /// a replayed step, and prepares the next point's sleep set.
    pub(super) fn after_step(&mut self, k: usize, op: Op, events: u32) {
        self.step += 1;
        self.points[k].events = events;
        if k < self.branch {
            // A replayed step must do what it did before (its footprint is
            // kept among the point's explored alternatives).
            let same = self.points[k]
                .sleep
                .iter()
                .rev()
                .find(|s| s.actor == op.actor)
                .is_some_and(|s| *s == op);
            if !same {
                self.stats.diverged += 1;
            }
            return;
        }
        // The footprint of what was explored here is now known exactly.
        let p = &mut self.points[k];
        if let Some(last) = p.sleep.last_mut() {
            if last.actor == op.actor {
                *last = op;
            }
        }
        // Sleep set of the next point: the sleepers (and explored
        // alternatives) this event does not wake.
        let k1 = k + 1;
        if k1 >= self.points.len() {
            self.points.push(super::Point::default());
        }
        let fp = &self.exec.fp;
        let (lo, hi) = self.points.split_at_mut(k1);
        let next = &mut hi[0];
        next.sleep.clear();
        next.wut = NONE;
        next.sleep.extend(
            lo[k]
                .sleep
                .iter()
                .filter(|s| s.actor != op.actor && !dependent_in(fp, s, &op))
                .copied(),
        );
        super::split::inherit_untrusted(&lo[k], next);
    }
}
